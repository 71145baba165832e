"""Avalanche adapters for the itgan_replay core.

Importing this package silences qpsolvers' start-up warning (Avalanche imports qpsolvers) and
``EvaluationPlugin``'s "No loggers specified" (benchmarks and tests build strategies without
loggers; the main job always passes its own). docs/design.md, "Library warnings", lists every known
harmless warning and where it is silenced.
"""
import warnings

warnings.filterwarnings("ignore", message="no QP solver found")
warnings.filterwarnings("ignore", message="No loggers specified, metrics will not be logged")

from .itgan_plugin import ITGANReplayConfig, ITGANReplayPlugin  # noqa: E402
from .replay import BufferReplayPlugin  # noqa: E402
from .scenario import class_incremental_stream, seeded_class_order  # noqa: E402

__all__ = ["BufferReplayPlugin", "ITGANReplayConfig", "ITGANReplayPlugin", "class_incremental_stream", "seeded_class_order"]

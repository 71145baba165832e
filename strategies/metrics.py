"""An Avalanche metric for what a replay method stores."""
from __future__ import annotations

from avalanche.evaluation import PluginMetric
from avalanche.evaluation.metric_results import MetricValue
from avalanche.evaluation.metric_utils import stream_type

from .methods import memory_use


class StoredBytes(PluginMetric[int]):
    """Bytes held by the strategy's replay memory (generator included), logged after every evaluation
    as ``StoredBytes/eval_phase/<stream>``."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = 0

    def reset(self) -> None:
        self._bytes = 0

    def result(self) -> int:
        return self._bytes

    def after_eval(self, strategy) -> list[MetricValue]:
        self._bytes = memory_use(strategy.plugins).stored_bytes
        name = f"StoredBytes/eval_phase/{stream_type(strategy.experience)}_stream"
        return [MetricValue(self, name, self._bytes, strategy.clock.train_iterations)]

    def __str__(self) -> str:
        return "StoredBytes"

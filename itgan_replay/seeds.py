"""Numbers over seeds, reported the same way in every results file."""
from __future__ import annotations

import statistics
from collections.abc import Sequence


def over_seeds(values: Sequence[float]) -> dict:
    """``values`` (one per seed) as ``per_seed``, with their ``mean`` and sample standard deviation ``std``
    (0 for one value).

    Raises:
        ValueError: no values.
    """
    values = list(values)
    if not values:
        raise ValueError("over_seeds needs at least one value")
    return {"per_seed": values, "mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}

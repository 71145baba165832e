"""Continual-learning metrics from an accuracy matrix ``acc[i][j]``: accuracy on
experience ``j`` after training on experience ``i`` (j <= i are the seen ones)."""
from __future__ import annotations


def average_accuracy(acc: list[list[float]], i: int) -> float:
    """Mean accuracy over the experiences seen up to and including ``i``."""
    return sum(acc[i][: i + 1]) / (i + 1)


def forgetting(acc: list[list[float]], i: int, j: int) -> float:
    """How much accuracy on experience ``j`` dropped from its best before ``i`` to ``i`` (j < i)."""
    return max(acc[k][j] for k in range(j, i)) - acc[i][j]


def average_forgetting(acc: list[list[float]], i: int) -> float:
    """Mean forgetting at ``i`` over the experiences before it (0 after the first)."""
    return sum(forgetting(acc, i, j) for j in range(i)) / i if i else 0.0

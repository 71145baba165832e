"""Avalanche's ReplayPlugin without its deprecated storage-policy call."""
from __future__ import annotations

from avalanche.training.plugins import ReplayPlugin


class BufferReplayPlugin(ReplayPlugin):
    """Avalanche's ``ReplayPlugin``, updating its storage policy with ``post_adapt``.

    Avalanche 0.6's ``ReplayPlugin`` calls the policy's deprecated ``update``, which only forwards to
    ``post_adapt`` and emits a DeprecationWarning after resetting the warning filters (so no filter
    can silence it); this calls ``post_adapt`` itself. Everything else is the stock plugin.
    """

    def after_training_exp(self, strategy, **kwargs) -> None:
        self.storage_policy.post_adapt(strategy, strategy.experience)

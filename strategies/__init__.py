"""Avalanche adapters for the itgan_replay core."""
from .itgan_plugin import ITGANReplayConfig, ITGANReplayPlugin

__all__ = ["ITGANReplayConfig", "ITGANReplayPlugin"]

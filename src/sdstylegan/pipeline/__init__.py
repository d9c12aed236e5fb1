"""Stage runner: runs `pipeline.stages` in order, skipping stages whose outputs match their config."""

from sdstylegan.pipeline.context import StageContext, StageNotBuiltError

__all__ = ["StageContext", "StageNotBuiltError"]

"""Run a distill stage once under DDP: rank 0 works, the other ranks wait and receive its outputs.

The pipeline runs every stage in every process. After a Lightning DDP `train_raw`/`train` the default
process group is still initialised, so self_filter and cluster would otherwise score and cluster N times
and write the same files N times. With a group of world size > 1, rank 0 runs the stage and broadcasts its
outputs (or its error, so the other ranks fail with it instead of hanging); without one, the stage runs
in this process as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.distributed as dist

from sdstylegan.pipeline.context import StageContext


class RankZeroStageError(RuntimeError):
    """The stage failed on rank 0; raised on the other ranks with rank 0's message."""


def on_rank_zero(fn: Callable[[StageContext], dict[str, Any]], ctx: StageContext) -> dict[str, Any]:
    """`fn(ctx)` on rank 0 only (when a process group of size > 1 exists); every rank returns its outputs."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return fn(ctx)
    box: list[Any] = [None]
    error: BaseException | None = None
    if dist.get_rank() == 0:
        try:
            box[0] = {"outputs": fn(ctx)}
        except BaseException as e:  # tell the waiting ranks, then fail here with the original error
            error = e
            box[0] = {"error": f"{type(e).__name__}: {e}"}
    dist.broadcast_object_list(box, src=0)
    if error is not None:
        raise error
    if "error" in box[0]:
        raise RankZeroStageError(f"stage '{ctx.name}' failed on rank 0: {box[0]['error']}")
    return box[0]["outputs"]

"""The one place that decides which processes run a stage (registry key `ranks`).

`ranks: all` — every process runs the stage (training and crop: Lightning coordinates them).
`ranks: zero` — rank 0 runs it and the other ranks receive its outputs: through the process group when
one exists (after a Lightning DDP stage it stays initialised), else — several tasks started by srun or
torchrun before any group exists — by waiting for rank 0's `done.json` (or `failed.json`) in the stage
folder, which the shared file system carries. A failure on rank 0 reaches every rank as an error, so
none is left waiting. Without several processes the stage simply runs here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch.distributed as dist

from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import read_json
from sdstylegan.utils.logging import get_logger, global_rank

log = get_logger(__name__)

POLICIES = ("zero", "all")
FAILED = "failed.json"


class RankZeroStageError(RuntimeError):
    """The stage failed on rank 0; raised on the other ranks with rank 0's message."""


def process_group() -> bool:
    """A torch.distributed process group of more than one process exists."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def launched_world_size() -> int:
    """How many processes the launcher started (torchrun's WORLD_SIZE, srun's SLURM_NTASKS), 1 if none."""
    for key in ("WORLD_SIZE", "SLURM_NTASKS"):
        try:
            return max(1, int(os.environ[key]))
        except (KeyError, ValueError):
            continue
    return 1


def on_rank_zero(fn: Callable[[StageContext], Any], ctx: StageContext) -> Any:
    """`fn(ctx)` on rank 0 only when a process group exists; every rank returns rank 0's result."""
    if not process_group():
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


def agree(value: Any) -> Any:
    """Rank 0's `value` on every rank (through the process group; unchanged without one)."""
    if not process_group():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def waits_for_rank_zero(policy: str) -> bool:
    """This process must not run a `zero` stage itself but wait for rank 0's record of it on disk."""
    return policy == "zero" and not process_group() and launched_world_size() > 1 and global_rank() != 0


def wait_for_record(
    stage_dir: Path, fingerprint: str, timeout_s: float, not_before: float = 0.0, poll_s: float = 0.5
) -> dict[str, Any]:
    """Rank 0's `done.json` for this fingerprint, once it appears; its `failed.json` raises; so does a timeout.

    Records written before `not_before` (a clock time) are an earlier attempt's (e.g. a forced stage's
    previous run, with the same fingerprint) and are not taken.
    """
    deadline = time.monotonic() + timeout_s
    log.info("rank %d: waiting for rank 0 to finish %s", global_rank(), stage_dir.name)
    while True:
        for name in ("done.json", FAILED):
            path = stage_dir / name
            try:
                record = read_json(path)
            except (FileNotFoundError, ValueError):  # not there yet (written atomically: never half)
                continue
            if record.get("fingerprint") != fingerprint or float(record.get("time", 0)) < not_before:
                continue  # an earlier attempt's record
            if name == FAILED:
                raise RankZeroStageError(f"stage '{stage_dir.name}' failed on rank 0: {record.get('error')}")
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"rank {global_rank()}: rank 0 did not finish stage '{stage_dir.name}' within {timeout_s:.0f} s "
                f"(pipeline.rank_wait_hours); is rank 0 alive and {stage_dir} on a shared file system?"
            )
        time.sleep(poll_s)

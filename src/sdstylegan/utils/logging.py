"""One logger per module; only global rank zero speaks at INFO under DDP."""

from __future__ import annotations

import logging
import os


def global_rank() -> int:
    """Rank of this process as set by torchrun/Lightning/SLURM launchers (0 when not distributed)."""
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if key in os.environ:
            try:
                return int(os.environ[key])
            except ValueError:
                continue
    return 0


def get_logger(name: str) -> logging.Logger:
    """Module logger; on ranks other than zero it only reports warnings and errors."""
    log = logging.getLogger(name)
    if global_rank() != 0:
        log.setLevel(logging.WARNING)
    return log

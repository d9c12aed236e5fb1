"""What a stage receives: the config, its own folder, and the outputs of the stages before it.

A stage is a function `run(ctx: StageContext) -> dict` listed in `pipeline.registry`; the dict it
returns (paths relative to the run directory, counts, …) is stored in its `done.json` and handed
to later stages as `ctx.inputs[<stage>]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig


class StageNotBuiltError(RuntimeError):
    """A stage named in `pipeline.stages` has no implementation in this version."""


class MissingInputError(RuntimeError):
    """A stage needs the output of an earlier stage that this run neither ran nor found."""


@dataclass
class StageContext:
    name: str
    cfg: DictConfig
    run_dir: Path
    stage_dir: Path
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    resume: bool = False  # True when an unfinished attempt with the same fingerprint left files here

    def path(self, relative: str | Path) -> Path:
        """Resolve a path stored relative to the run directory."""
        p = Path(relative)
        return p if p.is_absolute() else self.run_dir / p

    def relative(self, path: str | Path) -> str:
        """Store `path` relative to the run directory when it lies inside it (run dirs stay movable)."""
        p = Path(path)
        try:
            return str(p.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            return str(p)

    def latest(self, key: str, *stages: str) -> Any:
        """The value `key` from the latest of `stages` (or of any earlier stage) that produced it."""
        order = list(stages) if stages else list(self.inputs)
        for stage in reversed(order):
            out = self.inputs.get(stage)
            if out is not None and key in out:
                return out[key]
        looked = ", ".join(order) or "none"
        raise MissingInputError(
            f"stage '{self.name}' needs '{key}' from an earlier stage (looked in: {looked}); "
            f"add a stage that produces it to pipeline.stages, e.g. demo_data, ingest or collect"
        )

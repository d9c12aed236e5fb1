"""What a stage receives: the config, its own folder, and the outputs of the stages before it.

A stage is a function `run(ctx: StageContext) -> dict` listed in `pipeline.registry`; the dict it
returns (paths relative to the run directory, counts, …) is stored in its `done.json` and handed
to later stages as `ctx.inputs[<stage>]`. What a stage reads is declared in its registry entry
(`inputs: {manifest: [crop, self_filter], checkpoint: [train]}`): `ctx.latest(key)` answers from the
latest of the declared stages only, and reading an undeclared key is an error.
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


class UndeclaredInputError(RuntimeError):
    """A stage reads an output its registry entry does not declare (a bug in the stage or the registry)."""


@dataclass
class StageContext:
    name: str
    cfg: DictConfig
    run_dir: Path
    stage_dir: Path
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    resume: bool = False  # True when an unfinished attempt with the same fingerprint left files here
    sources: dict[str, list[str]] | None = None  # registry `inputs`: key → stages it may come from

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
        """The value `key` from the last of `stages` (in the order named) that produced it; without
        `stages`, from the latest in run order of the stages the registry declares for it (or of all)."""
        if self.sources is not None:
            declared = self.sources.get(key)
            if declared is None or not set(stages) <= set(declared):
                raise UndeclaredInputError(
                    f"stage '{self.name}' reads '{key}' from {list(stages) or 'any stage'}, but "
                    f"pipeline.registry.{self.name}.inputs declares {key}: {declared}"
                )
        if stages:
            order = list(stages)
        elif self.sources is not None:
            order = [s for s in self.inputs if s in self.sources[key]]
        else:
            order = list(self.inputs)
        for stage in reversed(order):
            out = self.inputs.get(stage)
            if out is not None and key in out:
                return out[key]
        looked = ", ".join(order) or "none"
        raise MissingInputError(
            f"stage '{self.name}' needs '{key}' from an earlier stage (looked in: {looked}); "
            f"add a stage that produces it to pipeline.stages, e.g. demo_data, ingest or collect"
        )

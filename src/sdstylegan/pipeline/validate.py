"""Checks at the start of a run: config values a user can mistype, and the outputs of done stages.

Config (registry key `check`, a function `(cfg) -> list of lines`; the SDIP stages' checks live in
`pipeline.stage_checks`, other stages keep theirs beside them): every stage that will run has its
values checked before the first stage starts — batch sizes, `dataset.resolution` against the networks,
the batch split over the processes Lightning would start on this machine, thresholds, counts. Each
problem is one line `key=value: why`; all lines of all pending stages come back in one ValidationError,
so `training.batch_size=0` stops the run at once, not hours later when `train_raw` starts.

Outputs of done stages are checked by `pipeline.verify` (registry key `verify`); `report` turns both
kinds of problem into one error. Both checks are off with `pipeline.validate=false`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sdstylegan.pipeline.preflight import StartupError
from sdstylegan.pipeline.verify import Damage
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

# The discriminator (and the encoder built on it) stops at 8×8 (models/discriminator.py); the
# generator starts from a 4×4 constant and doubles, so resolutions are powers of two ≥ 8.
MIN_RESOLUTION = 8
DEMO_MIN_RESOLUTION = 16  # data/demo.py renders gourds at ≥ 16²

Check = Callable[[DictConfig], list[str]]


class ValidationError(StartupError, ValueError):
    """Config values that cannot work, or damaged outputs of done stages; one line each, nothing run."""


# ----------------------------------------------------------------------------------------- config values
def _show(value: Any) -> str:
    if value is None:
        return "null"
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {low:g}"
    return f"{'<' if high_open else '≤'} {high:g}"


class _Lines:
    """Collects `key=value: why` lines for one config."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg, self.lines = cfg, []

    def get(self, key: str) -> Any:
        return OmegaConf.select(self.cfg, key, default=None, throw_on_missing=False)

    def add(self, key: str, value: Any, why: str) -> None:
        self.lines.append(f"{key}={_show(value)}: {why}")

    def number(
        self,
        key: str,
        low: float | None = None,
        high: float | None = None,
        *,
        integer: bool = False,
        low_open: bool = False,
        high_open: bool = False,
        allow: tuple[Any, ...] = (),
    ) -> Any:
        """The value of `key` when it is a number in the interval (or one of `allow`), else None and a line."""
        v = self.get(key)
        if v in allow and not isinstance(v, bool):
            return None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # v != v: NaN
        if ok and integer:
            ok = isinstance(v, int) or float(v).is_integer()
        if ok and low is not None:
            ok = v > low if low_open else v >= low
        if ok and high is not None:
            ok = v < high if high_open else v <= high
        if ok:
            return int(v) if integer else v
        kind = "an integer" if integer else "a number"
        bounds = (
            f" {_interval(low, high, low_open, high_open)}" if low is not None or high is not None else ""
        )
        extra = "".join(f" or {_show(a)}" for a in allow)
        self.add(key, v, f"must be {kind}{bounds}{extra}")
        return None

    def choice(self, key: str, choices: Iterable[Any]) -> Any:
        v, choices = self.get(key), list(choices)
        if v not in choices:
            self.add(key, v, f"must be one of {', '.join(_show(c) for c in choices)}")
            return None
        return v


def config_problems(cfg: DictConfig, checks: Mapping[str, Check]) -> list[str]:
    """Run each stage's check (stage → function); one line per problem, `(for stage, …)` appended."""
    found: dict[str, list[str]] = {}
    for stage, check in checks.items():
        try:
            lines = check(cfg)
        except Exception as e:  # noqa: BLE001 — a value the check could not even read is a problem too
            lines = [f"the config of stage {stage} cannot be read: {type(e).__name__}: {e}"]
        for line in lines:
            found.setdefault(line, []).append(stage)
    return [f"{line} (for {', '.join(stages)})" for line, stages in found.items()]


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def report(problems: list[str], damage: list[Damage], run_dir: Path) -> None:
    """Warn about non-fatal damage; raise one ValidationError listing config problems and fatal damage."""
    for d in damage:
        if not d.fatal:
            log.warning("stage %s: %s", d.stage, d.line().split(": ", 1)[1])
    fatal = [d for d in damage if d.fatal]
    if not problems and not fatal:
        return
    parts = [
        f"the run cannot start: {_count(len(problems) + len(fatal), 'problem')}; no stage was run "
        f"(run directory {run_dir}):"
    ]
    parts += [f"  {line}" for line in problems]
    parts += [f"  {d.line()}" for d in fatal]
    if problems:
        parts.append("Fix these values on the command line (key=value) or in the config.")
    if fatal:
        prev = sorted({d.stage for d in fatal if (Path(run_dir) / f"{d.stage}.prev").exists()})
        parts.append(
            "Damaged outputs are never repaired or deleted automatically: restore them, or redo the stage "
            "with pipeline.force=[stage] (its folder moves to <stage>.prev, later stages are redone)"
            + (f"; an existing {', '.join(p + '.prev' for p in prev)} would be replaced" if prev else "")
            + "."
        )
    parts.append("pipeline.validate=false skips these checks.")
    raise ValidationError("\n".join(parts))

"""Before any stage runs, build every pretrained network the pending stages will need.

A stage that downloads for hours (`collect`) or trains for days (`train_raw`) must not be followed
by a stage that dies on missing DINO, LPIPS or Inception weights. Registry entries may name a
`needs` function `(cfg) -> list of config keys` (each key a `_target_` node building a network);
the runner calls `check_networks` with the keys of every stage that will run, and each node is
built once and dropped. Every failure is collected, so one error lists all that is missing.
Off with `pipeline.preflight=false`.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping, Sequence

from hydra.errors import CompactHydraException, InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


class StartupError(CompactHydraException):
    """A run stopped before its first stage; the message lists each problem on one line.

    Hydra prints such an error's message without a traceback (train.py exits with status 1).
    """


class PreflightError(StartupError, RuntimeError):
    """Networks that pending stages need could not be built (weights missing or unreadable)."""


def _root_cause(e: BaseException) -> BaseException:
    # hydra wraps errors raised inside a _target_ in InstantiationException; report the original.
    while isinstance(e, InstantiationException) and e.__cause__ is not None:
        e = e.__cause__
    return e


def check_networks(cfg: DictConfig, needs: Mapping[str, Sequence[str]]) -> list[str]:
    """Build each config node named in `needs` (stage → keys) once; return the keys checked.

    Keys whose nodes resolve to the same content (`training.encoder.lpips` is `${metrics.lpips}`)
    are built once. Raises PreflightError listing, per node, the stages needing it and why it failed.
    """
    groups: dict[str, tuple[list[str], list[str]]] = {}  # resolved content → (keys, stages)
    problems: list[str] = []
    for stage, keys in needs.items():
        for key in keys:
            node = OmegaConf.select(cfg, key)
            if node is None:
                problems.append(f"  {key} (for {stage}): not set in the config")
                continue
            content = json.dumps(OmegaConf.to_container(node, resolve=True), sort_keys=True, default=str)
            ks, stages = groups.setdefault(content, ([], []))
            if key not in ks:
                ks.append(key)
            if stage not in stages:
                stages.append(stage)
    for keys, stages in groups.values():
        what = f"{' = '.join(keys)} (for {', '.join(stages)})"
        try:
            net = instantiate(OmegaConf.select(cfg, keys[0]))
        except Exception as e:  # noqa: BLE001 — every failure is reported, with its type
            cause = _root_cause(e)
            problems.append(f"  {what}: {type(cause).__name__}: {cause}")
            continue
        del net
        gc.collect()
        log.info("preflight: %s builds", what)
    if problems:
        raise PreflightError(
            "pending stages need networks that cannot be built; no stage was run:\n"
            + "\n".join(problems)
            + "\nPoint the keys above at local weight files, run once with internet so the downloads are "
            "cached, use stand-ins for a test run (metrics=standin, detector.pretrained=false), or skip "
            "this check with pipeline.preflight=false."
        )
    return [k for keys, _ in groups.values() for k in keys]

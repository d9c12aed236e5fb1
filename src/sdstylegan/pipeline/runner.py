"""Run the stages of `pipeline.stages` in order, each in its own folder of the run directory.

Per stage folder:
- `started.json`: fingerprint of an attempt in progress (an unfinished attempt with the same
  fingerprint is resumed: the stage finds its partial files);
- `done.json`: fingerprint, outputs and timing of a finished attempt; the stage is skipped next time
  unless its fingerprint changed or it is listed in `pipeline.force`.
A stage's fingerprint covers its config keys and the `done.json` of the stages before it, so redoing
a stage invalidates what was built on it. A folder from another fingerprint is moved aside to
`<stage>.prev` (one generation kept), never deleted blindly.

A registry entry may also name `extend` keys (e.g. `training.total_kimg`): they are outside the
fingerprint, and when only they change, a finished stage is re-entered in place as a resume (a
training run continues from its last checkpoint instead of starting over). An extension that changes
none of the stage's outputs (a training run already past the new length) keeps the stage's done-token,
so the stages after it stay done.

Before the first stage runs (`pipeline.validate`, see `validate.py`): the config values of every stage
that will run are checked (registry key `check`), and the recorded output files of every done stage
that will be skipped or extended are verified cheaply (registry key `verify`, default
`verify.verify_outputs`); all problems come back in one error and nothing runs. A damaged output is
reported with how to redo its stage, never repaired or deleted on its own. Then the pretrained
networks of every stage that will run (registry key `needs`, see `pipeline.preflight`) are built
once, so missing weights fail the run at its start too.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from sdstylegan import __version__
from sdstylegan.pipeline.context import StageContext, StageNotBuiltError
from sdstylegan.pipeline.fingerprint import fingerprint, missing_keys, select_config
from sdstylegan.pipeline.preflight import check_networks
from sdstylegan.pipeline.ranks import (
    FAILED,
    POLICIES,
    agree,
    on_rank_zero,
    wait_for_record,
    waits_for_rank_zero,
)
from sdstylegan.pipeline.validate import config_problems, report
from sdstylegan.pipeline.verify import describe_outputs, verify_outputs
from sdstylegan.utils.io import read_json, write_json
from sdstylegan.utils.logging import get_logger, global_rank

log = get_logger(__name__)


class Stage(NamedTuple):
    """A registry entry, resolved: implementation, fingerprinted keys, `extend` keys, `needs`, `check`
    and `verify` functions, and the fingerprinted keys' sub-keys left out (`exclude`: speed-only)."""

    name: str
    fn: Any
    keys: list[str]
    extend_keys: list[str]
    needs: Any
    check: Any = None
    verify: Any = verify_outputs
    exclude: tuple[str, ...] = ()
    inputs: dict[str, list[str]] | None = None  # key → stages it may come from (`ctx.latest`)
    optional: tuple[str, ...] = ()  # input keys the stage can do without (it decides, e.g. a config path)
    ranks: str = "zero"  # which processes run it: zero (rank 0, others receive) | all


def _import(name: str, what: str, path: str) -> Any:
    try:
        return get_method(path)
    except Exception as e:
        raise StageNotBuiltError(f"stage '{name}': cannot import its {what} {path} ({e})") from e


def _resolve_stages(cfg: DictConfig) -> list[Stage]:
    """Check every listed stage before running any: known name, built implementation."""
    stages = list(cfg.pipeline.stages)
    registry = cfg.pipeline.registry
    unknown = [s for s in stages if s not in registry]
    if unknown:
        raise ValueError(f"pipeline.stages names unknown stage(s) {unknown}; known: {list(registry)}")
    absent = missing_keys(cfg, list(cfg.pipeline.get("neutral") or {}))
    if absent:
        raise ValueError(f"pipeline.neutral names config key(s) {absent} that do not exist — misspelt?")
    force = list(cfg.pipeline.get("force") or [])
    bad_force = [s for s in force if s not in registry]
    if bad_force:
        raise ValueError(f"pipeline.force names unknown stage(s) {bad_force}; known: {list(registry)}")
    if len(set(stages)) != len(stages):
        raise ValueError(f"pipeline.stages lists a stage twice: {stages}")
    resolved = []
    for name in stages:
        spec = registry[name]
        keys = [*(spec.get("config") or []), *(spec.get("extend") or []), *(spec.get("exclude") or [])]
        # `config_if_present` keys are left out: they may be absent (and are fingerprinted as null then)
        absent = missing_keys(cfg, keys)
        if absent:
            raise ValueError(
                f"stage '{name}': config key(s) {absent} named by pipeline.registry.{name} do not exist — "
                f"a misspelt registry key, or a config group not added (e.g. +{absent[0].split('.')[0]}=default)"
            )
        if not spec.get("fn"):
            raise StageNotBuiltError(
                f"stage '{name}' is not built yet in sdstylegan {__version__}; "
                f"remove it from pipeline.stages (now {stages}) or use a version that provides it"
            )
        fn = _import(name, "implementation", spec.fn)
        hooks = {
            what: _import(name, f"{what} function", spec[what]) if spec.get(what) else None
            for what in ("needs", "check", "verify")
        }
        resolved.append(
            Stage(
                name,
                fn,
                [*(spec.get("config") or []), *(spec.get("config_if_present") or [])],
                list(spec.get("extend") or []),
                hooks["needs"],
                hooks["check"],
                hooks["verify"] or verify_outputs,
                tuple(spec.get("exclude") or ()),
                *_inputs_and_ranks(name, spec, stages, registry),
            )
        )
    return resolved


def _inputs_and_ranks(
    name: str, spec: Any, stages: list[str], registry: Any
) -> tuple[dict[str, list[str]], tuple[str, ...], str]:
    """A stage's declared inputs, optional keys and rank policy, checked against the stage list."""
    inputs = {str(k): [str(s) for s in v] for k, v in (spec.get("inputs") or {}).items()}
    optional = tuple(str(k) for k in spec.get("optional") or ())
    ranks = str(spec.get("ranks", "zero"))
    if ranks not in POLICIES:
        raise ValueError(f"pipeline.registry.{name}.ranks must be one of {POLICIES}, got {ranks!r}")
    unknown = sorted({s for v in inputs.values() for s in v} - set(registry))
    undeclared = sorted(set(optional) - set(inputs))
    if unknown or undeclared:
        raise ValueError(
            f"pipeline.registry.{name}: inputs name unknown stage(s) {unknown}" if unknown else
            f"pipeline.registry.{name}: optional names undeclared input(s) {undeclared}"
        )  # fmt: skip
    before = set(stages[: stages.index(name)])
    for key, sources in inputs.items():
        if key not in optional and not before & set(sources):
            raise ValueError(
                f"stage '{name}' needs '{key}' from one of {sources}, and none of them comes before it in "
                f"pipeline.stages {stages}; add one"
            )
    return inputs, optional, ranks


def _state(
    cfg: DictConfig, st: Stage, upstream: list[str], stage_dir: Path
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """(fingerprint, config selected for it, current `extend` values, done.json or None) of one stage."""
    node = cfg.pipeline.get("neutral")
    neutral = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else {}
    selected = select_config(cfg, st.keys, st.exclude, neutral)
    fp = fingerprint({"stage": st.name, "config": selected, "upstream": upstream})
    done_path = stage_dir / "done.json"
    extend = select_config(cfg, st.extend_keys)
    return fp, selected, extend, read_json(done_path) if done_path.exists() else None


def _stamps(run_dir: Path, outputs: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """(files, bytes, newest mtime in ns) of each output that is a file or folder: whether a stage wrote
    any of them."""
    stamps = {}
    for key, value in outputs.items():
        if not isinstance(value, str) or not value:
            continue
        p = Path(value) if Path(value).is_absolute() else run_dir / value
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else []
        if files or p.is_dir():
            st = [f.stat() for f in files]
            stamps[key] = (len(st), sum(s.st_size for s in st), max((s.st_mtime_ns for s in st), default=0))
    return stamps


def _token_after(
    run_dir: Path, prior: tuple[dict[str, Any], dict[str, Any]] | None, outputs: dict[str, Any], new: str
) -> str:
    """The token a stage's record gets: `new`, or the previous one when an extension (`prior`: its done.json
    and `_stamps`) changed nothing (a training run already past the new length), so the stages after it
    stay done instead of starting over."""
    if prior is not None and outputs == prior[0]["outputs"] and _stamps(run_dir, outputs) == prior[1]:
        return prior[0]["token"]
    return new


def _matches(done: dict[str, Any] | None, fp: str, forced: bool) -> bool:
    """A finished attempt with this fingerprint, and the stage not forced."""
    return done is not None and done.get("fingerprint") == fp and not forced


def _skippable(done: dict[str, Any] | None, fp: str, extend: dict[str, Any], forced: bool) -> bool:
    """`_matches`, and its `extend` keys unchanged: nothing to do."""
    return _matches(done, fp, forced) and done.get("extend", {}) == extend


def _plan(cfg: DictConfig, stages: list[Stage]) -> tuple[list[tuple[Stage, dict[str, Any]]], list[str]]:
    """(done stages whose outputs this run reuses, with their done.json; names of the stages it will enter).

    Reused: the stages skipped, and the first stage entered when it is only extended in place (a
    training run going on from its `last.ckpt`). A stage that runs gets a new done-token, so every
    stage after it has a new fingerprint and is entered too.
    """
    run_dir, force, upstream = Path(cfg.paths.run_dir), set(cfg.pipeline.get("force") or []), []
    reused: list[tuple[Stage, dict[str, Any]]] = []
    for i, st in enumerate(stages):
        fp, _sel, extend, done = _state(cfg, st, upstream, run_dir / st.name)
        if _matches(done, fp, st.name in force):
            reused.append((st, done))
        if not _skippable(done, fp, extend, st.name in force):
            return reused, [s.name for s in stages[i:]]
        upstream.append(done["token"])
    return reused, []


def pending_stages(cfg: DictConfig, stages: list[Stage]) -> list[str]:
    """Names of the stages that `run_pipeline` will (re-)enter: all from the first one not skipped."""
    return _plan(cfg, stages)[1]


Plan = tuple[list[tuple[Stage, dict[str, Any]]], list[str]]


def validate(cfg: DictConfig, stages: list[Stage], plan: Plan | None = None) -> None:
    """Check the config values of every pending stage and the outputs of every reused done stage
    (`pipeline.validate`); raise one ValidationError listing all problems. `plan`: `_plan`'s answer."""
    if not cfg.pipeline.get("validate", True):
        return
    reused, pending = plan or _plan(cfg, stages)
    problems = config_problems(cfg, {st.name: st.check for st in stages if st.name in pending and st.check})
    run_dir = Path(cfg.paths.run_dir)
    damage = [d for st, done in reused for d in st.verify(run_dir, st.name, done)]
    report(problems, damage, run_dir)


def preflight(cfg: DictConfig, stages: list[Stage], pending: list[str] | None = None) -> list[str]:
    """Build the networks of every pending stage now (`pipeline.preflight`); return the keys checked."""
    if not cfg.pipeline.get("preflight", True):
        return []
    pending = set(pending_stages(cfg, stages) if pending is None else pending)
    needs = {st.name: list(st.needs(cfg)) for st in stages if st.name in pending and st.needs is not None}
    return check_networks(cfg, needs)


def run_pipeline(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Run `cfg.pipeline.stages`; return each stage's outputs (from this run or a previous one)."""
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stages = _resolve_stages(cfg)
    force = set(cfg.pipeline.get("force") or [])
    is_zero = global_rank() == 0
    plan = _plan(cfg, stages)  # which done stages are reused and which will run: read once for both checks
    validate(cfg, stages, plan)
    preflight(cfg, stages, plan[1])
    inputs: dict[str, dict[str, Any]] = {}
    upstream: list[str] = []  # done-tokens of the stages before, chained into each fingerprint
    for st in stages:
        name, fn = st.name, st.fn
        stage_dir = run_dir / name
        fp, selected, extend, done = _state(cfg, st, upstream, stage_dir)
        done_path, started_path = stage_dir / "done.json", stage_dir / "started.json"
        same = _matches(done, fp, name in force)
        if _skippable(done, fp, extend, name in force):
            log.info(
                "stage %-11s skipped: outputs in %s match the config (pipeline.force=[%s] redoes it)",
                name,
                stage_dir,
                name,
            )
            inputs[name] = done["outputs"]
            upstream.append(done["token"])
            continue
        if waits_for_rank_zero(st.ranks):  # several launched tasks, no process group yet: rank 0 works
            wait_s = float(cfg.pipeline.get("rank_wait_hours") or 48) * 3600
            record = wait_for_record(stage_dir, fp, wait_s, not_before=time.time() - 60)
            inputs[name] = record["outputs"]
            upstream.append(record["token"])
            continue
        started = read_json(started_path) if started_path.exists() else None
        unfinished = (
            done is None and started is not None and started.get("fingerprint") == fp and name not in force
        )
        resume = unfinished or same  # `same` here: only `extend` keys changed → continue in place
        if same:
            log.info("stage %-11s extended: %s changed from %s", name, extend, done.get("extend"))
        # Only a folder with a previous attempt's record is moved aside: under DDP another rank of this
        # very run may already have created the (empty) folder.
        if is_zero and (done is not None or started is not None) and not resume:
            prev = run_dir / f"{name}.prev"
            if prev.exists():
                shutil.rmtree(prev)
            stage_dir.rename(prev)
            why = "forced" if name in force else "config changed"
            log.info("stage %-11s %s: previous outputs moved to %s", name, why, prev)
        stage_dir.mkdir(parents=True, exist_ok=True)
        if is_zero:
            (stage_dir / FAILED).unlink(missing_ok=True)
            write_json(started_path, {"fingerprint": fp, "time": time.time()})
        log.info("stage %-11s %s in %s", name, "resuming" if resume else "running", stage_dir)
        t0 = time.time()
        ctx = StageContext(
            name=name,
            cfg=cfg,
            run_dir=run_dir,
            stage_dir=stage_dir,
            inputs=dict(inputs),
            resume=resume,
            sources=st.inputs,
        )
        token = uuid.uuid4().hex  # every rank must chain rank 0's token into later fingerprints
        prior = (done, _stamps(run_dir, done["outputs"])) if same else None  # an extension: what it had
        try:
            if st.ranks == "zero":
                outputs, token = on_rank_zero(
                    lambda c, f=fn, t=token, p=prior: (o := f(c) or {}, _token_after(run_dir, p, o, t)), ctx
                )
            else:
                outputs = fn(ctx) or {}
                token = agree(_token_after(run_dir, prior, outputs, token))
        except BaseException as e:
            if is_zero:  # ranks waiting on disk for this stage fail with it instead of waiting on
                write_json(stage_dir / FAILED, {"fingerprint": fp, "time": time.time(), "error": f"{e!r}"})
            raise
        if same and token == done["token"]:
            log.info("stage %-11s extended: nothing to add; later stages keep their outputs", name)
            record = {**done, "extend": extend}
        else:
            record = {
                "fingerprint": fp,
                "token": token,
                "outputs": outputs,
                "seconds": round(time.time() - t0, 3),
                "extend": extend,
                "config": selected,
                "time": time.time(),
            }
        if is_zero:
            record["files"] = describe_outputs(
                run_dir, outputs
            )  # verified before the stage is skipped next time
            write_json(done_path, record)
        log.info("stage %-11s done in %.1f s", name, time.time() - t0)
        inputs[name] = outputs
        upstream.append(token)
    return inputs

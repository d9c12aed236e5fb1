"""`ranks: zero` stages run once: two real gloo processes (through the group), and two launched tasks with
no group yet (through rank 0's records on disk); rank 0 works, rank 1 gets its outputs or its error."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch.distributed as dist
import torch.multiprocessing as mp
from omegaconf import OmegaConf

from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.ranks import RankZeroStageError, on_rank_zero


def _stage(ctx: StageContext) -> dict:
    rank = dist.get_rank()
    with open(ctx.stage_dir / f"ran_on_{rank}", "w") as f:
        f.write("x")
    if ctx.cfg.fail:
        raise ValueError("planted failure")
    return {"theta": 0.25, "by": rank}


def _worker(rank: int, world: int, store: str, stage_dir: str, fail: bool, out: str) -> None:
    dist.init_process_group("gloo", init_method=store, rank=rank, world_size=world)
    ctx = StageContext("self_filter", OmegaConf.create({"fail": fail}), Path(stage_dir), Path(stage_dir))
    try:
        result = {"outputs": on_rank_zero(_stage, ctx)}
    except Exception as e:
        result = {"error": type(e).__name__, "message": str(e)}
    Path(out, f"{rank}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


def _run(tmp_path: Path, fail: bool) -> dict[int, dict]:
    stage = tmp_path / ("fail" if fail else "ok")
    stage.mkdir()
    mp.spawn(
        _worker, args=(2, f"file://{stage / 'store'}", str(stage), fail, str(stage)), nprocs=2, join=True
    )
    return {r: json.loads((stage / f"{r}.json").read_text()) for r in (0, 1)}, stage


def test_stage_runs_on_rank_zero_only_and_every_rank_gets_outputs_or_the_error(tmp_path):
    results, stage = _run(tmp_path, fail=False)
    assert results[0] == results[1] == {"outputs": {"theta": 0.25, "by": 0}}
    assert sorted(p.name for p in stage.glob("ran_on_*")) == ["ran_on_0"]
    results, _ = _run(tmp_path, fail=True)
    assert results[0] == {"error": "ValueError", "message": "planted failure"}
    assert results[1]["error"] == RankZeroStageError.__name__ and "planted failure" in results[1]["message"]


def test_without_a_process_group_the_stage_runs_here(tmp_path):
    ctx = StageContext("cluster", OmegaConf.create({}), tmp_path, tmp_path)
    assert on_rank_zero(lambda c: {"name": c.name}, ctx) == {"name": "cluster"}


# ---------------------------------------------------------------------------- `ranks: zero` without a process group


def stage_once(ctx: StageContext) -> dict:
    """Test stage (ranks: zero): marks who ran it, takes a moment so the other rank really waits."""
    from sdstylegan.utils.logging import global_rank

    (ctx.stage_dir / f"ran_on_{global_rank()}").write_text("x")
    time.sleep(1.0)
    if ctx.cfg.fail:
        raise ValueError("planted failure")
    return {"n": 3}


def stage_after(ctx: StageContext) -> dict:
    from sdstylegan.utils.logging import global_rank

    (ctx.stage_dir / f"ran_on_{global_rank()}").write_text("x")
    return {"double": 2 * ctx.latest("n")}


def _launched_task(rank: int, run_dir: str, fail: bool, out: str) -> None:
    """One of two tasks srun/torchrun would start: same command, RANK/WORLD_SIZE set, no process group."""
    os.environ.update(RANK=str(rank), WORLD_SIZE="2")
    from conftest import compose_config
    from omegaconf import open_dict

    from sdstylegan.pipeline.runner import run_pipeline

    cfg = compose_config(["dataset.num_images=8"], Path(run_dir))
    with open_dict(cfg):
        reg = cfg.pipeline.registry
        reg.once = {"fn": f"{__name__}.stage_once", "config": [], "ranks": "zero"}
        reg.after = {
            "fn": f"{__name__}.stage_after",
            "config": [],
            "ranks": "zero",
            "inputs": {"n": ["once"]},
        }
        cfg.pipeline.stages = ["once", "after"]
        cfg.fail = fail
    try:
        result = {"outputs": run_pipeline(cfg)}
    except Exception as e:
        result = {"error": type(e).__name__, "message": str(e)}
    Path(out, f"{rank}.json").write_text(json.dumps(result))


def _launch(tmp_path: Path, fail: bool) -> tuple[dict[int, dict], Path]:
    run = tmp_path / ("fail" if fail else "ok")
    run.mkdir()
    mp.spawn(_launched_task, args=(str(run), fail, str(run)), nprocs=2, join=True)
    return {r: json.loads((run / f"{r}.json").read_text()) for r in (0, 1)}, run


def test_launched_tasks_without_a_group_run_a_zero_stage_once_and_share_its_outputs(tmp_path):
    results, run = _launch(tmp_path, fail=False)
    expected = {"once": {"n": 3}, "after": {"double": 6}}
    assert results[0] == results[1] == {"outputs": expected}  # rank 1 chained rank 0's tokens
    assert sorted(p.name for p in (run / "once").glob("ran_on_*")) == ["ran_on_0"]
    assert sorted(p.name for p in (run / "after").glob("ran_on_*")) == ["ran_on_0"]


def test_a_failure_on_rank_zero_reaches_the_waiting_rank(tmp_path):
    results, run = _launch(tmp_path, fail=True)
    assert results[0] == {"error": "ValueError", "message": "planted failure"}
    assert results[1]["error"] == RankZeroStageError.__name__ and "planted failure" in results[1]["message"]
    assert not (run / "after").exists()  # nobody went on

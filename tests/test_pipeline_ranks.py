"""Distill stages run once under DDP: two real gloo processes; rank 0 works, rank 1 gets its outputs or error."""

from __future__ import annotations

import json
from pathlib import Path

import torch.distributed as dist
import torch.multiprocessing as mp
from omegaconf import OmegaConf

from sdstylegan.distill.ranks import RankZeroStageError, on_rank_zero
from sdstylegan.pipeline.context import StageContext


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

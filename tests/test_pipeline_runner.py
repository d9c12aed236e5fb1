"""Stage runner: order, skip on matching fingerprint, force, resume, invalidation, unbuilt stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from sdstylegan.pipeline.context import (
    MissingInputError,
    StageContext,
    StageNotBuiltError,
    UndeclaredInputError,
)
from sdstylegan.pipeline.runner import run_pipeline

CALLS: list[tuple[str, bool]] = []


def stage_a(ctx: StageContext) -> dict:
    """Test stage: records the call, writes a file, returns a value from the config."""
    CALLS.append((ctx.name, ctx.resume))
    (ctx.stage_dir / "out.txt").write_text(str(ctx.cfg.toy.value))
    return {"value": ctx.cfg.toy.value}


def stage_b(ctx: StageContext) -> dict:
    CALLS.append((ctx.name, ctx.resume))
    return {"double": 2 * ctx.latest("value")}


def stage_crash(ctx: StageContext) -> dict:
    CALLS.append((ctx.name, ctx.resume))
    (ctx.stage_dir / "partial.txt").write_text("half")
    raise KeyboardInterrupt  # a kill in the middle


def _cfg(make_cfg, stages, **extra):
    cfg = make_cfg(["dataset.num_images=8", "dataset.resolution=32"])
    with open_dict(cfg):
        cfg.toy = {"value": extra.get("value", 1)}
        reg = cfg.pipeline.registry
        reg.a = {"fn": f"{__name__}.stage_a", "config": ["toy"]}
        reg.b = {"fn": f"{__name__}.stage_b", "config": [], "inputs": {"value": ["a"]}}
        reg.crash = {"fn": f"{__name__}.stage_crash", "config": ["toy"]}
        reg.future = {"fn": None, "config": []}
        cfg.pipeline.stages = stages
        cfg.pipeline.force = extra.get("force", [])
    return cfg


@pytest.fixture(autouse=True)
def _clear():
    CALLS.clear()


def test_runs_in_order_then_skips(make_cfg):
    out = run_pipeline(_cfg(make_cfg, ["a", "b"]))
    assert out == {"a": {"value": 1}, "b": {"double": 2}}
    assert CALLS == [("a", False), ("b", False)]
    CALLS.clear()
    out2 = run_pipeline(_cfg(make_cfg, ["a", "b"]))
    assert CALLS == [] and out2 == out


def test_config_change_reruns_and_keeps_previous_outputs(make_cfg):
    cfg = _cfg(make_cfg, ["a", "b"])
    run_pipeline(cfg)
    CALLS.clear()
    out = run_pipeline(_cfg(make_cfg, ["a", "b"], value=5))
    assert [c[0] for c in CALLS] == ["a", "b"] and out["b"] == {"double": 10}
    run_dir = cfg.paths.run_dir
    assert open(f"{run_dir}/a.prev/out.txt").read() == "1"


def test_force_redoes_stage_and_invalidates_later_ones(make_cfg):
    run_pipeline(_cfg(make_cfg, ["a", "b"]))
    CALLS.clear()
    run_pipeline(_cfg(make_cfg, ["a", "b"], force=["a"]))
    assert [c[0] for c in CALLS] == ["a", "b"]  # b depended on a's outputs


def test_killed_stage_resumes_with_its_files(make_cfg):
    cfg = _cfg(make_cfg, ["crash"])
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg)
    assert CALLS == [("crash", False), ("crash", True)]
    assert open(f"{cfg.paths.run_dir}/crash/partial.txt").read() == "half"


def test_not_built_stage_fails_at_start_naming_it(make_cfg):
    with pytest.raises(StageNotBuiltError, match="'future'"):
        run_pipeline(_cfg(make_cfg, ["a", "future"]))
    assert CALLS == []  # nothing ran before the check


def test_unknown_stage_and_missing_input(make_cfg):
    with pytest.raises(ValueError, match="unknown stage"):
        run_pipeline(_cfg(make_cfg, ["a", "nope"]))
    with pytest.raises(ValueError, match="stage 'b' needs 'value'"):  # at start: a is not listed
        run_pipeline(_cfg(make_cfg, ["b"]))
    cfg = _cfg(make_cfg, ["b"])
    with open_dict(cfg):
        cfg.pipeline.registry.b.optional = ["value"]  # the stage decides: here it still needs it
    with pytest.raises(MissingInputError, match="'value'"):
        run_pipeline(cfg)


def test_demo_data_stage_skip_and_force(make_cfg):
    cfg = make_cfg(
        ["experiment=demo", "dataset.num_images=12", "dataset.resolution=32", "pipeline.stages=[demo_data]"]
    )
    out = run_pipeline(cfg)
    run_dir = cfg.paths.run_dir
    done = json.load(open(f"{run_dir}/demo_data/done.json"))
    assert out["demo_data"]["num_images"] == 12 and done["outputs"] == out["demo_data"]
    run_pipeline(cfg)
    assert json.load(open(f"{run_dir}/demo_data/done.json"))["token"] == done["token"]  # skipped
    with open_dict(cfg):
        cfg.pipeline.force = ["demo_data"]
    run_pipeline(cfg)
    assert json.load(open(f"{run_dir}/demo_data/done.json"))["token"] != done["token"]  # redone


def test_loader_settings_do_not_invalidate_the_dataset(make_cfg):
    base = ["experiment=demo", "dataset.num_images=6", "dataset.resolution=32", "pipeline.stages=[demo_data]"]
    cfg = make_cfg(base)
    run_pipeline(cfg)
    token = json.load(open(f"{cfg.paths.run_dir}/demo_data/done.json"))["token"]
    run_pipeline(make_cfg(base + ["dataset.datamodule.batch_size=4", "dataset.num_workers=1"]))
    assert json.load(open(f"{cfg.paths.run_dir}/demo_data/done.json"))["token"] == token
    run_pipeline(make_cfg([base[0], "dataset.num_images=7", *base[2:]]))
    assert json.load(open(f"{cfg.paths.run_dir}/demo_data/done.json"))["token"] != token


def stage_grow(ctx: StageContext) -> dict:
    """Test stage like a training run: (re)writes its output file only to make it longer."""
    CALLS.append((ctx.name, ctx.resume))
    f = ctx.stage_dir / "length.txt"
    if not f.exists() or int(f.read_text()) < ctx.cfg.length:
        f.write_text(str(ctx.cfg.length))
    return {"value": 1, "file": ctx.relative(f)}


def test_extend_key_reenters_a_finished_stage_in_place(make_cfg):
    def cfg_with(length):
        cfg = _cfg(make_cfg, ["a", "b"])
        with open_dict(cfg):
            cfg.length = length  # outside a's fingerprint keys (toy)
            cfg.pipeline.registry.a = {
                "fn": f"{__name__}.stage_grow",
                "config": ["toy"],
                "extend": ["length"],
            }
        return cfg

    run_pipeline(cfg_with(10))
    CALLS.clear()
    run_pipeline(cfg_with(10))
    assert CALLS == []
    run_pipeline(cfg_with(20))  # only the extend key changed: a resumes in place, b follows
    assert CALLS == [("a", True), ("b", False)]
    run_dir = Path(cfg_with(20).paths.run_dir)
    assert not (run_dir / "a.prev").exists()  # nothing moved aside
    CALLS.clear()
    token = json.loads((run_dir / "a" / "done.json").read_text())["token"]
    run_pipeline(cfg_with(15))  # a resumes and finds nothing to add: its token stays, b stays done
    assert CALLS == [("a", True)]
    assert json.loads((run_dir / "a" / "done.json").read_text())["token"] == token
    CALLS.clear()
    run_pipeline(cfg_with(15))
    assert CALLS == [], "the new extend value is recorded"


def test_folder_made_by_another_rank_is_not_moved_aside(make_cfg):
    cfg = _cfg(make_cfg, ["a"])
    (Path(cfg.paths.run_dir) / "a").mkdir(parents=True)  # what a DDP rank > 0 does before rank 0 gets there
    run_pipeline(cfg)
    assert not (Path(cfg.paths.run_dir) / "a.prev").exists()
    assert (Path(cfg.paths.run_dir) / "a" / "done.json").exists()


def test_inputs_are_declared_and_checked_at_start(make_cfg):
    cfg = _cfg(make_cfg, ["b"])  # b needs 'value' from a, which is not in the stage list
    with pytest.raises(ValueError, match=r"stage 'b' needs 'value' from one of \['a'\].*add one"):
        run_pipeline(cfg)
    assert CALLS == []  # refused before anything ran
    cfg = _cfg(make_cfg, ["a", "b"])
    with open_dict(cfg):
        cfg.pipeline.registry.b.inputs = {"value": ["a", "nonexistent"]}
    with pytest.raises(ValueError, match=r"inputs name unknown stage\(s\) \['nonexistent'\]"):
        run_pipeline(cfg)
    with open_dict(cfg):
        cfg.pipeline.registry.b.inputs = {"other": ["a"]}  # b reads 'value', which is not declared
    with pytest.raises(UndeclaredInputError, match=r"stage 'b' reads 'value'.*declares value: None"):
        run_pipeline(cfg)
    with open_dict(cfg):
        cfg.pipeline.registry.b.inputs = {"value": ["a"]}
        cfg.pipeline.registry.b.ranks = "some"
    with pytest.raises(ValueError, match=r"ranks must be one of \('zero', 'all'\)"):
        run_pipeline(cfg)


def test_every_registered_stage_declares_its_rank_policy_and_real_stages_for_its_inputs(make_cfg):
    reg = make_cfg(["experiment=demo"]).pipeline.registry
    for name, spec in reg.items():
        assert spec.get("ranks") in ("zero", "all"), name
        for key, sources in (spec.get("inputs") or {}).items():
            assert set(sources) <= set(reg), (name, key)


def test_config_if_present_keys_are_fingerprinted_when_there_and_may_be_absent(make_cfg):
    def cfg_with(**look):
        cfg = _cfg(make_cfg, ["a"])
        with open_dict(cfg):
            cfg.pipeline.registry.a.config_if_present = ["look.clutter"]
            if look:
                cfg.look = look
        return cfg

    run_pipeline(cfg_with())  # no `look` in this config: no error, fingerprinted as null
    run_pipeline(cfg_with(clutter=None))
    assert CALLS == [("a", False)], "absent and null are the same"
    run_pipeline(cfg_with(clutter=0.5))
    run_pipeline(cfg_with(clutter=0.5))
    assert CALLS == [("a", False), ("a", False)], "a present value is in the fingerprint"


def test_a_misspelt_neutral_key_stops_the_run_at_start(make_cfg):
    cfg = _cfg(make_cfg, ["a"])
    with open_dict(cfg):
        cfg.pipeline.neutral = {"training.encoder.start_kimgg": 0}
    with pytest.raises(ValueError, match=r"pipeline.neutral .*start_kimgg"):
        run_pipeline(cfg)
    assert CALLS == []

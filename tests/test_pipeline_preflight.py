"""Preflight: networks of the stages that will run are built before the first stage; failures listed together."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict

from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.preflight import PreflightError, check_networks
from sdstylegan.pipeline.runner import _resolve_stages, pending_stages, run_pipeline

BUILT: list[int] = []


class Net:
    """A 'network' that counts how often it is built and fails on request."""

    def __init__(self, size: int = 1, fail: bool = False):
        if fail:
            raise FileNotFoundError(f"no weights for Net({size})")
        BUILT.append(size)


def stage(ctx: StageContext) -> dict:
    return {"ran": ctx.name}


def needs_net(cfg) -> list[str]:
    return ["toynet"]


@pytest.fixture(autouse=True)
def _clear():
    BUILT.clear()


def _cfg(make_cfg, stages, fail=False, **pipeline):
    cfg = make_cfg(["dataset.num_images=8", "dataset.resolution=32"])
    with open_dict(cfg):
        cfg.toynet = {"_target_": f"{__name__}.Net", "size": 3, "fail": fail}
        reg = cfg.pipeline.registry
        reg.a = {"fn": f"{__name__}.stage", "config": []}
        reg.b = {"fn": f"{__name__}.stage", "config": [], "needs": f"{__name__}.needs_net"}
        cfg.pipeline.stages = stages
        cfg.pipeline.update(pipeline)
    return cfg


def test_missing_weights_fail_the_demo_chain_before_its_first_stage(make_cfg):
    cfg = make_cfg(
        [
            "experiment=demo",
            "metrics.lpips.pretrained=true",
            "metrics.lpips.backbone_weights=/nonexistent/vgg16.pth",
        ]
    )
    with pytest.raises(PreflightError) as err:
        run_pipeline(cfg)
    msg = str(err.value)
    # training.encoder.lpips is ${metrics.lpips}: one entry, every stage that builds it named
    assert "training.encoder.lpips = metrics.lpips (for train_raw, self_filter, cluster)" in msg
    assert "/nonexistent/vgg16.pth" in msg and "metrics=standin" in msg
    assert len([line for line in msg.splitlines() if line.startswith("  ")]) == 1  # the stand-ins built
    assert not any(p.name in ("done.json", "started.json") for p in Path(cfg.paths.run_dir).rglob("*"))


def test_only_stages_that_will_run_are_checked(make_cfg):
    good = _cfg(make_cfg, ["a", "b"])
    assert run_pipeline(good)["b"] == {"ran": "b"} and BUILT == [3]  # built once, by the preflight
    bad = _cfg(make_cfg, ["a", "b"], fail=True)
    assert pending_stages(bad, _resolve_stages(bad)) == []
    run_pipeline(bad)  # everything done: b's broken network is not needed
    forced = _cfg(make_cfg, ["a", "b"], fail=True, force=["a"])
    assert pending_stages(forced, _resolve_stages(forced)) == ["a", "b"]  # redoing a invalidates b
    with pytest.raises(PreflightError, match=r"toynet \(for b\): FileNotFoundError: no weights for Net\(3\)"):
        run_pipeline(forced)
    run_dir = Path(forced.paths.run_dir)  # nothing was touched: a is still done, nothing moved aside
    assert (run_dir / "a" / "done.json").exists() and not (run_dir / "a.prev").exists()


def test_preflight_can_be_switched_off(make_cfg):
    cfg = _cfg(make_cfg, ["a", "b"], fail=True, preflight=False)
    assert run_pipeline(cfg)["a"] == {"ran": "a"}  # the toy stages never build toynet themselves


def test_same_node_under_two_keys_is_built_once_and_all_failures_are_listed():
    cfg = OmegaConf.create(
        {
            "net": {"_target_": f"{__name__}.Net", "size": 5},
            "alias": "${net}",
            "bad1": {"_target_": f"{__name__}.Net", "fail": True, "size": 7},
            "bad2": {"_target_": "no.such.module.Net"},
        }
    )
    assert check_networks(cfg, {"s1": ["net"], "s2": ["alias"]}) == ["net", "alias"] and BUILT == [5]
    with pytest.raises(PreflightError) as err:
        check_networks(cfg, {"s1": ["net", "bad1"], "s2": ["bad2", "unset.key"]})
    msg = str(err.value)
    assert "bad1 (for s1): FileNotFoundError: no weights for Net(7)" in msg
    assert "bad2 (for s2):" in msg and "unset.key (for s2): not set in the config" in msg

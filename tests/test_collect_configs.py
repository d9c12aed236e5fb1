"""Every conf/collect/*.yaml composes, builds its sources and its transport/content settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import get_method, instantiate

from sdstylegan.collect.downloader import ContentPolicy
from sdstylegan.collect.sources import Source
from sdstylegan.collect.transport import TransportConfig

CONF = Path(__file__).resolve().parents[1] / "conf" / "collect"
OPTIONS = sorted(p.stem for p in CONF.glob("*.yaml") if p.stem != "base")


@pytest.mark.parametrize("option", OPTIONS)
def test_collect_option_composes_and_builds(option, make_cfg, tmp_path):
    overrides = [f"collect={option}"]
    paths = {"urls": tmp_path / "urls.txt", "sdip": tmp_path / "sdip.json", "img2dataset": tmp_path}
    if option in paths:
        overrides.append(f"collect.path={paths[option]}")
    cfg = make_cfg(overrides)
    TransportConfig.from_config(cfg.collect.transport)
    ContentPolicy.from_config(cfg.collect.content)
    sources = [instantiate(node) for node in cfg.collect.sources]
    assert all(isinstance(s, Source) for s in sources)
    assert (option == "none") == (not sources)


def test_yerba_mate_collects_from_reddit_and_wikimedia(make_cfg):
    names = {instantiate(n).name for n in make_cfg(["collect=yerba_mate"]).collect.sources}
    assert names == {"reddit", "wikimedia"}


def test_registry_points_at_the_stage(make_cfg):
    spec = make_cfg().pipeline.registry.collect
    assert get_method(spec.fn).__name__ == "run_collect"
    # transport settings stay out of the fingerprint so a run can resume with other timeouts/workers
    assert "collect.transport" not in spec.config and "collect.content" in spec.config

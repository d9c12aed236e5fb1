"""Building from config read from a file: only allowlisted constructors with plain-data arguments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.models.generator import Generator
from sdstylegan.utils.safe_build import (
    LPIPS_TARGETS,
    NETWORK_TARGETS,
    UntrustedConfigError,
    build_trusted,
    check_trusted,
)

sys.path.insert(0, str(Path(__file__).parent))
from hostile import GEN, PAYLOADS, payloads, snapshot  # noqa: E402


def test_allowlisted_constructor_builds_the_same_network_as_calling_it():
    torch.manual_seed(0)
    G = build_trusted(GEN, NETWORK_TARGETS, origin="test")
    torch.manual_seed(0)
    ref = Generator(**{k: v for k, v in GEN.items() if k != "_target_"})
    assert isinstance(G, Generator)
    for a, b in zip(G.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)


def test_preset_functions_are_allowed():
    node = {
        "_target_": "sdstylegan.models.presets.auto_generator",
        "img_resolution": 8,
        "z_dim": 4,
        "w_dim": 4,
        "channel_base": 32,
        "channel_max": 4,
    }
    assert build_trusted(node, NETWORK_TARGETS, origin="test").img_resolution == 8


@pytest.mark.parametrize("name", PAYLOADS)
def test_hostile_nodes_are_refused_and_touch_nothing(tmp_path, name):
    node = payloads(tmp_path)[name]
    before = snapshot(tmp_path)
    with pytest.raises(UntrustedConfigError, match="refused") as err:
        build_trusted(node, NETWORK_TARGETS, origin="evil.ckpt", where="sdstylegan.model.generator")
    assert "evil.ckpt" in str(err.value)
    assert snapshot(tmp_path) == before


def test_error_names_the_refused_target_and_where_it_was():
    with pytest.raises(UntrustedConfigError) as err:
        check_trusted(
            {"_target_": "shutil.rmtree", "path": "/"}, NETWORK_TARGETS, "run/config.yaml", "metrics.lpips"
        )
    msg = str(err.value)
    assert "run/config.yaml" in msg and "metrics.lpips._target_" in msg and "'shutil.rmtree'" in msg


def test_each_allowlist_is_its_own():
    # a network constructor is not a valid LPIPS node, and the other way round
    with pytest.raises(UntrustedConfigError):
        check_trusted(GEN, LPIPS_TARGETS, "cfg")
    with pytest.raises(UntrustedConfigError):
        check_trusted(
            {"_target_": "sdstylegan.metrics.lpips.LPIPS", "pretrained": False}, NETWORK_TARGETS, "cfg"
        )


@pytest.mark.parametrize("bad", [None, "sdstylegan.models.generator.Generator", ["_target_"], {"z_dim": 8}])
def test_not_a_node_is_refused(bad):
    with pytest.raises(UntrustedConfigError):
        check_trusted(bad, NETWORK_TARGETS, "cfg")


def test_non_plain_argument_values_are_refused():
    with pytest.raises(UntrustedConfigError, match="not plain data"):
        check_trusted({**GEN, "z_dim": object()}, NETWORK_TARGETS, "cfg")
    with pytest.raises(UntrustedConfigError, match="non-string key"):
        check_trusted({**GEN, "extra": {1: 2}}, NETWORK_TARGETS, "cfg")

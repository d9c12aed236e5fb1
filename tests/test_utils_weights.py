"""Pretrained weights: local .pt/.pth/.bin (weights_only) and .safetensors, URLs over a real loopback server,
hostile pickles refused without running, errors that name the config key, timm models and stand-ins."""

from __future__ import annotations

import argparse
import io
import logging
import os
import pickle
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from loopback import LoopbackServer, Route  # noqa: E402

from sdstylegan.utils.weights import (
    STANDIN_SUFFIX,
    WeightsNotFoundError,
    create_timm_model,
    load_state_dict,
    standin_warning,
)

KEY = "metrics.test.weights"


class Hostile:
    """Pickles as `os.makedirs(marker)`: loading it with a full unpickler would create the marker folder."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(2, 3, generator=g), "conv.bias": torch.arange(2.0)}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- local files


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin"])
def test_local_torch_file(tmp_path, suffix):
    path = tmp_path / f"w{suffix}"
    torch.save(_state(), path)
    assert _same(load_state_dict(path, config_key=KEY), _state())
    assert _same(load_state_dict(str(path), config_key=KEY), _state())  # str or Path


def test_local_safetensors_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(_state(), str(path))
    assert _same(load_state_dict(path, config_key=KEY), _state())
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    with pytest.raises(ValueError, match=rf"^{KEY}=.*w.safetensors: not a readable checkpoint \("):
        load_state_dict(path, config_key=KEY)


def test_user_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    torch.save(_state(), tmp_path / "w.pth")
    assert _same(load_state_dict("~/w.pth", config_key=KEY), _state())


def test_truncated_file_is_not_a_readable_checkpoint(tmp_path):
    path = tmp_path / "w.pth"
    torch.save(_state(), path)
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(ValueError, match=rf"^{KEY}={path}: not a readable checkpoint \("):
        load_state_dict(path, config_key=KEY)


@pytest.mark.parametrize("how", ["torch_save", "raw_pickle"])
@pytest.mark.parametrize("suffix", [".pth", ".pkl"])
def test_hostile_pickle_is_refused_without_running(tmp_path, how, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    payload = {"weight": torch.zeros(1), "x": Hostile(str(marker))}
    if how == "torch_save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ValueError) as err:
        load_state_dict(path, config_key=KEY, safe_types=(argparse.Namespace,))
    assert str(err.value).startswith(f"{KEY}={path}: not a readable checkpoint (UnpicklingError")
    assert not marker.exists()
    # the payload is real: a full unpickler would have run it
    if how == "raw_pickle":
        pickle.loads(path.read_bytes())
        assert marker.is_dir()


def test_safe_types_allow_namespace_and_nothing_more(tmp_path):
    """DINO's full checkpoints carry `args` (argparse.Namespace) beside the weights."""
    path = tmp_path / "dino.pth"
    torch.save({"teacher": _state(), "args": argparse.Namespace(arch="vit_small", patch_size=16)}, path)
    with pytest.raises(
        ValueError, match=r"(?s)not a readable checkpoint \(UnpicklingError.*argparse.Namespace"
    ):
        load_state_dict(path, config_key=KEY)
    got = load_state_dict(path, config_key=KEY, safe_types=(argparse.Namespace,))
    assert got["args"] == argparse.Namespace(arch="vit_small", patch_size=16)
    assert _same(got["teacher"], _state())
    # allowed for that call only: the next load without it is refused again
    assert argparse.Namespace not in torch.serialization.get_safe_globals()
    with pytest.raises(ValueError):
        load_state_dict(path, config_key=KEY)


def test_missing_file_or_unknown_name_names_the_config_key(tmp_path):
    for missing in (tmp_path / "absent.pth", "absent.safetensors", "weights/absent", "model.pkl"):
        with pytest.raises(WeightsNotFoundError) as err:
            load_state_dict(missing, config_key=KEY, hint="Download it from the project page.")
        assert str(err.value) == f"{KEY}={missing}: no such file. Download it from the project page."
    with pytest.raises(WeightsNotFoundError) as err:
        load_state_dict("dino_vits16", config_key=KEY)
    assert str(err.value) == f"{KEY}=dino_vits16: neither a file nor an http(s) URL."
    with pytest.raises(FileNotFoundError):  # callers may catch the builtin class
        load_state_dict("dino_vits16", config_key=KEY)
    folder = tmp_path / "a_folder.pth"
    folder.mkdir()
    with pytest.raises(WeightsNotFoundError, match="no such file"):  # a folder is not a weights file
        load_state_dict(folder, config_key=KEY)


# ----------------------------------------------------------------------------- URLs (loopback server)


@pytest.fixture(scope="module")
def server():
    """A real HTTP server on 127.0.0.1 (tests/loopback.py); each test adds its own routes."""
    with LoopbackServer() as srv:
        yield srv


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _serve(server, path: str, body: bytes, **route) -> str:
    server.routes[path] = Route(body, content_type="application/octet-stream", **route)
    return server.url(path)


def test_url_is_downloaded_once_into_the_cache(server, tmp_path):
    url = _serve(server, "/once/w.pth", _bytes(_state()))
    cache = tmp_path / "cache"
    assert _same(load_state_dict(url, config_key=KEY, cache_dir=cache), _state())
    assert (cache / "w.pth").is_file()
    assert _same(load_state_dict(url, config_key=KEY, cache_dir=cache), _state())  # from the cache
    assert server.hits["/once/w.pth"] == 1


def test_unreachable_url_says_how_to_work_offline(server, tmp_path):
    url = server.url("/absent.pth")  # the server answers 404
    with pytest.raises(WeightsNotFoundError) as err:
        load_state_dict(url, config_key=KEY, cache_dir=tmp_path / "c", hint="See the README.")
    text = str(err.value)
    assert text.startswith(f"cannot load weights '{url}' for {KEY} (HTTPError: HTTP Error 404")
    assert f"Set {KEY}=/path/to/file to a local copy" in text and text.endswith("See the README.")
    assert not list((tmp_path / "c").glob("*.pth"))  # nothing cached


def test_hostile_pickle_behind_a_url_is_refused_without_running(server, tmp_path):
    marker = tmp_path / "pwned"
    url = _serve(server, "/evil/w.pth", _bytes({"x": Hostile(str(marker))}))
    with pytest.raises(
        ValueError, match=rf"{KEY}=.*not a readable weights-only checkpoint \(UnpicklingError"
    ):
        load_state_dict(url, config_key=KEY, cache_dir=tmp_path / "c")
    assert not marker.exists()
    assert not (tmp_path / "c" / "w.pth").exists()  # not kept in the cache


def test_refused_download_is_not_reported_as_an_offline_problem(server, tmp_path):
    url = _serve(server, "/evil2/w.pth", _bytes({"x": Hostile(str(tmp_path / "pwned"))}))
    with pytest.raises((WeightsNotFoundError, ValueError)) as err:
        load_state_dict(url, config_key=KEY, cache_dir=tmp_path / "c")
    assert KEY in str(err.value) and "machine with internet" not in str(err.value)


def test_a_cut_off_download_does_not_poison_the_cache(server, tmp_path):
    body = _bytes(_state())
    url = _serve(server, "/cut/w.pth", body, truncate_to=len(body) // 2)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="it was removed, so the next run downloads it again"):
        load_state_dict(url, config_key=KEY, cache_dir=cache)
    _serve(server, "/cut/w.pth", body)  # the server is fine again
    assert _same(load_state_dict(url, config_key=KEY, cache_dir=cache), _state())


# ----------------------------------------------------------------------------- timm models


def _vit_state(tmp_path, name="w.pth", **kwargs):
    import timm

    torch.manual_seed(1)
    model = timm.create_model("test_vit", pretrained=False, **kwargs)
    path = tmp_path / name
    torch.save(model.state_dict(), path)
    return model, path


def test_timm_model_from_a_weights_file(tmp_path):
    ref, path = _vit_state(tmp_path, num_classes=0)
    torch.manual_seed(2)  # a different random init, overwritten by the file
    model = create_timm_model("test_vit", config_key=KEY, weights_file=path, num_classes=0)
    assert _same(model.state_dict(), ref.state_dict())


def test_timm_extra_keys_are_ignored_with_a_warning(tmp_path, caplog):
    ref, _ = _vit_state(tmp_path, num_classes=0)
    state = {**ref.state_dict(), "dino_head.weight": torch.zeros(1)}
    torch.save(state, tmp_path / "extra.pth")
    with caplog.at_level(logging.WARNING, logger="sdstylegan.utils.weights"):
        model = create_timm_model(
            "test_vit", config_key=KEY, weights_file=tmp_path / "extra.pth", num_classes=0
        )
    assert _same(model.state_dict(), ref.state_dict())
    assert (
        f"{KEY}={tmp_path / 'extra.pth'}: ignored 1 unexpected keys, e.g. ['dino_head.weight']" in caplog.text
    )


def test_timm_weights_of_another_architecture_are_refused_by_name(tmp_path):
    import timm

    torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), tmp_path / "resnet.pth")
    with pytest.raises(ValueError) as err:
        create_timm_model("test_vit", config_key=KEY, weights_file=tmp_path / "resnet.pth")
    text = str(err.value)
    assert text.startswith(f"{KEY}={tmp_path / 'resnet.pth'}: ") and "weights missing for test_vit" in text
    assert text.endswith("is it a checkpoint of this architecture?")
    with pytest.raises(WeightsNotFoundError, match=f"{KEY}=.*absent.pth: no such file"):
        create_timm_model("test_vit", config_key=KEY, weights_file=tmp_path / "absent.pth")


def test_timm_weights_with_other_shapes_are_refused_by_name(tmp_path):
    _, path = _vit_state(tmp_path, num_classes=10)  # same keys, head of another size
    with pytest.raises(ValueError, match=KEY):
        create_timm_model("test_vit", config_key=KEY, weights_file=path)


def test_standin_timm_model_warns_loudly(caplog):
    with caplog.at_level(logging.WARNING, logger="sdstylegan.utils.weights"):
        model = create_timm_model("test_vit", config_key=KEY, pretrained=False, num_classes=0)
    assert model.num_classes == 0
    assert (
        f"STAND-IN: test_vit ({KEY}) uses random weights; its outputs are for tests/demo only and are "
        f"labelled '{STANDIN_SUFFIX}'. Configure real weights for meaningful results."
    ) in caplog.messages


def test_standin_warning_text(caplog):
    with caplog.at_level(logging.WARNING, logger="sdstylegan.utils.weights"):
        standin_warning("inception (metrics.inception.weights)")
    (rec,) = caplog.records
    assert rec.levelno == logging.WARNING and STANDIN_SUFFIX == "_standin"
    assert rec.getMessage().startswith("STAND-IN: inception (metrics.inception.weights) uses random weights")


def test_timm_hub_offline_names_the_config_key_and_hint(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # never the internet
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))  # nothing cached
    with pytest.raises(WeightsNotFoundError) as err:
        create_timm_model("test_vit", config_key=KEY, hint="Download test_vit.")
    assert str(err.value).startswith(f"cannot load weights 'test_vit' for {KEY} (")
    assert str(err.value).endswith("Download test_vit.")
    with pytest.raises(WeightsNotFoundError, match=r"Unknown model"):  # a misspelt name says so too
        create_timm_model("test_vitt", config_key=KEY)

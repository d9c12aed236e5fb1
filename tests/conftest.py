"""Shared fixtures: composed configs with a temporary run directory; GPU tests skip without CUDA."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def tiny_run(num_images: int = 12, resolution: int = 16, experiment: str = "demo") -> list[str]:
    """Overrides for a whole-pipeline test run in seconds: tiny demo data, a tiny StyleGAN2, stand-in metrics,
    no progress bars; test files add what they exercise."""
    return [
        f"experiment={experiment}",
        f"dataset.num_images={num_images}",
        f"dataset.resolution={resolution}",
        f"dataset.image_size={resolution}",
        "dataset.num_workers=1",
        "dataset.datamodule.num_workers=0",
        "model.channel_base=256",
        "model.channel_max=16",
        "model.z_dim=16",
        "model.w_dim=16",
        "training.batch_size=4",
        "metrics=standin",
        "trainer.enable_progress_bar=false",
        "print_config=false",
    ]


def compose_config(overrides: list[str], run_dir: Path | None = None) -> DictConfig:
    """Compose conf/config.yaml like train.py does; `paths.run_dir` points at `run_dir`."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(config_name="config", overrides=overrides)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.paths.run_dir = str(run_dir)
            cfg.paths.output_dir = str(run_dir.parent)
            cfg.paths.cache_dir = str(run_dir.parent / "cache")  # never the user's ~/.cache
    return cfg


@pytest.fixture
def make_cfg(tmp_path):
    """`make_cfg([...overrides])` → config whose run directory is a fresh temp folder."""

    def _make(overrides: list[str] | None = None, run_dir: Path | None = None) -> DictConfig:
        return compose_config(list(overrides or []), run_dir or tmp_path / "run")

    return _make


@pytest.fixture
def http_dir(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/www: yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()

from __future__ import annotations

import pytest
import torch

from sdstylegan.data.datamodule import ManifestDataModule, ManifestImageDataset
from sdstylegan.data.demo_stage import generate_demo_dataset
from sdstylegan.data.manifest import read_manifest, write_manifest


@pytest.fixture(scope="module")
def demo_manifest(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    generate_demo_dataset(d, 24, seed=0, resolution=32, num_workers=1)
    return d / "manifest.jsonl"


def test_batch_shape_dtype_range(demo_manifest):
    dm = ManifestDataModule(str(demo_manifest), resolution=32, batch_size=8, num_workers=0, xflip=False)
    batch = next(iter(dm.train_dataloader()))
    assert batch.dtype == torch.uint8 and batch.shape == (8, 3, 32, 32)
    x = dm.on_after_batch_transfer(batch, 0)
    assert x.dtype == torch.float32 and x.shape == (8, 3, 32, 32)
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.5 and x.max() > 0.5


def test_xflip_doubles_with_mirrors(demo_manifest):
    ds = ManifestImageDataset(demo_manifest, 32, xflip=True)
    assert len(ds) == 48
    assert torch.equal(ds[24 + 3], ds[3].flip(-1))


def test_resizes_to_resolution_and_skips_unusable(demo_manifest, tmp_path):
    recs = read_manifest(demo_manifest)
    for r in recs:
        r.orig_path = str(demo_manifest.parent / r.orig_path)
    recs[0].status, recs[1].kept = "truncated", False
    m = tmp_path / "m.jsonl"
    write_manifest(m, recs)
    ds = ManifestImageDataset(m, 16)
    assert len(ds) == 22 and ds[0].shape == (3, 16, 16)


def test_refuses_bad_settings(demo_manifest):
    with pytest.raises(ValueError, match="power of two"):
        ManifestDataModule(str(demo_manifest), resolution=100)
    dm = ManifestDataModule(str(demo_manifest), resolution=32, batch_size=64, xflip=False, num_workers=0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        dm.setup()

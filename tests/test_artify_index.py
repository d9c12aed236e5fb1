"""artify.index: a folder of art (with broken files) → float16 shards; a killed run resumes to the same index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdstylegan.artify.index import (
    IndexMismatchError,
    build_index,
    image_tensor,
    index_summary,
    shard_paths,
)
from sdstylegan.artify.patches import global_descriptor
from sdstylegan.artify.procedural import write_collection
from sdstylegan.artify.vgg import VGGFeatures

RES = 64


@pytest.fixture(scope="module")
def vgg():
    return VGGFeatures("vgg19", pretrained=False, width=0.125, layers=("conv5_1",))


@pytest.fixture
def collection(tmp_path):
    folder = tmp_path / "art"
    paths = write_collection(folder / "sub", 10, side=48)
    (folder / "notes.txt").write_text("not a picture")
    (folder / "broken.jpg").write_bytes(paths[0].read_bytes()[:200])
    (folder / "empty.png").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"\0\1")  # hidden: not part of the collection
    return folder


def shard_contents(out) -> dict[str, np.ndarray]:
    maps = {}
    for p in shard_paths(out):
        with np.load(p) as z:
            maps.update(zip(z["keys"].tolist(), z["maps"]))
    return maps


def test_index_holds_float16_maps_descriptors_and_skip_reasons(collection, tmp_path, vgg):
    out = tmp_path / "index"
    run = build_index(collection, out, vgg, resolution=RES, shard_size=4, batch_size=3, progress=False)
    assert run["new_files"] == 13 and run["counts"] == {
        "indexed": 10,
        "not_image": 1,
        "truncated": 1,
        "empty": 1,
    }
    summary = index_summary(out)
    assert summary["indexed"] == 10 and summary["shards"] == 4
    assert summary["skipped"] == {"not_image": 1, "truncated": 1, "empty": 1}
    assert "notes.txt" in summary["skipped_examples"]["not_image"]
    with np.load(shard_paths(out)[0]) as z:
        assert z["maps"].dtype == np.float16 and z["descriptors"].dtype == np.float16
        key, fmap, desc = str(z["keys"][0]), z["maps"][0], z["descriptors"][0]
    assert fmap.shape == (64, RES // 16, RES // 16)
    x = image_tensor(collection / key, RES)  # any size in, centre crop to RES² out
    with torch.no_grad():
        want = vgg(x[None])["conv5_1"]
    np.testing.assert_allclose(fmap.astype(np.float32), want[0].numpy(), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(
        desc.astype(np.float32), global_descriptor(want)[0].numpy(), rtol=1e-2, atol=1e-2
    )


def test_killed_run_resumes_to_the_one_shot_index(collection, tmp_path, vgg):
    whole = tmp_path / "whole"
    build_index(collection, whole, vgg, resolution=RES, shard_size=4, progress=False)
    part = tmp_path / "part"
    first = build_index(collection, part, vgg, resolution=RES, shard_size=4, max_images=6, progress=False)
    assert first["new_files"] == 6 and len(shard_paths(part)) == 2
    # what a kill in the middle of the next shard leaves: atomic_open's temp file, never a shard
    (part / "shards" / ".shard_00002.npz.abc123.tmp").write_bytes(b"PK\3\4 half a shard")
    second = build_index(collection, part, vgg, resolution=RES, shard_size=4, progress=False)
    assert second["new_files"] == 7  # only the rest
    a, b = shard_contents(whole), shard_contents(part)
    assert sorted(a) == sorted(b) and len(a) == 10
    for k in a:
        np.testing.assert_allclose(
            a[k].astype(np.float32), b[k].astype(np.float32), atol=2e-3
        )  # other batches
    assert build_index(collection, part, vgg, resolution=RES, progress=False)["new_files"] == 0
    write_collection(collection / "sub", 11, side=48)  # one artwork added since
    assert build_index(collection, part, vgg, resolution=RES, progress=False)["counts"] == {"indexed": 1}
    assert index_summary(part)["indexed"] == 11


def test_damaged_shard_is_set_aside_and_redone(collection, tmp_path, vgg):
    out = tmp_path / "index"
    build_index(collection, out, vgg, resolution=RES, shard_size=20, progress=False)
    shard = shard_paths(out)[0]
    shard.write_bytes(shard.read_bytes()[:100])  # disk damage
    run = build_index(collection, out, vgg, resolution=RES, shard_size=20, progress=False)
    assert run["new_files"] == 13 and shard.with_suffix(".npz.damaged").is_file()
    assert index_summary(out)["indexed"] == 10


def test_other_features_refuse_to_extend_an_index(collection, tmp_path, vgg):
    out = tmp_path / "index"
    build_index(collection, out, vgg, resolution=RES, max_images=2, progress=False)
    with pytest.raises(IndexMismatchError, match="resolution"):
        build_index(collection, out, vgg, resolution=96, progress=False)
    other = VGGFeatures("vgg19", pretrained=False, width=0.125, layers=("conv5_1",), seed=1)
    with pytest.raises(IndexMismatchError, match="vgg"):
        build_index(collection, out, other, resolution=RES, progress=False)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        build_index(tmp_path / "absent", out, vgg, resolution=RES, progress=False)

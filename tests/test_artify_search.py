"""artify.search: exact retrieval equals a loop brute force; the two-stage search agrees; the known answer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sdstylegan.artify.index import build_index, image_tensor
from sdstylegan.artify.procedural import artwork, patchwork, write_collection
from sdstylegan.artify.search import ArtIndex, build_ann, exact_search, two_stage_search
from sdstylegan.artify.vgg import VGGFeatures

sys.path.insert(0, str(Path(__file__).parent))
from test_artify_patches import loop_score  # noqa: E402

RES = 64


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    vgg = VGGFeatures("vgg19", pretrained=False, width=0.125, layers=("conv5_1",))
    write_collection(root / "art", 16, side=64)
    build_index(root / "art", root / "index", vgg, resolution=RES, shard_size=5, progress=False)
    return vgg, root


def query(vgg, image) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(image.resize((RES, RES)), np.float32)).permute(2, 0, 1) / 127.5 - 1
    with torch.no_grad():
        return vgg(x[None])["conv5_1"][0]


def test_exact_search_equals_a_loop_brute_force(setup):
    vgg, root = setup
    index = ArtIndex(root / "index")
    content = query(vgg, artwork(999, (64, 64)))
    hits = exact_search(index, content, top_k=len(index))
    brute = {}
    for key in index.keys:  # from the image files, not the index: recompute features, score pair by pair
        with torch.no_grad():
            fmap = vgg(image_tensor(root / "art" / key, RES)[None])["conv5_1"][0]
        brute[key] = loop_score(content.numpy(), fmap.half().float().numpy())
    order = sorted(brute, key=brute.get, reverse=True)
    assert [h.key for h in hits] == order
    np.testing.assert_allclose([h.score for h in hits], [brute[k] for k in order], rtol=1e-3)
    assert hits[0].path == str((root / "art" / order[0]).resolve())


def test_two_stage_agrees_with_exact(setup):
    vgg, root = setup
    index = ArtIndex(root / "index")
    for i in range(4):
        c = query(vgg, artwork(500 + i, (64, 64)))
        exact = exact_search(index, c, top_k=3)
        full = two_stage_search(index, c, shortlist=len(index), top_k=3)  # the short list is everything
        assert [(h.key, round(h.score, 4)) for h in full] == [(h.key, round(h.score, 4)) for h in exact]
        short = two_stage_search(index, c, shortlist=4, top_k=3)
        assert len(short) == 3 and all(h.score <= exact[0].score + 1e-5 for h in short)


def test_ann_is_rebuilt_when_the_shards_change(setup, tmp_path):
    vgg, root = setup
    build_index(root / "art", tmp_path / "index", vgg, resolution=RES, max_images=10, progress=False)
    index = ArtIndex(tmp_path / "index")
    info = build_ann(index)
    assert info["count"] == 10 and build_ann(index) == info  # kept while the rows are the same
    build_index(root / "art", tmp_path / "index", vgg, resolution=RES, progress=False)
    assert build_ann(ArtIndex(tmp_path / "index"))["count"] == 16
    with pytest.raises(FileNotFoundError, match="not an artify index"):
        ArtIndex(tmp_path / "nothing")


def test_patchwork_of_an_artwork_retrieves_that_artwork(setup, tmp_path):
    """The known answer. At conv3_1: a random stand-in's conv5_1 mixes the whole 64² picture into every
    position, so shuffled tiles defeat it (measured: 9–11 of 16); real VGG weights are what conv5_1 is for."""
    _, root = setup
    vgg = VGGFeatures("vgg19", pretrained=False, width=0.125, layers=("conv3_1",))
    build_index(root / "art", tmp_path / "index", vgg, layer="conv3_1", resolution=RES, progress=False)
    index = ArtIndex(tmp_path / "index")
    exact_ok = two_stage_ok = 0
    for i in range(16):
        key = f"art_{i:06d}.jpg"
        pw = patchwork(Image.open(root / "art" / key), seed=i, tiles=2, size=RES)
        x = torch.from_numpy(np.asarray(pw, np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
        with torch.no_grad():
            content = vgg(x)["conv3_1"][0]
        exact_ok += exact_search(index, content, 1)[0].key == key
        two_stage_ok += two_stage_search(index, content, 4, 1)[0].key == key
    assert exact_ok >= 15 and two_stage_ok >= 15  # chance: 1 of 16


def test_a_damaged_shard_is_skipped_by_searches_and_left_in_place(setup, tmp_path):
    vgg, root = setup
    build_index(root / "art", tmp_path / "index", vgg, resolution=RES, shard_size=8, progress=False)
    shard = sorted((tmp_path / "index" / "shards").glob("shard_*.npz"))[0]
    shard.write_bytes(shard.read_bytes()[:64])
    index = ArtIndex(tmp_path / "index")
    assert len(index) == 8 and shard.is_file()  # the other shard's images; the file untouched

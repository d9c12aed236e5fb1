"""artify.procedural: the offline art collection is deterministic, varied, fast, and its patchworks are real tiles."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from sdstylegan.artify.procedural import art_size, artwork, patchwork, write_collection


def test_artworks_are_deterministic_and_distinct():
    a, b = np.asarray(artwork(3, (40, 30))), np.asarray(artwork(3, (40, 30)))
    assert a.shape == (30, 40, 3) and np.array_equal(a, b)
    others = [np.asarray(artwork(s, (40, 30))).astype(float) for s in range(4, 10)]
    assert min(np.abs(a - o).mean() for o in others) > 5  # not near-copies of each other
    means = np.array([o.reshape(-1, 3).mean(0) for o in others])
    assert means.std(axis=0).max() > 10  # palettes differ


def test_collection_sizes_vary_and_files_are_kept(tmp_path):
    t = time.perf_counter()
    paths = write_collection(tmp_path, 60, side=48)
    assert time.perf_counter() - t < 20  # thousands per minute even on a loaded CPU
    sizes = {Image.open(p).size for p in paths}
    assert len(sizes) >= 3 and all(48 in s for s in sizes)
    assert {art_size(i, 48) for i in range(60)} == sizes
    stamp = paths[0].stat().st_mtime_ns
    assert write_collection(tmp_path, 60, side=48) == paths and paths[0].stat().st_mtime_ns == stamp


def test_patchwork_is_made_of_the_artworks_tiles():
    img = artwork(7, (64, 64))
    pw = np.asarray(patchwork(img, seed=1, tiles=4, size=64))
    src = np.asarray(img)
    tiles = {src[i : i + 16, j : j + 16].tobytes() for i in range(0, 64, 16) for j in range(0, 64, 16)}
    tiles |= {
        src[i : i + 16, j : j + 16][:, ::-1].tobytes() for i in range(0, 64, 16) for j in range(0, 64, 16)
    }
    got = [
        np.ascontiguousarray(pw[i : i + 16, j : j + 16]).tobytes()
        for i in range(0, 64, 16)
        for j in range(0, 64, 16)
    ]
    assert all(t in tiles for t in got)
    assert not np.array_equal(pw, src)

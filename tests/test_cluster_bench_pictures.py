"""cluster_bench.pictures: per-cluster grids and the two-panel 2-D embedding."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from sdstylegan.cluster_bench.images import from_folder
from sdstylegan.cluster_bench.pictures import cluster_grid, embedding_plot, palette

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import class_folder  # noqa: E402


def test_grid_has_a_row_per_used_cluster_headed_by_its_colour(tmp_path):
    s = from_folder(class_folder(tmp_path / "imgs", per_class=3))
    pred = np.array([0, 0, 0, 4, 4, 4, 4, 4, 4])  # clusters 1–3 empty: no rows for them
    path = cluster_grid(s, pred, tmp_path / "grid.png", per_cluster=4, size=8)
    img = np.asarray(Image.open(path))
    assert img.shape == (2 * 8, 5 * 8, 3)
    assert tuple(img[4, 4]) == palette(5)[0] and tuple(img[12, 4]) == palette(5)[4]
    blue = img[4, 8:32].mean(axis=0)
    assert blue[2] > 150 and blue[0] < 100  # row 0 shows the three blue images (class-folder order) ...
    assert (img[4, 36] == 0).all() and not (img[12, 36] == 0).all()  # ... then black; cluster 4 fills its row


def test_embedding_two_panels_coloured_by_cluster_and_by_label(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (20, 6)), rng.normal(8, 1, (20, 6))])
    pred, labels = np.repeat([0, 1], 20), np.r_[np.repeat([1, 0], [19, 1]), np.full(20, -1)]
    img = np.asarray(Image.open(embedding_plot(x, pred, labels, tmp_path / "e.png", side=100)))
    assert img.shape == (100, 208, 3)
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert {palette(2)[0], palette(2)[1]} <= colours  # left: clusters
    assert (170, 170, 170) in colours  # right: unlabelled images grey

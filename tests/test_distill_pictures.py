"""Histogram with θ and image grids: pixels where they must be."""

from __future__ import annotations

import torch

from sdstylegan.distill.pictures import grid, pair_grid, score_histogram
from sdstylegan.utils.pictures import save_png


def test_histogram_colours_kept_and_removed_bars(tmp_path):
    scores = torch.tensor([0.1] * 10 + [0.9] * 5)
    img = score_histogram(scores, theta=0.5, bins=10, size=(330, 200))
    # 10 bins of 27 px from x = 30; bin 0 (score 0.1) is kept (blue), bin 9 (0.9) removed (red)
    assert img.getpixel((30 + 13, 200 - 31)) == (60, 120, 200)
    assert img.getpixel((30 + 9 * 27 + 13, 200 - 31)) == (200, 70, 60)
    assert img.getpixel((30 + 5 * 27 + 13, 200 - 31)) in ((255, 255, 255), (0, 0, 0))  # empty bin
    # the tallest bar reaches the top margin, the half-height one half-way
    assert img.getpixel((30 + 13, 31)) == (60, 120, 200)
    assert img.getpixel((30 + 9 * 27 + 13, 60)) == (255, 255, 255)
    save_png(img, tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0


def test_grid_places_images_row_major():
    imgs = torch.stack([torch.full((3, 2, 2), v) for v in (-1.0, 0.0, 1.0)])
    g = grid(imgs, cols=2)
    assert g.size == (4, 4)
    assert g.getpixel((0, 0)) == (0, 0, 0) and g.getpixel((2, 0)) == (128, 128, 128)
    assert g.getpixel((0, 2)) == (255, 255, 255) and g.getpixel((2, 2)) == (0, 0, 0)  # empty cell
    pairs = pair_grid([(imgs[0], imgs[2])] * 3, per_row=2)
    assert pairs.size == (8, 4) and pairs.getpixel((2, 0)) == (255, 255, 255)

"""Image grids and atomic PNG saves."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sdstylegan.utils.pictures import image_grid, save_png


def test_grid_places_images_row_major_and_maps_minus_one_to_one_onto_bytes():
    x = torch.stack([torch.full((3, 2, 3), v) for v in (-1.0, -0.5, 0.0, 0.5, 1.0)])  # 5 flat tiles
    pic = np.asarray(image_grid(x, cols=2))
    assert pic.shape == (3 * 2, 2 * 3, 3)  # 3 rows of 2 tiles of 2×3 pixels, RGB
    expect = [[0, 64], [128, 191], [255, 0]]  # round((v + 1)·127.5); the missing sixth tile is black
    for r in range(3):
        for c in range(2):
            assert (pic[2 * r : 2 * r + 2, 3 * c : 3 * c + 3] == expect[r][c]).all()


def test_one_channel_gives_a_greyscale_picture_and_default_columns_are_square_root():
    x = torch.linspace(-1, 1, 9).view(9, 1, 1, 1).expand(9, 1, 2, 2)
    pic = image_grid(x)
    assert pic.mode == "L" and pic.size == (6, 6)  # ceil(√9) = 3 columns
    assert np.asarray(pic)[0, 2] == round((x[1, 0, 0, 0].item() + 1) * 127.5)


def test_values_outside_the_range_are_clipped_and_save_png_is_readable(tmp_path):
    x = torch.tensor([-3.0, 3.0]).view(2, 1, 1, 1)
    pic = image_grid(x, cols=2)
    assert np.asarray(pic).tolist() == [[0, 255]]
    save_png(pic, tmp_path / "g.png")
    assert np.asarray(Image.open(tmp_path / "g.png")).tolist() == [[0, 255]]
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]

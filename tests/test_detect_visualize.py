"""Overlay pictures: mask tint, box colours and grid layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sdstylegan.detect.visualize import Overlay, draw_overlay, overlay_grid


def tile_for(mask: np.ndarray | None = None) -> Overlay:
    return Overlay(
        Image.new("RGB", (64, 64), (0, 0, 255)),
        mask,
        patch_px=16,
        box=(16, 16, 48, 48),
        crop=(8, 8, 56, 56),
        label="ok",
    )


def test_mask_is_tinted_and_boxes_drawn():
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    a = np.asarray(draw_overlay(tile_for(mask), tile=64))
    assert a[4, 4, 0] > 80 and a[4, 4, 2] < 200  # masked patch: red tint over blue
    assert tuple(a[40, 40]) == (0, 0, 255)  # unmasked, inside both boxes: untouched
    assert tuple(a[16, 30]) == (255, 60, 60)  # object box outline: red
    assert tuple(a[8, 30]) == (40, 220, 60)  # crop square outline: green


def test_grid_layout_and_title():
    g = overlay_grid([tile_for() for _ in range(5)], columns=2, tile=32, title="STAND-IN")
    assert g.size == (64, 3 * (32 + 14) + 18)
    assert np.asarray(g)[:18].max() > 200  # the title is drawn
    with pytest.raises(ValueError):
        overlay_grid([])

"""Crop geometry: square around the box, border policies, rejections, the pixels of the crop."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sdstylegan.detect.crop import (
    BOX_TOO_SMALL,
    CROP_OUTSIDE,
    WHOLE_FRAME,
    CropPolicy,
    clip_box,
    crop_box,
    cut_square,
    reject_reason,
    square_around,
)


def test_square_is_centred_with_margin():
    assert square_around((40, 50, 60, 90), 0.0) == (30, 50, 70, 90)
    assert square_around((40, 50, 60, 90), 0.25) == (20, 40, 80, 100)  # 40 · 1.5 = 60


@pytest.mark.parametrize(
    "box,expect",
    [
        ((0, 0, 20, 20), (0, 0, 24, 24)),  # top-left corner: slid right and down
        ((180, 130, 200, 150), (176, 126, 200, 150)),  # bottom-right corner: slid left and up
        ((90, 60, 110, 80), (88, 58, 112, 82)),  # inside: untouched
    ],
)
def test_shift_keeps_the_square_inside(box, expect):
    assert crop_box(box, (200, 150), CropPolicy(margin=0.1)) == expect


def test_shift_shrinks_a_square_larger_than_the_image():
    region = crop_box((10, 5, 190, 95), (200, 100), CropPolicy(margin=0.1))
    assert region == (50, 0, 150, 100)  # side = image height, centred on the box


def test_pad_keeps_the_square_and_replicates_edges():
    img = Image.fromarray(np.tile(np.arange(10, dtype=np.uint8)[None, :, None] * 20, (10, 1, 3)))
    region = crop_box((0, 2, 4, 6), (10, 10), CropPolicy(margin=0.5, policy="pad"))
    assert region == (-2, 0, 6, 8)
    out = np.asarray(cut_square(img, region, 8))
    assert out.shape == (8, 8, 3)
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 0, 20, 40, 60, 80, 100])  # two replicated columns
    assert clip_box(region, (10, 10)) == (0, 0, 6, 8)


def test_skip_rejects_squares_leaving_the_image():
    policy = CropPolicy(margin=0.1, policy="skip")
    assert reject_reason((0, 0, 30, 30), (100, 100), policy) == CROP_OUTSIDE
    assert reject_reason((30, 30, 60, 60), (100, 100), policy) is None


def test_box_size_rejections():
    p = CropPolicy(min_box_area=0.01, min_box_side=8, max_box_area=0.9)
    assert reject_reason((0, 0, 100, 96), (100, 100), p) == WHOLE_FRAME
    assert reject_reason((0, 0, 9, 9), (100, 100), p) == BOX_TOO_SMALL  # 0.8 % of the area
    assert reject_reason((0, 0, 60, 5), (100, 100), p) == BOX_TOO_SMALL  # thin
    assert reject_reason((10, 10, 50, 50), (100, 100), p) is None


def test_weak_cut_rejection_only_above_max_ncut():
    p = CropPolicy(max_ncut=0.3)
    assert reject_reason((10, 10, 50, 50), (100, 100), p, ncut_value=0.31) == "weak_cut"
    assert reject_reason((10, 10, 50, 50), (100, 100), p, ncut_value=0.3) is None
    assert reject_reason((10, 10, 50, 50), (100, 100), CropPolicy(), ncut_value=1.9) is None  # off by default
    with pytest.raises(ValueError, match="max_ncut"):
        CropPolicy(max_ncut=2.5)


def test_center_source_ignores_the_box():
    p = CropPolicy(source="center", max_box_area=0.5)
    assert crop_box((0, 0, 5, 5), (300, 200), p) == (50, 0, 250, 200)
    assert reject_reason((0, 0, 300, 200), (300, 200), p) is None


def test_cut_square_takes_the_region_and_resizes():
    a = np.zeros((60, 80, 3), np.uint8)
    a[10:30, 20:40] = (255, 0, 0)
    out = cut_square(Image.fromarray(a), (20, 10, 40, 30), 16)
    assert out.size == (16, 16)
    assert (np.asarray(out)[..., 0] > 250).all() and (np.asarray(out)[..., 1] < 5).all()


def test_bad_policy_values_are_refused():
    with pytest.raises(ValueError, match="policy"):
        CropPolicy(policy="wrap")
    with pytest.raises(ValueError, match="min_box_area"):
        CropPolicy(min_box_area=0.5, max_box_area=0.4)
    with pytest.raises(ValueError, match="source"):
        CropPolicy(source="oracle")

from __future__ import annotations

import pytest

from sdstylegan.data.boxes import box_iou, sdip_to_xyxy, xyxy_to_sdip


def test_conversion_pair_round_trips_and_matches_slicing():
    import numpy as np

    img = np.arange(20 * 30).reshape(20, 30)
    sdip = [3, 11, 5, 17]  # [y0, y1, x0, x1] applied as img[y0:y1, x0:x1]
    x0, y0, x1, y1 = sdip_to_xyxy(sdip)
    assert (x0, y0, x1, y1) == (5, 3, 17, 11)
    assert np.array_equal(img[y0:y1, x0:x1], img[sdip[0] : sdip[1], sdip[2] : sdip[3]])
    assert xyxy_to_sdip((x0, y0, x1, y1)) == sdip


@pytest.mark.parametrize("bad", [[1, 2, 3], [5, 5, 0, 4], [0, 4, 9, 2]])
def test_malformed_boxes_are_refused(bad):
    with pytest.raises(ValueError):
        sdip_to_xyxy(bad)


def test_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)

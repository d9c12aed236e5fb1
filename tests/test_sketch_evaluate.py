"""Sketch distance: symmetric chamfer in pixels, nearest held-out sketch, empty sketches far from everything."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdstylegan.sketch.evaluate import chamfer_matrix, sketch_distance


def vertical_line(x: int, size: int = 16, y0: int = 2, y1: int = 14) -> torch.Tensor:
    s = torch.ones(1, 1, size, size)
    s[0, 0, y0:y1, x] = -1
    return s


def test_chamfer_of_shifted_lines_is_the_shift():
    a = vertical_line(5)
    d = chamfer_matrix(a, torch.cat([vertical_line(5), vertical_line(8), vertical_line(12)]))
    assert d.shape == (1, 3)
    np.testing.assert_allclose(d[0], [0.0, 3.0, 7.0])


def test_chamfer_is_symmetric_and_counts_extra_strokes():
    a = vertical_line(4)
    b = vertical_line(4).clone()
    b[0, 0, 8, 10:14] = -1  # an extra horizontal stroke
    ab, ba = chamfer_matrix(a, b)[0, 0], chamfer_matrix(b, a)[0, 0]
    assert ab == pytest.approx(ba) and ab > 0


def test_empty_sketch_is_the_image_size_away_and_distance_takes_the_nearest():
    blank = torch.ones(1, 1, 16, 16)
    assert chamfer_matrix(blank, vertical_line(3))[0, 0] == pytest.approx(16.0)
    held = torch.cat([vertical_line(2), vertical_line(10)])
    samples = torch.cat([vertical_line(3), vertical_line(10)])
    assert sketch_distance(samples, held) == pytest.approx(0.5)  # (1 + 0) / 2

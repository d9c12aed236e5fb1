"""Demo ground-truth sketches: deterministic outlines of the chosen mode, standing where the pose says."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sdstylegan.sketch.demo_sketches import SketchPose, mode_index, render_sketch, write_demo_sketches


def line_box(img: Image.Image) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(np.asarray(img) < 128)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def test_same_arguments_same_pixels_and_a_closed_outline():
    a = render_sketch(1, 0, 3, 64, SketchPose())
    b = render_sketch(1, 0, 3, 64, SketchPose())
    assert a.mode == "L" and a.size == (64, 64)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(render_sketch(1, 0, 4, 64, SketchPose())))
    px = np.asarray(a)
    assert (px < 128).mean() < 0.15, "lines, not a filled silhouette"
    assert px[32, 32] > 200, "the inside of the outline is paper"


def test_pose_places_the_gourd_and_modes_have_their_own_shapes():
    left = line_box(render_sketch(1, 0, 0, 64, SketchPose(center=(0.3, 0.6), jitter=0)))
    right = line_box(render_sketch(1, 0, 0, 64, SketchPose(center=(0.7, 0.6), jitter=0)))
    assert right[0] - left[0] == pytest.approx(0.4 * 64, abs=2)
    imperial = line_box(render_sketch(mode_index("imperial"), 0, 0, 64, SketchPose(jitter=0)))
    calabash = line_box(render_sketch(mode_index("calabash"), 0, 0, 64, SketchPose(jitter=0)))
    body_width = lambda box: box[2] - box[0]  # noqa: E731  (the straw can widen a box; bodies differ more)
    assert body_width(calabash) > body_width(imperial) + 5


def test_bad_mode_and_pose_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a demo mode; choose one of"):
        mode_index("teapot")
    with pytest.raises(ValueError, match="modes 0..3"):
        mode_index(7)
    with pytest.raises(ValueError, match="pose out of the frame"):
        write_demo_sketches(tmp_path, 0, 0, 1, 32, SketchPose(center=(0.95, 0.5)))


def test_write_demo_sketches_numbers_files_after_start(tmp_path):
    paths = write_demo_sketches(tmp_path, 2, 0, 3, 32, SketchPose(), start=5)
    assert [p.name for p in paths] == ["palo_santo_0005.png", "palo_santo_0006.png", "palo_santo_0007.png"]
    assert np.array_equal(
        np.asarray(Image.open(paths[0])), np.asarray(render_sketch(2, 0, 5, 32, SketchPose()))
    )

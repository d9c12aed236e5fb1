"""Demo ground-truth sketches: deterministic outlines of the chosen mode, standing where the pose says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sdstylegan.data.demo import DemoStyle
from sdstylegan.sketch.demo_sketches import (
    SketchPose,
    mode_index,
    render_pose_photo,
    render_sketch,
    write_demo_sketches,
)
from sdstylegan.sketch.sketchers import XDoGSketcher


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


def test_sketcher_style_is_f_of_demo_photos_of_the_pose(tmp_path):
    F = XDoGSketcher()
    paths = write_demo_sketches(
        tmp_path, 2, 0, 2, 32, SketchPose(), style="sketcher", sketcher=F, look=DemoStyle(clutter=0.1)
    )
    photo = Image.open(tmp_path / "photos" / paths[0].name)
    assert photo.mode == "RGB" and photo.size == (32, 32)
    assert np.array_equal(
        np.asarray(photo), np.asarray(render_pose_photo(2, 0, 0, 32, SketchPose(), DemoStyle(clutter=0.1)))
    )
    x = torch.from_numpy(np.array(photo, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    want = ((F(x)[0, 0] + 1) * 127.5).round().to(torch.uint8).numpy()
    assert np.array_equal(np.asarray(Image.open(paths[0])), want)
    assert (want < 128).any() and (want > 250).mean() > 0.5, "dark lines on white paper"
    with pytest.raises(ValueError, match="sketcher needs F"):
        write_demo_sketches(tmp_path, 2, 0, 1, 32, SketchPose(), style="sketcher")


def test_pose_photos_are_drawn_in_the_datasets_look():
    """backdrop pulls the background toward grey and grain changes palo santo's wood, as in the dataset."""
    pose = SketchPose()

    def photo(**look) -> np.ndarray:
        return np.asarray(render_pose_photo(2, 0, 0, 64, pose, DemoStyle(**look)), dtype=np.float32)

    default, calm, fine = photo(), photo(backdrop=0.2), photo(grain=25)
    corner = (slice(0, 8), slice(0, 8))  # background: the gourd stands at the centre
    assert (
        np.abs(calm[corner].mean(axis=(0, 1)) - 120).max()
        < np.abs(default[corner].mean(axis=(0, 1)) - 120).max()
    )
    gourd = (slice(24, 44), slice(26, 38))
    assert np.array_equal(default[corner], fine[corner]) and not np.array_equal(default[gourd], fine[gourd])
    assert np.array_equal(default, np.asarray(render_pose_photo(2, 0, 0, 64, pose), dtype=np.float32))

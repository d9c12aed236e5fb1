"""Demo data: deterministic per seed, different across seeds, ground truth consistent with pixels."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from sdstylegan.data.boxes import sdip_to_xyxy
from sdstylegan.data.demo import MODES, OUTLIER_KINDS, DemoStyle, render_demo_image
from sdstylegan.data.demo_stage import generate_demo_dataset
from sdstylegan.data.manifest import read_manifest


def test_same_seed_same_pixels_other_seed_other_pixels():
    a = [np.asarray(render_demo_image(3, i, 64).image) for i in range(4)]
    b = [np.asarray(render_demo_image(3, i, 64).image) for i in range(4)]
    c = [np.asarray(render_demo_image(4, i, 64).image) for i in range(4)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(not np.array_equal(x, z) for x, z in zip(a, c))
    assert not np.array_equal(a[0], a[1])


def test_ground_truth_kinds_and_fractions():
    items = [render_demo_image(0, i, 32, outlier_fraction=0.3) for i in range(400)]
    kinds = Counter(d.outlier_kind for d in items)
    frac = 1 - kinds[None] / len(items)
    assert 0.22 < frac < 0.38
    assert set(kinds) - {None} == set(OUTLIER_KINDS)
    inliers = [d for d in items if d.outlier_kind is None]
    assert all(len(d.boxes) == 1 and d.mode in range(len(MODES)) for d in inliers)
    assert set(d.mode for d in inliers) == set(range(len(MODES)))
    assert all(not d.boxes for d in items if d.outlier_kind in ("no_subject", "graphic"))
    assert all(len(d.boxes) >= 2 for d in items if d.outlier_kind == "multi_subject")
    assert all(d.image.size == (32, 32) for d in items)


def test_box_is_tight_around_the_painted_gourd():
    """On a blank canvas the painted pixels lie inside the returned box and touch all four edges."""
    from sdstylegan.data.demo import _draw_gourd

    for mode in range(len(MODES)):
        canvas = np.zeros((200, 200, 3), np.float32)
        box = _draw_gourd(np.random.default_rng(mode), canvas, mode, 100.0, 120.0, 90.0)
        ys, xs = np.nonzero(canvas.max(axis=2) > 0.5)  # the contact shadow only darkens: stays 0 here
        assert box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_boxes_lie_in_frame_with_plausible_size():
    for i in range(12):
        d = render_demo_image(7, i, 128, outlier_fraction=0.0)
        x0, y0, x1, y1 = d.boxes[0]
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128
        assert 0.02 < (x1 - x0) * (y1 - y0) / 128**2 < 0.9


def test_style_default_is_the_default_scene_and_its_knobs_act():
    a = [np.asarray(render_demo_image(5, i, 64).image) for i in range(6)]
    b = [np.asarray(render_demo_image(5, i, 64, style=DemoStyle()).image) for i in range(6)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    small = [
        render_demo_image(5, i, 64, outlier_fraction=0.0, style=DemoStyle((0.3, 0.35))) for i in range(8)
    ]
    large = [
        render_demo_image(5, i, 64, outlier_fraction=0.0, style=DemoStyle((0.65, 0.7))) for i in range(8)
    ]

    def area(d):
        x0, y0, x1, y1 = d.boxes[0]
        return (x1 - x0) * (y1 - y0)

    assert all(area(s) < area(t) for s, t in zip(small, large))
    assert all(0 <= v <= 64 for d in large for v in d.boxes[0])  # the largest gourds still fit the frame

    def roughness(img):  # mean absolute difference of neighbouring pixels: texture and clutter edges
        x = np.asarray(img, dtype=np.float32)
        return float(np.abs(np.diff(x, axis=1)).mean())

    busy = [render_demo_image(6, i, 64, outlier_fraction=1.0) for i in range(40)]
    calm = [
        render_demo_image(6, i, 64, outlier_fraction=1.0, style=DemoStyle(clutter=0.0)) for i in range(40)
    ]
    pairs = [(b, c) for b, c in zip(busy, calm) if b.outlier_kind == "no_subject"]
    assert pairs and all(roughness(c.image) < roughness(b.image) for b, c in pairs)
    for bad in (DemoStyle((0.5, 0.4)), DemoStyle((0.2, 0.75)), DemoStyle(clutter=1.5)):
        with pytest.raises(ValueError, match="subject_scale|clutter"):
            render_demo_image(0, 0, 32, style=bad)


def test_backdrop_narrows_background_colours_and_one_keeps_the_default_set():
    """backdrop=1 is the default scene pixel for pixel; a small backdrop pulls the empty scenes' mean colours
    toward one grey (their spread across images shrinks)."""
    a = [np.asarray(render_demo_image(8, i, 32).image) for i in range(6)]
    b = [np.asarray(render_demo_image(8, i, 32, style=DemoStyle(backdrop=1.0)).image) for i in range(6)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))

    def colour_spread(backdrop):
        style = DemoStyle(clutter=0.0, backdrop=backdrop)
        means = [
            np.asarray(d.image, dtype=np.float32).mean(axis=(0, 1))
            for d in (render_demo_image(9, i, 32, outlier_fraction=1.0, style=style) for i in range(60))
            if d.outlier_kind == "no_subject"
        ]
        return float(np.std(means, axis=0).mean())

    assert colour_spread(0.2) < 0.35 * colour_spread(1.0)


def test_no_subject_other_object_paints_an_object_only_into_no_subject_outliers():
    """`other_object` puts a large object without a ground-truth box into the no_subject outliers (their centre
    differs from the empty scene's) and leaves every other image pixel-identical."""
    empty = [render_demo_image(10, i, 64, outlier_fraction=0.6) for i in range(40)]
    style = DemoStyle(no_subject="other_object")
    other = [render_demo_image(10, i, 64, outlier_fraction=0.6, style=style) for i in range(40)]
    assert [d.outlier_kind for d in empty] == [d.outlier_kind for d in other]
    changed = 0
    for e, o in zip(empty, other):
        x, y = np.asarray(e.image, np.float32), np.asarray(o.image, np.float32)
        if e.outlier_kind != "no_subject":
            assert np.array_equal(x, y)
            continue
        assert o.boxes == [] and o.mode is None
        changed += (np.abs(x - y).max(axis=2) > 25).mean() > 0.03  # ≥ 3 % of the frame repainted
    assert changed == sum(d.outlier_kind == "no_subject" for d in empty) > 0
    for bad in (DemoStyle(backdrop=-0.1), DemoStyle(backdrop=1.2), DemoStyle(no_subject="person")):
        with pytest.raises(ValueError, match="backdrop|no_subject"):
            render_demo_image(0, 0, 32, style=bad)


def test_grain_repaints_only_palo_santo_and_sixty_keeps_the_default_set():
    """`grain` changes the wood stripes of palo santo gourds only (other inliers pixel-identical); 60 is the
    default set; a coarser grain has fewer stripes (fewer sign changes of the row-wise brightness slope)."""
    default = [render_demo_image(11, i, 64, outlier_fraction=0.0) for i in range(24)]
    same = [render_demo_image(11, i, 64, 0.0, DemoStyle(grain=60.0)) for i in range(24)]
    coarse = [render_demo_image(11, i, 64, 0.0, DemoStyle(grain=25.0)) for i in range(24)]
    assert all(np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(default, same))

    def stripes(d) -> int:
        x0, y0, x1, y1 = d.boxes[0]
        column = np.asarray(d.image, np.float32)[y0 + 4 : y1 - 4, (x0 + x1) // 2].mean(axis=1)
        return int((np.diff(np.sign(np.diff(column))) != 0).sum())

    palo = [i for i, d in enumerate(default) if d.mode == MODES.index("palo_santo")]
    assert palo and len(palo) < len(default)
    for i, (a, c) in enumerate(zip(default, coarse)):
        if i not in palo:
            assert np.array_equal(np.asarray(a.image), np.asarray(c.image))
    assert sum(stripes(coarse[i]) for i in palo) < sum(stripes(default[i]) for i in palo)
    for bad in (DemoStyle(grain=-1.0), DemoStyle(grain=500.0)):
        with pytest.raises(ValueError, match="grain"):
            render_demo_image(0, 0, 32, style=bad)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="outlier_fraction"):
        render_demo_image(0, 0, 64, outlier_fraction=1.5)
    with pytest.raises(ValueError, match="num_images"):
        generate_demo_dataset("/tmp/never", 0, seed=0)


def test_generate_writes_manifest_and_ground_truth(tmp_path):
    info = generate_demo_dataset(tmp_path, 40, seed=1, resolution=32, outlier_fraction=0.25, num_workers=1)
    recs = read_manifest(tmp_path / "manifest.jsonl")
    gt = [json.loads(line) for line in (tmp_path / "ground_truth.jsonl").read_text().splitlines()]
    assert len(recs) == len(gt) == 40 == info["num_images"]
    assert sum(g["outlier"] for g in gt) == info["num_outliers"]
    for r, g in zip(recs, gt):
        assert r.id == g["id"] and r.orig_path == g["file"]
        assert (tmp_path / r.orig_path).exists()
        for b in g["boxes"]:
            sdip_to_xyxy(b)
    # A second call over the same folder reuses the files and gives the same ids.
    generate_demo_dataset(tmp_path, 40, seed=1, resolution=32, outlier_fraction=0.25, num_workers=1)
    assert [r.id for r in read_manifest(tmp_path / "manifest.jsonl")] == [r.id for r in recs]

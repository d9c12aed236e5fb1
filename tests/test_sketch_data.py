"""User sketch folders: any size/format to 1-channel uint8, bad folders refused with the reason, paired stream."""

from __future__ import annotations

import pytest
import torch
from PIL import Image, ImageDraw

from sdstylegan.sketch.data import (
    PairedDataset,
    SketchFolderError,
    load_sketch,
    load_sketch_folder,
    sketch_files,
)


def draw(path, size=(256, 256), mode="L", fmt=None, width=1):
    """White paper with a thin dark vertical line through the middle."""
    bg = {"L": 255, "RGB": (255, 255, 255), "RGBA": (0, 0, 0, 0)}[mode]
    ink = {"L": 0, "RGB": (0, 0, 0), "RGBA": (0, 0, 0, 255)}[mode]
    im = Image.new(mode, size, bg)
    ImageDraw.Draw(im).line([(size[0] // 2, 0), (size[0] // 2, size[1])], fill=ink, width=width)
    im.save(path, format=fmt)
    return path


def test_any_size_and_format_becomes_one_channel_with_visible_lines(tmp_path):
    folder = tmp_path / "sketches"
    folder.mkdir()
    draw(folder / "a.png", (256, 256))
    draw(folder / "b.jpg", (300, 200), "RGB", "JPEG", width=3)
    draw(folder / "c.png", (64, 64), "RGBA")  # transparent paper
    draw(folder / "d.bmp", (16, 16))
    x = load_sketch_folder(folder, 32, min_sketches=2)
    assert x.shape == (4, 1, 32, 32) and x.dtype == torch.uint8
    for s in x:
        col = s[0, :, 14:19].float().min(dim=1).values  # darkest pixel of each row near the centre
        assert col.max() < 128, "a 1-pixel line at 256² must stay dark at 32²"
        assert s[0, :, :8].float().mean() > 240, "paper stays white (transparent paper too)"


def test_empty_folder_non_images_and_single_sketch_are_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SketchFolderError, match="sketch.path=.*empty.*is empty"):
        sketch_files(empty)
    junk = tmp_path / "junk"
    junk.mkdir()
    draw(junk / "a.png")
    draw(junk / "b.png")
    (junk / "notes.txt").write_text("not a sketch")
    (junk / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(
        SketchFolderError, match=r"2 of 4 files are not readable images: broken.png .*notes.txt"
    ):
        sketch_files(junk)
    one = tmp_path / "one"
    one.mkdir()
    draw(one / "a.png")
    with pytest.raises(SketchFolderError, match="1 sketch, at least sketch.min_sketches=2"):
        sketch_files(one, min_sketches=2)
    with pytest.raises(SketchFolderError, match="no such folder"):
        sketch_files(tmp_path / "missing")
    assert [p.name for p in sketch_files(junk.parent / "one", min_sketches=1)] == ["a.png"]


def test_load_sketch_crops_the_centre_square(tmp_path):
    im = Image.new("L", (300, 100), 255)
    ImageDraw.Draw(im).rectangle([0, 0, 99, 99], fill=0)  # dark only in the left third: cropped away
    im.save(tmp_path / "wide.png")
    s = load_sketch(tmp_path / "wide.png", 16)
    assert s.shape == (1, 16, 16) and int(s.min()) == 255


def test_paired_dataset_cycles_the_sketches():
    images = [torch.full((3, 4, 4), i, dtype=torch.uint8) for i in range(5)]
    sketches = torch.arange(2, dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 1, 4, 4)
    ds = PairedDataset(images, sketches)
    assert len(ds) == 5
    assert [(int(a[0, 0, 0]), int(b[0, 0, 0])) for a, b in (ds[i] for i in range(5))] == [
        (0, 0),
        (1, 1),
        (2, 0),
        (3, 1),
        (4, 0),
    ]

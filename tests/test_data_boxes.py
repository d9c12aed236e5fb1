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


# Released SDIP boxes are in the pixels of the file as released (SDIP's download.py crops
# numpy.asarray(Image.open(f)) without EXIF orientation); every stage here opens it EXIF-oriented.
PATCH = (255, 0, 0)
RAW_W, RAW_H = 60, 40
RAW_BOX = [5, 17, 8, 29]  # [y0, y1, x0, x1] of the red patch in the file's own pixels


def _released_photo(orientation: int, fmt: str = "PNG") -> bytes:
    import io

    import numpy as np
    from PIL import Image

    a = np.full((RAW_H, RAW_W, 3), 90, np.uint8)
    y0, y1, x0, x1 = RAW_BOX
    a[y0:y1, x0:x1] = PATCH
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, exif=exif)
    return buf.getvalue()


def _cut(img, sdip_box):
    import numpy as np

    y0, y1, x0, x1 = sdip_box
    a = np.asarray(img)
    assert 0 <= x0 < x1 <= a.shape[1] and 0 <= y0 < y1 <= a.shape[0], (sdip_box, a.shape)
    return a[y0:y1, x0:x1]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orient_box_follows_pillow_exif_transpose(orientation):
    import numpy as np
    from PIL import Image, ImageOps

    from sdstylegan.data.boxes import exif_orient_box

    mask = np.zeros((RAW_H, RAW_W), np.uint8)
    y0, y1, x0, x1 = RAW_BOX
    mask[y0:y1, x0:x1] = 1
    img = Image.fromarray(mask)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    moved = np.asarray(ImageOps.exif_transpose(img))
    ys, xs = np.nonzero(moved)
    expect = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    assert exif_orient_box((x0, y0, x1, y1), (RAW_W, RAW_H), orientation) == expect


@pytest.mark.parametrize("orientation", range(1, 9))
def test_released_box_cuts_the_same_patch_from_the_oriented_image(orientation):
    import numpy as np

    from sdstylegan.collect.items import CollectItem
    from sdstylegan.collect.outcomes import Outcome
    from sdstylegan.collect.stage import _record
    from sdstylegan.data.boxes import released_box
    from sdstylegan.data.images import LoadedImage, load_image_bytes

    loaded = load_image_bytes(_released_photo(orientation))
    assert isinstance(loaded, LoadedImage) and loaded.orientation == orientation
    box = released_box(RAW_BOX, loaded.orientation, loaded.orig_size)
    assert (_cut(loaded.image, box) == PATCH).all()
    # the collect stage's manifest line carries the same box, inside orig_size
    out = Outcome(
        "ok",
        sha256="0" * 64,
        orig_path="x.png",
        orig_size=list(loaded.orig_size),
        info={"exif_orientation": loaded.orientation},
    )
    rec = _record(0, CollectItem("http://h/x.png", "sdip", bbox=list(RAW_BOX)), out)
    assert rec.bbox == box
    # resized on the way in (half size): the scaled box still lands on the patch
    half = loaded.image.resize((loaded.orig_size[0] // 2, loaded.orig_size[1] // 2))
    out = Outcome(
        "ok",
        sha256="0" * 64,
        orig_path="x.png",
        orig_size=list(half.size),
        source_size=list(loaded.orig_size),
        info={"exif_orientation": loaded.orientation},
    )
    small = _record(0, CollectItem("http://h/x.png", "sdip", bbox=list(RAW_BOX)), out).bbox
    assert small == [round(v / 2) for v in box]
    inner = _cut(half, small)[1:-1, 1:-1].reshape(-1, 3).astype(int)  # Lanczos blurs the edge pixel
    assert np.abs(inner - PATCH).max() <= 40


def test_released_box_without_orientation_is_unchanged_and_bad_boxes_pass_through():
    from sdstylegan.data.boxes import released_box

    assert released_box(RAW_BOX, 1, (RAW_W, RAW_H)) == RAW_BOX
    assert released_box([4, 2, 0, 1], 6, (RAW_H, RAW_W)) == [4, 2, 0, 1]

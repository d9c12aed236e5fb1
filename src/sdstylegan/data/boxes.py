"""The one place boxes change convention.

Inside code a box is `(x0, y0, x1, y1)` with exclusive ends. The manifest and SDIP JSON store
`[y0, y1, x0, x1]` (the Self-Distilled StyleGAN release applies them as `img[y0:y1, x0:x1]`).

The manifest's boxes are in the pixels of the image as every stage opens it: EXIF orientation
applied (`orig_size`). SDIP's released boxes are in the pixels of the file as released, without
EXIF orientation (its download.py crops `numpy.asarray(Image.open(...))`); `released_box` moves them
into the manifest's frame, so the crop stage cuts the same region of the object that SDIP cut.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[int, int, int, int]


def sdip_to_xyxy(box: Sequence[int]) -> Box:
    """`[y0, y1, x0, x1]` (manifest/SDIP) → `(x0, y0, x1, y1)` (code)."""
    if len(box) != 4:
        raise ValueError(f"an SDIP box has 4 numbers [y0, y1, x0, x1], got {list(box)!r}")
    y0, y1, x0, x1 = (int(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"empty SDIP box [y0, y1, x0, x1] = {list(box)!r}")
    return (x0, y0, x1, y1)


def xyxy_to_sdip(box: Sequence[int]) -> list[int]:
    """`(x0, y0, x1, y1)` (code) → `[y0, y1, x0, x1]` (manifest/SDIP)."""
    if len(box) != 4:
        raise ValueError(f"a box has 4 numbers (x0, y0, x1, y1), got {list(box)!r}")
    x0, y0, x1, y1 = (int(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"empty box (x0, y0, x1, y1) = {list(box)!r}")
    return [y0, y1, x0, x1]


def exif_orient_box(box: Sequence[int], size: Sequence[int], orientation: int) -> Box:
    """`(x0, y0, x1, y1)` in an image of `size` (w, h) as stored → the same region after `exif_transpose`.

    `orientation` is the EXIF Orientation (1-8: mirrors and 90° rotations); other values change nothing,
    as in Pillow.
    """
    w, h = (int(v) for v in size)
    x0, y0, x1, y1 = (int(v) for v in box)
    corners = {  # where the stored corner (x, y) lands, in pixel-edge coordinates
        2: lambda x, y: (w - x, y),  # FLIP_LEFT_RIGHT
        3: lambda x, y: (w - x, h - y),  # ROTATE_180
        4: lambda x, y: (x, h - y),  # FLIP_TOP_BOTTOM
        5: lambda x, y: (y, x),  # TRANSPOSE
        6: lambda x, y: (h - y, x),  # ROTATE_270 (90° clockwise)
        7: lambda x, y: (h - y, w - x),  # TRANSVERSE
        8: lambda x, y: (y, w - x),  # ROTATE_90 (90° counter-clockwise)
    }.get(orientation)
    if corners is None:
        return (x0, y0, x1, y1)
    (ax, ay), (bx, by) = corners(x0, y0), corners(x1, y1)
    return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))


def released_box(
    bbox: Sequence[int], orientation: int, full_size: Sequence[int], stored_size: Sequence[int] | None = None
) -> list[int]:
    """A released SDIP `[y0, y1, x0, x1]` (file pixels, no EXIF) → the manifest's frame, same convention.

    `full_size` (w, h) is the image after EXIF orientation at full size; `stored_size` the size it was
    resized to on the way in (None: not resized). A malformed box is returned unchanged.
    """
    try:
        box = sdip_to_xyxy(bbox)
    except ValueError:
        return list(bbox)
    fw, fh = (int(v) for v in full_size)
    raw = (fh, fw) if orientation in (5, 6, 7, 8) else (fw, fh)  # 90° turns swap w and h
    x0, y0, x1, y1 = exif_orient_box(box, raw, orientation)
    if stored_size is not None and list(stored_size) != [fw, fh]:
        sx, sy = stored_size[0] / fw, stored_size[1] / fh
        x0, y0, x1, y1 = round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)
    return [y0, y1, x0, x1]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two `(x0, y0, x1, y1)` boxes with exclusive ends."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0

"""Crop geometry: a detected box → the square region to crop, its border policy, and rejections.

The square is centred on the box centre; its side is the box's longer side times (1 + 2·margin).
Near a border (`policy`):
- `shift`: slide the square inside the image; if it is larger than the image's shorter side it
  shrinks to that side (the crop then loses some margin, or some of a very elongated box);
- `pad`: keep the square where it is and fill what lies outside the image by edge replication;
- `skip`: reject the image (`crop_outside`) when the square does not fit.
A box smaller than `min_box_area` (fraction of the image area) or `min_box_side` pixels is rejected as
`box_too_small`; one covering at least `max_box_area` of the image as `whole_frame` (TokenCut found
no object apart from the background, or the object fills the frame and no crop is needed to find it).
With `source: center` the detector's box is not used at all: every image gives its centred square
(for the offline demo, where a STAND-IN backbone's boxes mean nothing; they are still recorded).
All boxes here are (x0, y0, x1, y1) in original pixels, ends exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from sdstylegan.data.boxes import Box

POLICIES = ("shift", "pad", "skip")
SOURCES = ("given_or_detect", "detector", "center")

# Reasons, as written to the manifest's `status`.
NO_OBJECT = "no_object"  # TokenCut found no unique cut (degenerate graph)
BOX_TOO_SMALL = "box_too_small"
WHOLE_FRAME = "whole_frame"
CROP_OUTSIDE = "crop_outside"  # policy `skip` and the square leaves the image
RELEASED_BOX_OUTSIDE = "released_box_outside"  # a released (SDIP) box does not overlap the image
WEAK_CUT = "weak_cut"  # the cut's normalized-cut value is above `max_ncut`


@dataclass(frozen=True)
class CropPolicy:
    """How a box becomes a square crop, and which boxes are rejected (config: `detector.crop`)."""

    margin: float = 0.1  # added on each side, as a fraction of the box's longer side
    policy: str = "shift"  # shift | pad | skip
    min_box_area: float = 0.01  # reject boxes below this fraction of the image area
    min_box_side: int = 8  # ... or with a side shorter than this many pixels
    max_box_area: float = 0.95  # reject boxes covering at least this fraction of the image
    # given_or_detect: a record's released box (SDIP JSON) is cropped as released, others detected;
    # detector: detect every image (a released box is kept as `released_bbox`); center: centred squares.
    source: str = "given_or_detect"
    max_ncut: float | None = (
        None  # reject cuts whose normalized-cut value is above this (weak_cut); None = off
    )

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"detector.crop.source must be one of {SOURCES}, got {self.source!r}")
        if self.policy not in POLICIES:
            raise ValueError(f"detector.crop.policy must be one of {POLICIES}, got {self.policy!r}")
        if self.margin < 0:
            raise ValueError(f"detector.crop.margin must be ≥ 0, got {self.margin}")
        if self.max_ncut is not None and not 0 < self.max_ncut <= 2:
            raise ValueError(
                f"detector.crop.max_ncut must lie in (0, 2] (a normalized cut) or be null, got {self.max_ncut}"
            )
        if not 0 <= self.min_box_area < self.max_box_area <= 1.0 + 1e-9:
            raise ValueError(
                f"need 0 ≤ detector.crop.min_box_area ({self.min_box_area}) < "
                f"max_box_area ({self.max_box_area}) ≤ 1"
            )


def reject_reason(
    box: Box, image_size: tuple[int, int], policy: CropPolicy, ncut_value: float | None = None
) -> str | None:
    """Why `box` in an image of `image_size` (w, h) gives no crop, or None when it does."""
    if policy.source == "center":
        return None
    if policy.max_ncut is not None and ncut_value is not None and ncut_value > policy.max_ncut:
        return WEAK_CUT
    w, h = image_size
    bw, bh = box[2] - box[0], box[3] - box[1]
    area = bw * bh / float(w * h)
    if area >= policy.max_box_area:
        return WHOLE_FRAME
    if area < policy.min_box_area or min(bw, bh) < policy.min_box_side:
        return BOX_TOO_SMALL
    if policy.policy == "skip":
        x0, y0, x1, y1 = square_around(box, policy.margin)
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            return CROP_OUTSIDE
    return None


def square_around(box: Box, margin: float) -> Box:
    """The square centred on `box` with side = longer side · (1 + 2·margin), in integer pixels."""
    x0, y0, x1, y1 = box
    side = max(1, int(round(max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin))))
    cx2, cy2 = x0 + x1, y0 + y1  # twice the centre: keeps the arithmetic in integers
    sx0 = (cx2 - side) // 2
    sy0 = (cy2 - side) // 2
    return (sx0, sy0, sx0 + side, sy0 + side)


def crop_box(box: Box, image_size: tuple[int, int], policy: CropPolicy) -> Box:
    """The square region to crop; for `shift` it lies inside the image, for `pad` it may not."""
    w, h = image_size
    if policy.source == "center":
        side = min(w, h)
        return ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    x0, y0, x1, y1 = square_around(box, policy.margin)
    if policy.policy != "shift":
        return (x0, y0, x1, y1)
    side = min(x1 - x0, w, h)
    # Centre the (possibly shrunk) square on the box, then slide it inside the image.
    cx2, cy2 = box[0] + box[2], box[1] + box[3]
    sx0 = min(max((cx2 - side) // 2, 0), w - side)
    sy0 = min(max((cy2 - side) // 2, 0), h - side)
    return (sx0, sy0, sx0 + side, sy0 + side)


def clip_box(box: Box, image_size: tuple[int, int]) -> Box:
    """The part of `box` inside the image (what SDIP's `img[y0:y1, x0:x1]` would take)."""
    w, h = image_size
    return (max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h))


def cut_square(img: Image.Image, region: Box, resolution: int) -> Image.Image:
    """Crop `region` (edge-replicated where it leaves the image) and Lanczos-resize to resolution²."""
    w, h = img.size
    x0, y0, x1, y1 = region
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        out = img.crop(region)
    else:  # pad: replicate the border pixels, so no artificial frame is learned by the GAN
        a = np.asarray(img)
        ys = np.clip(np.arange(y0, y1), 0, h - 1)
        xs = np.clip(np.arange(x0, x1), 0, w - 1)
        out = Image.fromarray(np.ascontiguousarray(a[ys][:, xs]), img.mode)
    if out.size != (resolution, resolution):
        out = out.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return out

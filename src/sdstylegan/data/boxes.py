"""The one place boxes change convention.

Inside code a box is `(x0, y0, x1, y1)` with exclusive ends. The manifest and SDIP JSON store
`[y0, y1, x0, x1]` (the Self-Distilled StyleGAN release applies them as `img[y0:y1, x0:x1]`).
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


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two `(x0, y0, x1, y1)` boxes with exclusive ends."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0

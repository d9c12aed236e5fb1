"""Pictures of what the detector did: originals with the ncut mask, the object box and the crop square."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from sdstylegan.data.boxes import Box
from sdstylegan.data.images import to_rgb


def thumbnail(path: str | Path) -> Image.Image:
    """An RGB picture of the original for a tile, in the orientation the detector saw (EXIF applied);
    JPEGs decode at reduced DCT scale (≥ 512 px), which is all a 192-px tile needs."""
    with Image.open(path) as im:
        im.draft("RGB", (512, 512))
        return to_rgb(ImageOps.exif_transpose(im))


@dataclass
class Overlay:
    """One tile: the original, the patch mask (h, w) over its padded grid, and boxes in original pixels."""

    image: Image.Image
    mask: np.ndarray | None
    patch_px: float  # original pixels per patch (patch_size / scale)
    box: Box | None  # TokenCut's object box
    crop: Box | None = None  # the square that was cropped (None when rejected)
    label: str = ""


def draw_overlay(o: Overlay, tile: int = 192) -> Image.Image:
    """The original fitted into tile×tile: mask tinted red, object box red, crop square green."""
    img = o.image.convert("RGB")
    w, h = img.size
    s = tile / max(w, h)
    base = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
    if o.mask is not None and o.mask.any():
        # Upsample the patch mask to original pixels (nearest), crop the padding, then tint.
        mimg = Image.fromarray(o.mask.astype(np.uint8) * 255).resize(
            (round(o.mask.shape[1] * o.patch_px * s), round(o.mask.shape[0] * o.patch_px * s)),
            Image.Resampling.NEAREST,
        )
        mimg = mimg.crop((0, 0) + base.size)
        tint = Image.new("RGB", base.size, (255, 40, 40))
        base = Image.composite(Image.blend(base, tint, 0.45), base, mimg)
    canvas = Image.new("RGB", (tile, tile + 14), (24, 24, 24))
    canvas.paste(base, ((tile - base.size[0]) // 2, (tile - base.size[1]) // 2))
    draw = ImageDraw.Draw(canvas)
    ox, oy = (tile - base.size[0]) // 2, (tile - base.size[1]) // 2

    def rect(b: Box, color: tuple[int, int, int]) -> None:
        draw.rectangle(
            [ox + b[0] * s, oy + b[1] * s, ox + b[2] * s - 1, oy + b[3] * s - 1], outline=color, width=2
        )

    if o.crop is not None:
        rect(o.crop, (40, 220, 60))
    if o.box is not None:
        rect(o.box, (255, 60, 60))
    draw.text((3, tile + 1), o.label[:40], fill=(230, 230, 230))
    return canvas


def overlay_grid(tiles: Sequence[Overlay], columns: int = 8, tile: int = 192, title: str = "") -> Image.Image:
    """A grid of `draw_overlay` tiles with an optional title bar (e.g. the STAND-IN warning)."""
    if not tiles:
        raise ValueError("overlay_grid needs at least one tile")
    cols = min(columns, len(tiles))
    rows = (len(tiles) + cols - 1) // cols
    th, top = tile + 14, 18 if title else 0
    grid = Image.new("RGB", (cols * tile, rows * th + top), (0, 0, 0))
    if title:
        ImageDraw.Draw(grid).text((4, 3), title, fill=(255, 210, 0))
    for k, t in enumerate(tiles):
        grid.paste(draw_overlay(t, tile), ((k % cols) * tile, top + (k // cols) * th))
    return grid

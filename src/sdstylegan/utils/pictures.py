"""Pictures every stage writes: image grids from tensors and atomic PNG saves (PIL only)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from sdstylegan.utils.io import atomic_open


def save_png(image: Image.Image, path: str | Path) -> None:
    """Atomic PNG write (a later reader never sees half a picture)."""
    with atomic_open(path, "wb") as f:
        image.save(f, format="PNG")


def image_grid(images: torch.Tensor, cols: int | None = None) -> Image.Image:
    """NCHW float images in [-1, 1] → one picture (greyscale for one channel), `cols` per row (√N by default)."""
    n, c, h, w = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    canvas = torch.zeros(c, rows * h, cols * w, dtype=torch.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        canvas[:, r * h : (r + 1) * h, q * w : (q + 1) * w] = x[i]
    return Image.fromarray(canvas[0].numpy() if c == 1 else canvas.permute(1, 2, 0).numpy())

"""Pictures every stage writes: image grids from tensors (torchvision's `make_grid`) and atomic PNG saves."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from sdstylegan.utils.io import atomic_open


def save_png(image: Image.Image, path: str | Path) -> None:
    """Atomic PNG write (a later reader never sees half a picture)."""
    with atomic_open(path, "wb") as f:
        image.save(f, format="PNG")


def image_grid(images: torch.Tensor, cols: int | None = None) -> Image.Image:
    """NCHW float images in [-1, 1] → one picture (greyscale for one channel), `cols` per row (√N by default)."""
    n, c = images.shape[:2]
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    canvas = make_grid(x, nrow=cols, padding=0)  # (3, H, W): one channel is repeated three times
    return Image.fromarray(canvas[0].numpy() if c == 1 else canvas.permute(1, 2, 0).numpy())

"""Report pictures of the distill stages: a score histogram (θ marked) and image grids, PIL only."""

from __future__ import annotations

import torch
from PIL import Image, ImageDraw

from sdstylegan.utils.pictures import image_grid


def score_histogram(
    scores: torch.Tensor,
    theta: float,
    bins: int = 50,
    size: tuple[int, int] = (640, 320),
    kept_colour: tuple[int, int, int] = (60, 120, 200),
) -> Image.Image:
    """Histogram of scores; bars below θ (kept) in blue, above in red; θ as a vertical black line."""
    w, h = size
    pad = 30
    s = scores.detach().float().cpu()
    lo, hi = float(s.min()), float(s.max())
    hi = max(hi, theta, lo + 1e-6)
    lo = min(lo, theta)
    counts = torch.histc(s, bins=bins, min=lo, max=hi)
    top = float(counts.max()) or 1.0
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    bar_w = (w - 2 * pad) / bins
    for i, c in enumerate(counts.tolist()):
        x0 = pad + i * bar_w
        centre = lo + (i + 0.5) * (hi - lo) / bins
        colour = kept_colour if centre < theta else (200, 70, 60)
        draw.rectangle([x0, h - pad - (h - 2 * pad) * c / top, x0 + bar_w - 1, h - pad], fill=colour)
    tx = pad + (theta - lo) / (hi - lo) * (w - 2 * pad)
    draw.line([tx, pad // 2, tx, h - pad], fill="black", width=2)
    draw.text((pad, h - pad + 8), f"{lo:.3g}", fill="black")
    draw.text((w - pad - 40, h - pad + 8), f"{hi:.3g}", fill="black")
    draw.text((tx + 4, pad // 2), f"theta={theta:.4g}  n={s.numel()}  max bin={int(top)}", fill="black")
    return img


def grid(images: torch.Tensor, cols: int | None = None) -> Image.Image:
    """`image_grid` as an RGB picture (one channel repeated)."""
    return image_grid(images, cols).convert("RGB")


def pair_grid(pairs: list[tuple[torch.Tensor, torch.Tensor]], per_row: int = 4) -> Image.Image:
    """(x, G(E(x))) pairs side by side, `per_row` pairs per row."""
    flat = [t for pair in pairs for t in pair]
    return grid(torch.stack(flat), cols=2 * per_row)

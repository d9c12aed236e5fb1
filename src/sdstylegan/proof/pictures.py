"""Pictures of the method proof (PIL only): labelled reconstructions, score histograms per outlier kind, and
the truncation grids side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from PIL import Image, ImageDraw

from sdstylegan.utils.pictures import image_grid

CAPTION = 12  # pixels of caption under each tile or above each panel


def _upscale(img: Image.Image, min_side: int) -> Image.Image:
    """Nearest-neighbour enlargement so that tiny (32²) tiles stay readable next to their captions."""
    factor = max(1, -(-min_side // min(img.size)))
    return (
        img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST) if factor > 1 else img
    )


def labelled_pairs(
    pairs: Sequence[tuple[torch.Tensor, torch.Tensor, str]], per_row: int = 4, tile: int = 64
) -> Image.Image:
    """(x, G(E(x)), caption) triples: each pair side by side with its caption underneath."""
    if not pairs:
        raise ValueError("labelled_pairs: nothing to draw")
    cells = []
    for x, y, caption in pairs:
        pair = _upscale(image_grid(torch.stack([x, y]), cols=2).convert("RGB"), tile)
        cell = Image.new("RGB", (pair.width, pair.height + CAPTION), "white")
        cell.paste(pair, (0, 0))
        ImageDraw.Draw(cell).text((2, pair.height), caption[: pair.width // 6], fill="black")
        cells.append(cell)
    w, h = cells[0].size
    rows = -(-len(cells) // per_row)
    canvas = Image.new("RGB", (per_row * (w + 4), rows * (h + 4)), "white")
    for i, cell in enumerate(cells):
        r, c = divmod(i, per_row)
        canvas.paste(cell, (c * (w + 4), r * (h + 4)))
    return canvas


def histograms_by_group(
    scores: Mapping[str, Sequence[float]],
    theta: float | None = None,
    bins: int = 40,
    size: tuple[int, int] = (560, 90),
) -> Image.Image:
    """One histogram row per group (inliers, each outlier kind) on a shared x-axis; θ as a vertical line."""
    groups = {k: torch.as_tensor(list(v), dtype=torch.float64) for k, v in scores.items() if len(v)}
    if not groups:
        raise ValueError("histograms_by_group: no scores")
    lo = min(float(v.min()) for v in groups.values())
    hi = max(float(v.max()) for v in groups.values())
    if theta is not None:
        lo, hi = min(lo, theta), max(hi, theta)
    hi = max(hi, lo + 1e-9)
    w, h = size
    pad = 110
    canvas = Image.new("RGB", (w, h * len(groups) + 20), "white")
    draw = ImageDraw.Draw(canvas)
    for row, (name, s) in enumerate(groups.items()):
        counts = torch.histc(s, bins=bins, min=lo, max=hi)
        top = float(counts.max()) or 1.0
        y1 = (row + 1) * h - 6
        bar = (w - pad - 10) / bins
        for i, c in enumerate(counts.tolist()):
            x0 = pad + i * bar
            draw.rectangle([x0, y1 - (h - 20) * c / top, x0 + bar - 1, y1], fill=(60, 120, 200))
        draw.text((4, row * h + h // 2 - 6), f"{name} (n={s.numel()})", fill="black")
        draw.line([pad, y1, w - 10, y1], fill="grey")
    if theta is not None:
        tx = pad + (theta - lo) / (hi - lo) * (w - pad - 10)
        draw.line([tx, 0, tx, h * len(groups)], fill=(200, 40, 40), width=2)
    draw.text((pad, h * len(groups) + 4), f"{lo:.3g}", fill="black")
    draw.text((w - 60, h * len(groups) + 4), f"{hi:.3g}", fill="black")
    if theta is not None:
        draw.text((min(tx + 4, w - 90), h * len(groups) + 4), f"theta={theta:.3g}", fill=(200, 40, 40))
    return canvas


def side_by_side(panels: Mapping[str, torch.Tensor], cols: int = 4, min_side: int = 256) -> Image.Image:
    """Grids of float images in [-1, 1] next to each other, each with its title above."""
    pictures = {k: _upscale(image_grid(v, cols).convert("RGB"), min_side) for k, v in panels.items()}
    w = sum(p.width for p in pictures.values()) + 8 * (len(pictures) - 1)
    h = max(p.height for p in pictures.values()) + CAPTION + 4
    canvas = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for title, p in pictures.items():
        draw.text((x + 2, 0), title, fill="black")
        canvas.paste(p, (x, CAPTION + 4))
        x += p.width + 8
    return canvas

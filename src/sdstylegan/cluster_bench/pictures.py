"""Pictures of a clustering: example grids per cluster and a 2-D embedding coloured by cluster and by label.

`cluster_grid`: one row per cluster (up to `per_cluster` images, the first in set order, at `size`²), each row
headed by a colour swatch of its cluster; rows of empty clusters are omitted. `embedding_plot`: the first two
principal axes of the prepared features drawn as dots (PIL only), left panel coloured by cluster, right by
label (grey = unlabelled), one picture per encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from sdstylegan.cluster_bench.images import ImageDataset, ImageSet
from sdstylegan.utils.pictures import image_grid, save_png


def palette(n: int) -> list[tuple[int, int, int]]:
    """`n` distinct colours (golden-ratio hues)."""
    import colorsys

    return [
        tuple(int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75, 0.95)) for i in range(n)
    ]


def cluster_grid(
    images: ImageSet, pred: np.ndarray, path: str | Path, per_cluster: int = 8, size: int = 64
) -> Path:
    """Save a grid: a swatch then up to `per_cluster` example images for each non-empty cluster."""
    pred = np.asarray(pred).ravel()
    ds = ImageDataset(images.paths, size)
    clusters = [int(c) for c in np.unique(pred)]
    colours = palette(max(clusters) + 1)
    tiles = []
    for c in clusters:
        idx = np.flatnonzero(pred == c)[:per_cluster]
        swatch = torch.tensor(colours[c], dtype=torch.float32).view(3, 1, 1).expand(3, size, size) / 127.5 - 1
        row = [swatch] + [ds[int(i)].float() / 127.5 - 1 for i in idx]
        row += [torch.full((3, size, size), -1.0)] * (per_cluster + 1 - len(row))
        tiles.extend(row)
    path = Path(path)
    save_png(image_grid(torch.stack(tiles), cols=per_cluster + 1), path)
    return path


def _scatter(xy: np.ndarray, colour_of: list[tuple[int, int, int]], side: int) -> Image.Image:
    img = Image.new("RGB", (side, side), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    p = (xy - lo) / span * (side - 12) + 6
    r = 2 if len(xy) > 2000 else 3
    for (x, y), col in zip(p, colour_of):
        draw.ellipse((x - r, side - y - r, x + r, side - y + r), fill=col)
    return img


def embedding_plot(
    x: np.ndarray, pred: np.ndarray, labels: np.ndarray, path: str | Path, side: int = 384
) -> Path:
    """Two panels of the features' first two principal axes: coloured by cluster, then by label."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T if vt.shape[0] >= 2 else np.c_[x[:, :1], np.zeros(len(x))]
    pred, labels = np.asarray(pred).ravel(), np.asarray(labels).ravel()
    pc = palette(int(pred.max()) + 1)
    pl = palette(int(max(labels.max(), 0)) + 1)
    left = _scatter(xy, [pc[int(c)] for c in pred], side)
    right = _scatter(xy, [pl[int(c)] if c >= 0 else (170, 170, 170) for c in labels], side)
    canvas = Image.new("RGB", (2 * side + 8, side), (0, 0, 0))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (side + 8, 0))
    path = Path(path)
    save_png(canvas, path)
    return path

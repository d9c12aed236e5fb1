"""An offline "art" collection: procedural paintings with distinct palettes, textures and strokes.

`artwork(seed, size)` draws one image from its seed alone (same seed → same pixels): a palette of 3–6
colours, a background (gradient, stripes, waves or cells) and 1–3 layers of marks (brush strokes at a
dominant angle, dots, blobs, hatching, concentric rings) — families that give VGG features very
different local statistics, like the schools of a real collection. `write_collection` renders
thousands per minute as JPEG/PNG files of varied sizes (any-size input for the index). The known answer
for retrieval: `patchwork(image, seed)` rearranges one artwork's tiles into a new picture, which must
retrieve that artwork.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from sdstylegan.utils.io import atomic_open

BACKGROUNDS = ("gradient", "stripes", "waves", "cells")
MARKS = ("strokes", "dots", "blobs", "hatching", "rings")


def palette(rng: np.random.Generator) -> np.ndarray:
    """3–6 RGB colours (uint8) around one or two random hues, varied in saturation and value."""
    n = int(rng.integers(3, 7))
    base = rng.random()
    spread = rng.choice([0.05, 0.15, 0.5])
    hues = (base + spread * rng.standard_normal(n)) % 1.0
    sat, val = rng.uniform(0.2, 1.0, n), rng.uniform(0.25, 1.0, n)
    return np.array([[int(255 * c) for c in colorsys.hsv_to_rgb(h, s, v)] for h, s, v in zip(hues, sat, val)])


def _background(rng: np.random.Generator, kind: str, colours: np.ndarray, w: int, h: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, np.pi)
    u = (x * np.cos(a) + y * np.sin(a)) / max(w, h)
    if kind == "gradient":
        t = np.clip(u - u.min(), 0, 1)[..., None]
        return colours[0] * (1 - t) + colours[1] * t
    if kind in ("stripes", "waves"):
        freq = rng.uniform(4, 24)
        v = (x * -np.sin(a) + y * np.cos(a)) / max(w, h)
        phase = u * freq * 2 * np.pi + (np.sin(v * rng.uniform(3, 12) * np.pi) * 2 if kind == "waves" else 0)
        band = ((np.sin(phase) + 1) / 2 * (len(colours) - 1)).round().astype(int)
        return colours[band].astype(np.float32)
    k = int(rng.integers(6, 40))  # cells: nearest of k random centres
    cx, cy = rng.uniform(0, w, k), rng.uniform(0, h, k)
    d = (x[..., None] - cx) ** 2 + (y[..., None] - cy) ** 2
    return colours[np.argmin(d, axis=-1) % len(colours)].astype(np.float32)


def _marks(rng: np.random.Generator, kind: str, colours: np.ndarray, img: Image.Image) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    scale = rng.uniform(0.5, 2.0) * max(w, h) / 128
    col = [tuple(int(v) for v in c) for c in colours]
    n = int(rng.integers(20, 160))
    if kind == "strokes":
        angle, length, width = (
            rng.uniform(0, np.pi),
            rng.uniform(6, 30) * scale,
            max(1, int(rng.uniform(1, 6) * scale)),
        )
        for _ in range(n):
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            t = angle + rng.normal(0, 0.25)
            draw.line(
                (x0, y0, x0 + length * np.cos(t), y0 + length * np.sin(t)),
                fill=col[rng.integers(len(col))],
                width=width,
            )
    elif kind in ("dots", "blobs"):
        r = rng.uniform(1, 3) * scale if kind == "dots" else rng.uniform(5, 18) * scale
        for _ in range(n * (3 if kind == "dots" else 1) // (1 if kind == "dots" else 3) + 1):
            x0, y0, rr = rng.uniform(0, w), rng.uniform(0, h), r * rng.uniform(0.6, 1.4)
            draw.ellipse((x0 - rr, y0 - rr, x0 + rr, y0 + rr), fill=col[rng.integers(len(col))])
    elif kind == "hatching":
        step, angle = max(2, int(rng.uniform(3, 10) * scale)), rng.uniform(0, np.pi)
        dx, dy = np.cos(angle) * 2 * max(w, h), np.sin(angle) * 2 * max(w, h)
        for i, off in enumerate(range(-max(w, h), 2 * max(w, h), step)):
            ox, oy = off * -np.sin(angle), off * np.cos(angle)
            draw.line((ox - dx, oy - dy, ox + dx, oy + dy), fill=col[i % len(col)], width=max(1, step // 3))
    else:  # rings
        cx, cy, step = rng.uniform(0, w), rng.uniform(0, h), max(2, int(rng.uniform(3, 9) * scale))
        for i, r in enumerate(range(2 * max(w, h), 0, -step)):
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=col[i % len(col)], width=max(1, step // 2))


def artwork(seed: int, size: tuple[int, int] = (128, 128)) -> Image.Image:
    """One procedural painting (RGB, `size` = (w, h)) determined by `seed`."""
    rng = np.random.default_rng([int(seed), 17])
    w, h = int(size[0]), int(size[1])
    colours = palette(rng)
    bg = _background(rng, BACKGROUNDS[rng.integers(len(BACKGROUNDS))], colours, w, h)
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8), "RGB")
    for kind in rng.choice(MARKS, size=int(rng.integers(1, 4)), replace=False):
        _marks(rng, str(kind), np.roll(colours, int(rng.integers(len(colours))), axis=0), img)
    if rng.random() < 0.5:  # some are soft (wet paint), some crisp
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    noise = rng.normal(0, rng.uniform(2, 10), (h, w, 1))  # canvas grain
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8), "RGB")


def art_size(seed: int, side: int) -> tuple[int, int]:
    """A varied (w, h) around `side`: portrait, landscape or square, as collections have."""
    rng = np.random.default_rng([int(seed), 29])
    aspect = float(rng.choice([0.75, 1.0, 1.33, 1.5]))
    return (int(round(side * aspect)), side) if rng.random() < 0.5 else (side, int(round(side * aspect)))


def write_collection(
    folder: str | Path, count: int, seed: int = 0, side: int = 128, fmt: str = "jpg", start: int = 0
) -> list[Path]:
    """Render artworks `start` … `start + count - 1` as `art_<i>.<fmt>` (skipping files already there)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"art_{i:06d}.{fmt}"
        if not path.exists():
            img = artwork(seed * 1_000_003 + i, art_size(seed * 1_000_003 + i, side))
            with atomic_open(path, "wb") as f:
                img.save(f, format="JPEG" if fmt in ("jpg", "jpeg") else fmt.upper(), quality=92)
        paths.append(path)
    return paths


def patchwork(image: Image.Image, seed: int, tiles: int = 4, size: int = 128) -> Image.Image:
    """A new picture made of `image`'s tiles (`tiles`² of them, shuffled and flipped) at `size`²."""
    rng = np.random.default_rng([int(seed), 41])
    a = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
    t = size // tiles
    blocks = [a[i * t : (i + 1) * t, j * t : (j + 1) * t] for i in range(tiles) for j in range(tiles)]
    order = rng.permutation(len(blocks))
    rows = []
    for r in range(tiles):
        row = []
        for k in order[r * tiles : (r + 1) * tiles]:
            b = blocks[k]
            row.append(b[:, ::-1] if rng.random() < 0.5 else b)
        rows.append(np.concatenate(row, axis=1))
    return Image.fromarray(np.ascontiguousarray(np.concatenate(rows, axis=0)), "RGB")

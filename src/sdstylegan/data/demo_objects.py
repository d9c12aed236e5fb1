"""Objects that are not gourds, for the demo's `no_subject` outliers when they look like a detector's crop.

A photo found under "yerba mate" that shows no gourd usually shows something else — a bag of yerba, a
thermos for the hot water — and TokenCut crops that object, so what self_filter sees is a large, well-lit
object of another shape. These painters draw such objects onto a float RGB canvas (values in [0, 255]).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

OTHER_OBJECTS = ("package", "thermos")


def _cylinder_light(u: np.ndarray, side: float) -> np.ndarray:
    """Brightness across a vertical cylinder (u ∈ [-1, 1] across it), lit from `side` ∈ [-1, 1]."""
    nz = np.sqrt(np.clip(1 - u**2, 0, 1))
    return np.clip(0.75 * nz + 0.35 * side * u, 0, 1)


def _draw_thermos(rng: np.random.Generator, canvas: np.ndarray, cx: float, cy: float, s: float) -> None:
    """A tall metal or painted vacuum flask with a cap and a side highlight (height ≈ s)."""
    H, W, _ = canvas.shape
    half_w = rng.uniform(0.15, 0.2) * s
    top, bottom = cy - 0.5 * s, cy + 0.5 * s
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    u = (xx - cx) / half_w
    body = (np.abs(u) <= 1) & (yy >= top + 0.14 * s) & (yy <= bottom)
    cap = (np.abs(u) <= 0.8) & (yy >= top) & (yy < top + 0.14 * s)
    steel = rng.random() < 0.5
    base = np.full(3, rng.uniform(150, 200)) if steel else rng.uniform(30, 220, 3)
    light = _cylinder_light(np.clip(u, -1, 1), rng.uniform(-1, 1))[..., None]
    shine = (rng.uniform(60, 120) if steel else 30.0) * np.exp(-(((u - 0.35) / 0.12) ** 2))[..., None]
    colour = base * (0.35 + 0.8 * light) + shine
    shadow = np.exp(-((((xx - cx) / (1.6 * half_w)) ** 2) + ((yy - bottom) / (0.04 * s)) ** 2))[..., None]
    canvas *= 1 - 0.5 * shadow
    canvas[body] = colour[body]
    cap_col = rng.uniform(20, 90, 3)
    canvas[cap] = (cap_col * (0.5 + 0.6 * light))[cap]


def _draw_package(rng: np.random.Generator, canvas: np.ndarray, cx: float, cy: float, s: float) -> None:
    """A standing bag of yerba: a printed rectangle with a label band, a folded top and lettering."""
    w = rng.uniform(0.5, 0.7) * s
    x0, y0, x1, y1 = cx - w / 2, cy - s / 2, cx + w / 2, cy + s / 2
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img, "RGBA")
    draw.ellipse([x0 - 0.1 * w, y1 - 0.04 * s, x1 + 0.1 * w, y1 + 0.04 * s], fill=(0, 0, 0, 90))  # shadow
    colour = tuple(int(v) for v in rng.uniform(20, 235, 3))
    draw.rectangle([x0, y0, x1, y1], fill=colour)
    draw.rectangle([x0, y0, x1, y0 + 0.12 * s], fill=tuple(int(0.7 * v) for v in colour))  # folded top
    band = tuple(int(v) for v in rng.uniform(20, 235, 3))
    b0 = y0 + rng.uniform(0.3, 0.5) * s
    draw.rectangle([x0, b0, x1, b0 + 0.25 * s], fill=band)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = "".join(rng.choice(list(letters), int(rng.integers(3, 7))))
    ink = tuple(int(255 - v) for v in band)
    draw.text((x0 + 0.08 * w, b0 + 0.05 * s), text, fill=ink, font_size=max(int(0.14 * s), 4))
    draw.rectangle([x1 - 0.12 * w, y0, x1, y1], fill=(255, 255, 255, 40))  # light on one side
    canvas[...] = np.asarray(img, dtype=np.float32)


def draw_other_object(rng: np.random.Generator, canvas: np.ndarray, scale: tuple[float, float]) -> str:
    """Paint one non-gourd object (height from `scale` × frame side, as tall as a gourd with its straw)
    onto `canvas` in place; return which object it is. It is no gourd, so it has no ground-truth box."""
    size = canvas.shape[0]
    s = min(rng.uniform(*scale) * 1.15, 0.9) * size
    cx = rng.uniform(0.35, 0.65) * size
    cy = rng.uniform(0.5 * s, max(size - 0.5 * s, 0.5 * s))
    kind = OTHER_OBJECTS[int(rng.integers(len(OTHER_OBJECTS)))]
    (_draw_thermos if kind == "thermos" else _draw_package)(rng, canvas, cx, cy, s)
    return kind

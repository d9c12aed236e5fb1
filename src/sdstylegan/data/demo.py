"""Synthetic "photos" of yerba mate gourds with ground truth, for offline demos and scoring stages.

Every image comes from its own generator `default_rng([seed, index])`, so the set is the same for a
seed on any machine and in any order. Inliers show one gourd of one of four visual modes at a random
position and scale on a cluttered, textured background; outliers (a known fraction) have no gourd,
several gourds, flat graphics with text, or heavy blur/noise. Scenes are drawn at 2× and Lanczos-reduced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from sdstylegan.data.demo_objects import draw_other_object

MODES = ("calabash", "imperial", "palo_santo", "ceramic")
OUTLIER_KINDS = ("no_subject", "multi_subject", "graphic", "degraded")
NO_SUBJECT_SHOWS = ("background", "other_object")
_SS = 2  # supersampling factor


@dataclass
class DemoImage:
    """One rendered image and its ground truth (boxes are (x0, y0, x1, y1), exclusive, in pixels)."""

    image: Image.Image
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    mode: int | None = None
    outlier_kind: str | None = None


@dataclass(frozen=True)
class DemoStyle:
    """How the scenes look: `subject_scale` = range of a single gourd's height as a fraction of the frame
    (the default is a loosely framed photo; ~0.55–0.7 looks like a detector's crop), `clutter` in [0, 1] =
    background busyness, `backdrop` in [0, 1] = spread of the background colours around a neutral grey
    (1 = any muted colour, as in photos from anywhere; small = studio/product shots on similar backdrops),
    `no_subject` = what an outlier without a gourd shows: "background" (an empty scene, as a loosely framed
    photo) or "other_object" (a yerba bag or a thermos filling the frame, as a detector's crop of a photo
    without a gourd). Other outliers keep their definitions (several small gourds, graphics, blur/noise)."""

    subject_scale: tuple[float, float] = (0.35, 0.65)
    clutter: float = 1.0
    backdrop: float = 1.0
    no_subject: str = "background"
    grain: float = 60.0

    def check(self) -> None:
        lo, hi = (float(v) for v in self.subject_scale)
        if not 0.1 <= lo <= hi <= 0.7:
            raise ValueError(
                f"dataset.subject_scale must satisfy 0.1 ≤ low ≤ high ≤ 0.7, got {list(self.subject_scale)}"
            )
        if not 0.0 <= float(self.clutter) <= 1.0:
            raise ValueError(f"dataset.clutter must lie in [0, 1], got {self.clutter}")
        if not 0.0 <= float(self.backdrop) <= 1.0:
            raise ValueError(f"dataset.backdrop must lie in [0, 1], got {self.backdrop}")
        if not 0.0 <= float(self.grain) <= 200.0:
            raise ValueError(f"dataset.grain must lie in [0, 200], got {self.grain}")
        if self.no_subject not in NO_SUBJECT_SHOWS:
            raise ValueError(
                f"dataset.no_subject must be one of {list(NO_SUBJECT_SHOWS)}, got {self.no_subject!r}"
            )


# ---------------------------------------------------------------------------- background


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise: a cells×cells random grid bicubically upsampled to size×size, in [0, 1]."""
    grid = rng.random((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((size, size), Image.Resampling.BICUBIC))


_NEUTRAL = 120.0  # the grey that `backdrop` < 1 pulls background colours toward


def _toward_neutral(colour: np.ndarray, backdrop: float) -> np.ndarray:
    """`colour` moved toward the neutral grey; backdrop = 1 returns it exactly (the default set is unchanged)."""
    return colour * backdrop + _NEUTRAL * (1.0 - backdrop)


def _background(
    rng: np.random.Generator, size: int, clutter: float = 1.0, backdrop: float = 1.0
) -> np.ndarray:
    """A muted gradient with multi-scale texture, a table edge and random clutter; float RGB in [0, 255].

    `clutter` in [0, 1] scales the texture amplitude and the opacity of the table edge and clutter shapes
    (1 = the default busy scene, 0 = a plain gradient); `backdrop` in [0, 1] scales how far the gradient's
    and table's colours lie from a neutral grey. The random draws are the same for any value of either.
    """
    c0, c1 = (_toward_neutral(rng.uniform(40, 200, 3), backdrop) for _ in range(2))
    t = np.linspace(0, 1, size, dtype=np.float32)
    angle = rng.uniform(0, np.pi)
    ramp = (np.cos(angle) * t[None, :] + np.sin(angle) * t[:, None]) / (
        abs(np.cos(angle)) + abs(np.sin(angle))
    )
    ramp -= ramp.min()
    img = c0 * (1 - ramp[..., None]) + c1 * ramp[..., None]
    tex = sum(w * (_smooth_noise(rng, size, c) - 0.5) for w, c in ((60, 4), (35, 12), (20, 40)))
    img += clutter * tex[..., None] * rng.uniform(0.6, 1.2, 3)
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas, "RGBA")
    if rng.random() < 0.7:  # a table edge: the lower part in another tone
        y = int(rng.uniform(0.45, 0.85) * size)
        col = tuple(int(v) for v in _toward_neutral(rng.uniform(30, 180, 3), backdrop))
        draw.rectangle([0, y, size, size], fill=col + (int(clutter * rng.uniform(120, 230)),))
    for _ in range(int(rng.integers(4, 12))):  # clutter
        col = tuple(int(v) for v in rng.uniform(20, 235, 3)) + (int(clutter * rng.uniform(60, 200)),)
        x0, y0 = rng.uniform(-0.1, 1.0, 2) * size
        w, h = rng.uniform(0.05, 0.4, 2) * size
        kind = rng.integers(3)
        if kind == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=col)
        elif kind == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=col)
        else:
            draw.line(
                [x0, y0, x0 + w * rng.choice([-1, 1]), y0 + h], fill=col, width=int(rng.integers(2, 10))
            )
    return np.asarray(canvas, dtype=np.float32)


# ---------------------------------------------------------------------------- gourds


def _shade(
    nx: np.ndarray, ny: np.ndarray, light: np.ndarray, shininess: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lambertian + Blinn-Phong terms for a pseudo-normal (nx, ny, sqrt(1 − nx² − ny²))."""
    nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
    diffuse = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    half = light + np.array([0, 0, 1.0])
    half /= np.linalg.norm(half)
    spec = np.clip(nx * half[0] + ny * half[1] + nz * half[2], 0, 1) ** shininess
    return diffuse, spec


def _draw_gourd(
    rng: np.random.Generator,
    img: np.ndarray,
    mode: int,
    cx: float,
    cy: float,
    s: float,
    grain: float = DemoStyle.grain,
) -> tuple[int, int, int, int]:
    """Paint one gourd of `mode` (height ≈ s px, centred at cx, cy) into `img`; return its tight box."""
    H, W, _ = img.shape
    light = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-0.8, -0.2), 0.8])
    light /= np.linalg.norm(light)
    x0, x1 = int(max(cx - 0.8 * s, 0)), int(min(cx + 0.8 * s, W))
    y0, y1 = int(max(cy - 0.9 * s, 0)), int(min(cy + 0.7 * s, H))
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 0, 0)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u, v = (xx - cx) / s, (yy - cy) / s  # object coordinates, gourd spans v ∈ [-0.5, 0.5]
    region = img[y0:y1, x0:x1]
    jitter = rng.uniform(0.85, 1.15, 3)

    # Body silhouette and normals per mode.
    if mode == 0:  # calabash: round belly, narrower neck
        rx, ry, vc = 0.40, 0.36, 0.14
        body = (u / rx) ** 2 + ((v - vc) / ry) ** 2 <= 1
        neck = (u / 0.24) ** 2 + ((v + 0.25) / 0.2) ** 2 <= 1
        nx, ny = u / rx, (v - vc) / ry
        base = np.array([125, 78, 40]) * jitter
        shin, spec_w = 8, 40
    elif mode == 1:  # imperial: tall, dark leather, metal rim
        rx, ry, vc = 0.28, 0.46, 0.04
        body = (np.abs(u) / rx) ** 3 + (np.abs(v - vc) / ry) ** 3 <= 1
        neck = np.zeros_like(body)
        nx, ny = u / rx, 0.3 * (v - vc) / ry
        base = np.array([55, 33, 22]) * jitter
        shin, spec_w = 20, 90
    elif mode == 2:  # palo santo: wooden, wider at top, grain
        t = np.clip(v + 0.5, 0, 1)
        half_w = 0.34 - 0.12 * t
        body = (np.abs(u) <= half_w) & (v >= -0.45) & (v <= 0.45)
        neck = np.zeros_like(body)
        nx, ny = np.clip(u / np.maximum(half_w, 1e-3), -1, 1), 0.2 * v
        base = np.array([196, 152, 98]) * jitter
        base = base[None, None, :] * (1 + 0.12 * np.sin(v * grain + 8 * np.sin(u * 7)))[..., None]
        shin, spec_w = 6, 20
    else:  # ceramic: glossy saturated colour
        rx, ry, vc = 0.36, 0.40, 0.08
        body = (u / rx) ** 2 + ((v - vc) / ry) ** 2 <= 1
        neck = (u / 0.2) ** 2 + ((v + 0.32) / 0.12) ** 2 <= 1
        nx, ny = u / rx, (v - vc) / ry
        palette = np.array([[40, 80, 190], [180, 40, 40], [30, 150, 140], [230, 200, 60]])
        base = palette[rng.integers(len(palette))] * jitter
        shin, spec_w = 60, 200

    diffuse, spec = _shade(nx, ny, light, shin)
    color = base * (0.3 + 0.75 * diffuse[..., None]) + spec_w * spec[..., None]
    mask = body | neck
    # Soft contact shadow under the gourd, painted first.
    shadow = np.exp(-((u / 0.45) ** 2 + ((v - 0.5) / 0.06) ** 2))[..., None]
    region *= 1 - 0.5 * shadow
    region[mask] = color[mask] if color.ndim == 3 else color
    # Opening: rim ring and yerba (green) or metal rim for the imperial.
    top = -0.42 if mode in (0, 3) else -0.44
    rim = (u / 0.2) ** 2 + ((v - top) / 0.055) ** 2 <= 1
    rim_col = np.array([205, 205, 212]) if mode == 1 else np.array([95, 125, 45]) * jitter
    region[rim] = rim_col
    mask |= rim
    # Bombilla: a metal straw leaning out of the opening.
    ang = rng.uniform(0.2, 0.6) * rng.choice([-1, 1])
    du, dv = np.sin(ang), -np.cos(ang)
    t = u * du + (v - top) * dv
    d = np.abs(u * dv - (v - top) * du)
    straw = (t >= 0) & (t <= 0.42) & (d <= 0.022)
    region[straw] = np.array([210, 210, 218]) * (0.7 + 0.3 * np.cos(d[straw] / 0.022 * 1.5))[..., None]
    mask |= straw
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (0, 0, 0, 0)
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1)


# ---------------------------------------------------------------------------- scenes


def _finish(rng: np.random.Generator, canvas: np.ndarray, resolution: int) -> Image.Image:
    """Reduce the supersampled canvas, add mild sensor noise."""
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    img = img.resize((resolution, resolution), Image.Resampling.LANCZOS)
    a = np.asarray(img, dtype=np.float32) + rng.normal(0, 2.5, (resolution, resolution, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def _scale_box(box: tuple[int, int, int, int], resolution: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (v / _SS for v in box)
    return (
        int(np.floor(x0)),
        int(np.floor(y0)),
        min(int(np.ceil(x1)), resolution),
        min(int(np.ceil(y1)), resolution),
    )


def _gourd_scene(
    rng: np.random.Generator, resolution: int, modes: list[int], style: DemoStyle
) -> tuple[np.ndarray, list]:
    """One gourd per entry of `modes` on a background; their boxes in output pixels."""
    size = resolution * _SS
    n = len(modes)
    canvas = _background(rng, size, style.clutter, style.backdrop)
    boxes = []
    for m in modes:
        # Height s, kept inside the frame with the straw (which reaches ≈ 0.85 s above the centre).
        s = rng.uniform(*style.subject_scale) * size if n == 1 else rng.uniform(0.22, 0.4) * size
        cx = rng.uniform(0.45 * s, max(size - 0.45 * s, 0.45 * s))
        cy = rng.uniform(0.88 * s, max(size - 0.55 * s, 0.88 * s))  # a gourd of 0.7·size just fits
        box = _draw_gourd(rng, canvas, m, cx, cy, s, style.grain)
        if box[2] > box[0]:
            boxes.append(_scale_box(box, resolution))
    return canvas, boxes


def _graphic(rng: np.random.Generator, resolution: int) -> Image.Image:
    """Flat colours, bold shapes and text: a meme/logo-like picture with no photo content."""
    size = resolution * _SS
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = rng.uniform(0, 0.8, 2) * size
        w, h = rng.uniform(0.1, 0.6, 2) * size
        draw.rectangle([x0, y0, x0 + w, y0 + h], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    for _ in range(int(rng.integers(2, 5))):
        text = "".join(rng.choice(list(letters), int(rng.integers(4, 12))))
        xy = tuple(float(v) for v in rng.uniform(0, 0.6, 2) * size)
        draw.text(
            xy,
            text,
            fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
            font_size=int(rng.uniform(0.08, 0.18) * size),
        )
    return img.resize((resolution, resolution), Image.Resampling.LANCZOS)


def render_demo_image(
    seed: int,
    index: int,
    resolution: int = 128,
    outlier_fraction: float = 0.15,
    style: DemoStyle | None = None,
) -> DemoImage:
    """Render image `index` of the demo set for `seed`; the same arguments always give the same pixels."""
    style = style or DemoStyle()
    style.check()
    if not 0.0 <= outlier_fraction <= 1.0:
        raise ValueError(f"dataset.outlier_fraction must lie in [0, 1], got {outlier_fraction}")
    if resolution < 16:
        raise ValueError(f"dataset.resolution must be at least 16, got {resolution}")
    rng = np.random.default_rng([int(seed), int(index)])
    is_outlier = rng.random() < outlier_fraction
    mode = int(rng.integers(len(MODES)))
    if not is_outlier:
        canvas, boxes = _gourd_scene(rng, resolution, [mode], style)
        return DemoImage(_finish(rng, canvas, resolution), boxes, mode, None)
    kind = OUTLIER_KINDS[int(rng.integers(len(OUTLIER_KINDS)))]
    if kind == "no_subject":
        canvas = _background(rng, resolution * _SS, style.clutter, style.backdrop)
        if style.no_subject == "other_object":
            draw_other_object(rng, canvas, style.subject_scale)
        return DemoImage(_finish(rng, canvas, resolution), [], None, kind)
    if kind == "multi_subject":
        n = int(rng.integers(2, 5))
        canvas, boxes = _gourd_scene(
            rng, resolution, [int(m) for m in rng.integers(len(MODES), size=n)], style
        )
        return DemoImage(_finish(rng, canvas, resolution), boxes, None, kind)
    if kind == "graphic":
        return DemoImage(_graphic(rng, resolution), [], None, kind)
    canvas, boxes = _gourd_scene(rng, resolution, [mode], style)
    img = _finish(rng, canvas, resolution)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.04, 0.08) * resolution))
    else:
        a = np.asarray(img, dtype=np.float32) + rng.normal(
            0, rng.uniform(50, 90), (resolution, resolution, 3)
        )
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    return DemoImage(img, boxes, mode, kind)

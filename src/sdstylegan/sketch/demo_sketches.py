"""Ground-truth sketches for the offline demo: one demo mode, one pose, one place in the frame.

The demo renderer knows its shapes. Centre and height are fixed (`SketchPose`) up to a small jitter, as
hand-drawn sketches vary; the straw leans left or right at random. Two styles:
- `outline`: the gourd is painted onto an empty canvas by the code that paints the demo photos
  (`data.demo`) and its silhouette's outline is drawn as a dark line on white paper — what a person
  sketching "this gourd, standing here" would draw.
- `sketcher`: a demo photo of the gourd at that pose, in the data's look (`DemoStyle`: background clutter
  and colours, wood grain), is passed through the sketcher F — how the paper's quantitative sketch sets
  were made (PhotoSketch on real photos that match).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sdstylegan.data.demo import _SS, MODES, DemoStyle, _background, _draw_gourd, _finish
from sdstylegan.utils.io import atomic_open

STYLES = ("outline", "sketcher")


@dataclass(frozen=True)
class SketchPose:
    """Where the sketched gourd stands: centre (x, y) and height as fractions of the frame, ± `jitter`."""

    center: tuple[float, float] = (0.5, 0.6)
    height: float = 0.6
    jitter: float = 0.02

    def check(self) -> None:
        x, y = (float(v) for v in self.center)
        if not (0.2 <= x <= 0.8 and 0.3 <= y <= 0.8 and 0.2 <= self.height <= 0.7):
            raise ValueError(
                f"sketch.demo pose out of the frame: center={list(self.center)} (x in [0.2, 0.8], y in "
                f"[0.3, 0.8]), height={self.height} (in [0.2, 0.7])"
            )
        if not 0 <= self.jitter <= 0.1:
            raise ValueError(f"sketch.demo.jitter must lie in [0, 0.1], got {self.jitter}")


def mode_index(mode: str | int) -> int:
    """Index of a demo mode given by name or number."""
    if isinstance(mode, int) or str(mode).isdigit():
        i = int(mode)
        if not 0 <= i < len(MODES):
            raise ValueError(f"sketch.demo.mode={mode}: the demo has modes 0..{len(MODES) - 1} {list(MODES)}")
        return i
    if mode not in MODES:
        raise ValueError(f"sketch.demo.mode={mode!r} is not a demo mode; choose one of {list(MODES)}")
    return MODES.index(mode)


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels of `mask` within `width` pixels of its border (4-neighbourhood erosion)."""
    inner = mask.copy()
    for _ in range(width):
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        shrunk[[0, -1], :] = False
        shrunk[:, [0, -1]] = False
        inner = shrunk
    return mask & ~inner


def _placement(rng: np.random.Generator, size: int, pose: SketchPose) -> tuple[float, float, float]:
    jx, jy, js = rng.uniform(-pose.jitter, pose.jitter, 3)
    return (pose.center[0] + jx) * size, (pose.center[1] + jy) * size, (pose.height + js) * size


def render_sketch(mode: int, seed: int, index: int, resolution: int, pose: SketchPose) -> Image.Image:
    """Greyscale ('L') outline sketch `index` of `mode` at `pose`; the same arguments give the same pixels."""
    rng = np.random.default_rng([int(seed), 7919, int(index)])
    size = resolution * _SS * 2  # drawn at 4× and reduced: smooth lines one pixel wide
    cx, cy, s = _placement(rng, size, pose)
    canvas = np.zeros((size, size, 3), dtype=np.float32)
    _draw_gourd(rng, canvas, mode, cx, cy, s)  # paints colour > 0 only where the gourd is
    mask = canvas.max(axis=2) > 0
    line = _outline(mask, width=size // resolution)  # one output pixel wide
    paper = np.where(line, 0, 255).astype(np.uint8)
    return Image.fromarray(paper, "L").resize((resolution, resolution), Image.Resampling.BOX)


def render_pose_photo(
    mode: int, seed: int, index: int, resolution: int, pose: SketchPose, look: DemoStyle | None = None
) -> Image.Image:
    """A demo photo (RGB) of one gourd of `mode` at `pose`, drawn in `look` (the dataset's DemoStyle: clutter,
    backdrop, grain), so its sketch shows what the training photos show."""
    look = look or DemoStyle()
    rng = np.random.default_rng([int(seed), 7919, int(index)])
    size = resolution * _SS
    cx, cy, s = _placement(rng, size, pose)
    canvas = _background(rng, size, look.clutter, look.backdrop)
    _draw_gourd(rng, canvas, mode, cx, cy, s, look.grain)
    return _finish(rng, canvas, resolution)


@torch.no_grad()
def sketch_photos(photos: list[Image.Image], sketcher: torch.nn.Module) -> list[Image.Image]:
    """F of RGB photos, as greyscale images (white paper, dark lines)."""
    x = torch.stack([torch.from_numpy(np.array(p, dtype=np.float32)).permute(2, 0, 1) for p in photos])
    device = next(iter(sketcher.parameters()), torch.empty(0)).device
    s = sketcher(x.to(device) / 127.5 - 1).float().cpu()
    u8 = ((s[:, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return [Image.fromarray(a, "L") for a in u8]


def write_demo_sketches(
    out_dir: str | Path,
    mode: int,
    seed: int,
    count: int,
    resolution: int,
    pose: SketchPose,
    start: int = 0,
    style: str = "outline",
    sketcher: torch.nn.Module | None = None,
    look: DemoStyle | None = None,
) -> list[Path]:
    """Render sketches `start … start + count − 1` as PNG files into `out_dir` (atomic writes); their paths.

    `style='sketcher'` also writes the photos they were made from (drawn in `look`) into `<out_dir>/photos/`.
    """
    pose.check()
    if style not in STYLES or (style == "sketcher" and sketcher is None):
        raise ValueError(f"sketch.demo.style must be one of {list(STYLES)} (sketcher needs F), got {style!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    indices = range(start, start + count)
    if style == "outline":
        images = [render_sketch(mode, seed, i, resolution, pose) for i in indices]
    else:
        photos = [render_pose_photo(mode, seed, i, resolution, pose, look) for i in indices]
        images = sketch_photos(photos, sketcher)
        for i, photo in zip(indices, photos, strict=True):
            with atomic_open(out_dir / "photos" / f"{MODES[mode]}_{i:04d}.png", "wb") as f:
                photo.save(f, format="PNG")
    paths = []
    for i, image in zip(indices, images, strict=True):
        path = out_dir / f"{MODES[mode]}_{i:04d}.png"
        with atomic_open(path, "wb") as f:
            image.save(f, format="PNG")
        paths.append(path)
    return paths

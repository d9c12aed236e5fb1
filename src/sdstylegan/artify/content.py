"""Content images for the transfer: image files as given, or samples of a trained generator.

An argument is an image file (validated like any photo: `data.images.load_image_file`), or a run
directory / checkpoint file (`training.checkpoint.find_checkpoint`: the run's `train` checkpoint, else
`train_raw`; NVlabs/SDIP `.pkl` snapshots too), whose generator renders one image per seed
(`generate.generate`, the StyleGAN2-ADA seed convention). Everything comes back at `resolution`² in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from sdstylegan.artify.index import image_tensor
from sdstylegan.data.images import ImageProblem
from sdstylegan.data.ingest import IMAGE_SUFFIXES

GENERATOR_SUFFIXES = (".ckpt", ".pkl")


class ContentError(ValueError):
    """A content argument that is neither a usable image nor a generator source."""


@dataclass
class Content:
    name: str  # used for the output folder
    image: torch.Tensor  # (1, 3, R, R) in [-1, 1]
    source: str


def _is_generator_source(path: Path) -> bool:
    if path.is_file():
        return path.suffix in GENERATOR_SUFFIXES
    return path.is_dir() and any(
        (path / s / "done.json").is_file() or (path / s / "checkpoints").is_dir()
        for s in ("train", "train_raw")
    )


def generated(
    source: Path, seeds: list[int], psi: float, resolution: int, device: str = "cpu"
) -> list[Content]:
    """One content image per seed from the generator of a run directory or checkpoint."""
    from sdstylegan.generate import generate
    from sdstylegan.training.checkpoint import find_checkpoint, load_generator

    src = find_checkpoint(source)
    G = load_generator(src.checkpoint, map_location=device)
    images = generate(G, seeds, psi=psi, truncation="mean")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-1] != resolution:
        images = F.interpolate(images, size=(resolution, resolution), mode="bicubic", antialias=True).clamp(
            -1, 1
        )
    ckpt = src.checkpoint
    in_run = ckpt.parent.name == "checkpoints" and len(ckpt.parents) > 2  # <run>/<stage>/checkpoints/x.ckpt
    stem = src.run_dir.name if src.run_dir else ckpt.parents[2].name if in_run else ckpt.stem
    return [
        Content(f"{stem}_seed{s:04d}", img[None], f"{src.checkpoint} seed {s} psi {psi:g}")
        for s, img in zip(seeds, images.cpu())
    ]


def load_contents(
    args: list[str], resolution: int, seeds: list[int], psi: float = 0.7, device: str = "cpu"
) -> list[Content]:
    """Every content argument resolved to images (a clear `ContentError` for anything unusable)."""
    if not args:
        raise ContentError("no content given: pass image files or a run directory")
    out: list[Content] = []
    for arg in args:
        path = Path(arg).expanduser()
        if not path.exists():
            raise ContentError(f"content {arg}: no such file or directory")
        if _is_generator_source(path):
            try:
                out += generated(path, seeds, psi, resolution, device)
            except (FileNotFoundError, ValueError) as e:
                raise ContentError(f"content {arg}: {e}") from e
            continue
        if path.is_dir():
            raise ContentError(f"content {arg}: a folder, but not a run directory with a train checkpoint")
        x = image_tensor(path, resolution)
        if isinstance(x, ImageProblem):
            hint = "" if path.suffix.lower() in IMAGE_SUFFIXES else " (not an image file nor a checkpoint)"
            raise ContentError(f"content {arg}: {x.reason}: {x.detail}{hint}")
        out.append(Content(path.stem, x[None], str(path)))
    names = [c.name for c in out]
    for i, c in enumerate(out):  # two files with one stem: keep both outputs
        if names.count(c.name) > 1:
            c.name = f"{c.name}_{i}"
    return out

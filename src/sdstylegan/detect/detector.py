"""TokenCutDetector: backbone tokens + normalized cut, as a LightningModule for `Trainer.predict`.

`predict_step` takes a batch from `DetectionDataset` (images of any size, each preprocessed on its
own: resized, normalised, zero-padded to the patch grid), runs the backbone once per group of equal
padded shape, solves the cuts of each group in one batched `ncut`, and returns one `Detection` per
image with the box in original pixels. Under `trainer=ddp` Lightning shards the dataset over GPUs
and nodes; `detect` does the same without a Trainer (notebooks, tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sdstylegan.data.images import DEFAULT_MAX_PIXELS, LoadedImage, load_image_file, to_rgb
from sdstylegan.detect.backbone import patch_box_to_pixels, preprocess
from sdstylegan.detect.tokencut import check_solver, ncut


@dataclass
class Detection:
    """TokenCut's answer for one image."""

    index: int  # position in the dataset
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in original pixels, exclusive ends
    box_patches: tuple[int, int, int, int]
    mask: np.ndarray  # bool (h, w) foreground patches
    orig_size: tuple[int, int]  # (w, h)
    scale: float  # network pixels per original pixel
    degenerate: str | None = None  # the ncut fallback's reason (box = whole frame)
    ncut_value: float | None = None  # normalized cut of the bipartition, [0, 2]; low = clean cut
    eigengap: float | None = None  # μ₂ − μ₃: how clearly the cut stands apart
    given: bool = False  # `box` is a released box passed through, not a detection


class DetectionDataset(Dataset):
    """Images (paths or PIL images) → preprocessed tensors; an unreadable file yields its reason instead."""

    def __init__(
        self,
        items: Sequence[str | Path | Image.Image],
        patch_size: int,
        max_side: int | None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        given: Sequence[tuple[tuple[int, int, int, int], tuple[int, int]] | None] | None = None,
    ):
        """`given[i]` = (box, orig_size) passes a released box through without decoding or detecting."""
        self.items = list(items)
        self.given = list(given) if given is not None else [None] * len(self.items)
        if len(self.given) != len(self.items):
            raise ValueError("given must have one entry per item")
        self.patch_size = int(patch_size)
        self.max_side = int(max_side) if max_side else None
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.items[i]
        if self.given[i] is not None:
            box, size = self.given[i]
            return {"index": i, "given_box": tuple(box), "orig_size": tuple(size)}
        if isinstance(item, Image.Image):
            img = to_rgb(item)
            orig_size = img.size
        else:
            # JPEGs decode at a reduced DCT scale that still exceeds max_side (the crop is cut from the
            # full-size file later): several times less decoding for large photos.
            loaded = load_image_file(item, max_pixels=self.max_pixels, draft_side=self.max_side)
            if not isinstance(loaded, LoadedImage):
                return {"index": i, "error": f"{loaded.reason}: {loaded.detail}"}
            img, orig_size = loaded.image, loaded.orig_size
        x, scale = preprocess(img, self.patch_size, self.max_side)
        scale *= img.size[0] / orig_size[0]  # network pixels per pixel of the full-size original
        return {"index": i, "image": x, "scale": scale, "orig_size": orig_size}


def collate_detections(items: list[dict[str, Any]]) -> dict[str, list]:
    """Keep images of different sizes apart (lists); `predict_step` groups equal shapes."""
    keys = ("index", "image", "scale", "orig_size", "error", "given_box")
    return {key: [it.get(key) for it in items] for key in keys}


class TokenCutDetector(pl.LightningModule):
    """Backbone (ViTKeys / PixelTokens) + TokenCut; `predict_step` returns a list of `Detection`s."""

    def __init__(
        self,
        backbone: nn.Module,
        tau: float = 0.2,
        eps: float = 1e-5,
        solver: str = "auto",
        gap_tol: float = 1e-9,
    ):
        super().__init__()
        check_solver(solver)
        if not 0.0 < eps <= 1.0:
            raise ValueError(f"detector.eps must lie in (0, 1], got {eps}")
        self.backbone = backbone
        self.tau, self.eps, self.solver, self.gap_tol = float(tau), float(eps), solver, float(gap_tol)
        self.patch_size = int(backbone.patch_size)

    @property
    def standin(self) -> bool:
        """True when the backbone has random weights: boxes are meaningless and labelled STAND-IN."""
        return bool(getattr(self.backbone, "standin", False))

    def predict_step(
        self, batch: dict[str, list], batch_idx: int = 0, dataloader_idx: int = 0
    ) -> list[Detection | dict]:
        out: dict[int, Detection | dict] = {}
        groups: dict[tuple[int, int], list[int]] = {}
        given = batch.get("given_box") or [None] * len(batch["index"])
        for j, (idx, err) in enumerate(zip(batch["index"], batch["error"])):
            if err is not None:
                out[j] = {"index": int(idx), "error": err}
            elif given[j] is not None:  # a released box: no detection
                size = tuple(int(v) for v in batch["orig_size"][j])
                out[j] = Detection(
                    index=int(idx),
                    box=tuple(int(v) for v in given[j]),
                    box_patches=(0, 0, 0, 0),
                    mask=None,
                    orig_size=size,
                    scale=1.0,
                    given=True,
                )
            else:
                groups.setdefault(tuple(batch["image"][j].shape[-2:]), []).append(j)
        for members in groups.values():
            x = torch.stack([batch["image"][j] for j in members]).to(self.device)
            tokens, grid = self.backbone(x)
            results = ncut(tokens, grid, tau=self.tau, eps=self.eps, solver=self.solver, gap_tol=self.gap_tol)
            for j, res in zip(members, results):
                scale, size = float(batch["scale"][j]), tuple(int(v) for v in batch["orig_size"][j])
                box = patch_box_to_pixels(res.box, self.patch_size, scale, size)
                out[j] = Detection(
                    index=int(batch["index"][j]),
                    box=box,
                    box_patches=res.box,
                    mask=res.mask,
                    orig_size=size,
                    scale=scale,
                    degenerate=res.degenerate,
                    ncut_value=res.ncut_value,
                    eigengap=res.eigengap,
                )
        return [out[j] for j in range(len(batch["index"]))]

    @torch.no_grad()
    def detect(
        self,
        images: Sequence[str | Path | Image.Image],
        max_side: int | None = 480,
        batch_size: int = 8,
        num_workers: int = 0,
    ) -> list[Detection | dict]:
        """Detect on a list of images in this process (no Trainer); errors come back as {'error': ...}."""
        ds = DetectionDataset(images, self.patch_size, max_side)
        loader = DataLoader(ds, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_detections)
        self.eval()
        found: list[Detection | dict] = []
        for batch in loader:
            found += self.predict_step(batch)
        return found

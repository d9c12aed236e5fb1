"""Before/after measurements of a sketch fine-tuning, on the same z: sketch distance, mode share, FID.

- Sketch distance: symmetric chamfer distance in pixels between the line pixels (value < 0) of F(G(z)) and
  of each held-out sketch, nearest held-out sketch per sample, averaged over samples. A sketch without any
  line pixel is `resolution` pixels from everything.
- Sketched mode's share (demo only): the demo's mode classifier (`proof.mode_classifier`) labels G(z); a
  second, colour-blind one (luminance only: what a sketch carries) gives `sketched_mode_share_grey`.
- FID of G(z) against the real images of the sketched mode and against all real images
  (`proof.proof_stage.FidReference`; `_standin` in the key when the extractor is a stand-in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from sdstylegan.training.callbacks import fixed_samples


def _lines(sketches: torch.Tensor) -> np.ndarray:
    """Boolean line masks [N, H, W] of 1-channel sketches in [-1, 1] (dark = line)."""
    return (sketches[:, 0] < 0).cpu().numpy()


def _distance_maps(masks: np.ndarray) -> np.ndarray:
    """Per mask, every pixel's Euclidean distance to the nearest line pixel (no line: the image size)."""
    out = np.empty(masks.shape, dtype=np.float64)
    for i, m in enumerate(masks):
        out[i] = distance_transform_edt(~m) if m.any() else float(max(m.shape))
    return out


def chamfer_matrix(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Symmetric chamfer distances [len(a), len(b)] in pixels between two sets of 1-channel sketches."""
    ma, mb = _lines(a), _lines(b)
    size = float(max(ma.shape[1:]))
    da, db = _distance_maps(ma).reshape(len(ma), -1), _distance_maps(mb).reshape(len(mb), -1)
    fa, fb = ma.reshape(len(ma), -1).astype(np.float64), mb.reshape(len(mb), -1).astype(np.float64)
    na, nb = fa.sum(1, keepdims=True), fb.sum(1, keepdims=True)
    a_to_b = np.where(na > 0, fa @ db.T / np.maximum(na, 1), size)  # mean over a's lines of distance to b
    b_to_a = np.where(nb > 0, fb @ da.T / np.maximum(nb, 1), size).T
    return (a_to_b + b_to_a) / 2


def sketch_distance(sketches: torch.Tensor, heldout: torch.Tensor) -> float:
    """Mean over `sketches` of the chamfer distance to the nearest held-out sketch, in pixels."""
    return float(chamfer_matrix(sketches, heldout).min(axis=1).mean())


@torch.no_grad()
def sketch_batches(sketcher: torch.nn.Module, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """F of float images in [-1, 1], in batches, on the sketcher's device."""
    device = next(iter(sketcher.parameters()), torch.empty(0)).device
    return torch.cat([sketcher(x.to(device)).float().cpu() for x in images.split(batch)])


def measure(
    G: torch.nn.Module,
    z: torch.Tensor,
    sketcher: torch.nn.Module,
    heldout: torch.Tensor,
    classify: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,  # suffix → mode labels
    mode: int | None = None,
    fid: Callable[[torch.Tensor], dict[str, float]] | None = None,
    batch: int = 64,
    num_modes: int = 0,
) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor]:
    """Figures of G on latents z; also the samples and their sketches (for the pictures)."""
    images = fixed_samples(G, z.to(next(G.parameters()).device), psi=1.0, batch=batch).clamp(-1, 1)
    sketches = sketch_batches(sketcher, images, batch)
    out: dict[str, Any] = {"sketch_chamfer_px": sketch_distance(sketches, heldout.float().cpu())}
    if classify is not None and mode is not None:
        for sfx, labels in classify(images).items():  # one labelling per instrument, keyed by its suffix
            out[f"sketched_mode_share{sfx}"] = float((labels.cpu() == mode).float().mean())
            out[f"mode_counts{sfx}"] = torch.bincount(
                labels.cpu(), minlength=max(num_modes, mode + 1)
            ).tolist()
    if fid is not None:
        out["fid"] = fid(images)
    return out, images, sketches

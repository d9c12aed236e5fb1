"""SDIP threshold search: keep d(x) < θ, lower θ step by step while the kept set stays representative.

Mokady et al. 2022 (Sec. 3): θ starts at 0.36 and is lowered only while FID(kept, all) < FID(G(E(all)), all)
— the kept images must stay closer to the full set than the generator's own reconstructions are — and while
|kept| stays at or above a floor (70K images in the paper). The search is a pure function of the scores and a
`fid_of_kept(mask) -> float` callable, so it is tested with planted features whose outcome is known.

Policy where the paper is silent (documented in the report): if θ's start keeps fewer images than the floor,
θ is raised to the smallest value that keeps the floor (`raised_for_floor`), and the search stops there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


@dataclass
class SearchStep:
    """One θ tried: how many images it keeps, FID(kept, all) (None if not computed) and the verdict."""

    theta: float
    kept: int
    fid_kept: float | None
    accepted: bool
    reason: str


@dataclass
class ThresholdResult:
    theta: float
    kept_mask: torch.Tensor  # bool (N,): score < theta
    fid_recon: float  # FID(G(E(all)), all): the bar kept sets must stay under
    floor: int
    raised_for_floor: bool = False
    path: list[SearchStep] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "theta": self.theta,
            "kept": int(self.kept_mask.sum()),
            "total": int(self.kept_mask.numel()),
            "floor": self.floor,
            "fid_recon_all": self.fid_recon,
            "raised_for_floor": self.raised_for_floor,
            "path": [asdict(s) for s in self.path],
        }


def kept_floor(total: int, min_kept: int | None, min_kept_fraction: float | None) -> int:
    """The larger of the absolute and fractional floors, capped at `total` (a 70K floor on 3K images = all)."""
    if min_kept is not None and int(min_kept) < 0:
        raise ValueError(f"filtering.min_kept must be ≥ 0 or null, got {min_kept}")
    if min_kept_fraction is not None and not 0.0 <= float(min_kept_fraction) <= 1.0:
        raise ValueError(
            f"filtering.min_kept_fraction must lie in [0, 1] or be null, got {min_kept_fraction}"
        )
    floor = max(int(min_kept or 0), math.ceil(float(min_kept_fraction or 0.0) * total))
    if floor > total:
        log.warning(
            "self_filter: the floor of %d kept images exceeds the %d usable images; the floor becomes %d "
            "(θ cannot be lowered below keeping everything)",
            floor,
            total,
            total,
        )
    return min(floor, total)


def theta_keeping(scores: torch.Tensor, count: int) -> float:
    """The smallest θ with |{d < θ}| ≥ count: just above the count-th smallest score."""
    if count <= 0:
        return float(scores.min())
    kth = float(scores.sort().values[count - 1])
    return math.nextafter(kth, math.inf)


def search_threshold(
    scores: torch.Tensor,  # (N,) reconstruction distances d(x)
    fid_of_kept: Callable[[torch.Tensor], float],  # bool mask → FID(kept, all)
    fid_recon: float,  # FID(G(E(all)), all)
    theta: float | None = 0.36,  # start; None = above the highest score (keep all)
    theta_step: float | None = 0.01,  # decrease per step; None = quantile steps
    step_fraction: float = 0.02,  # with theta_step None: drop this share of images per step
    floor: int = 0,  # |kept| never goes below this
    max_steps: int = 1000,
) -> ThresholdResult:
    """Lower θ from its start while the next θ keeps ≥ floor images and FID(kept, all) < fid_recon."""
    scores = scores.detach().double().cpu()  # float64: θ just above a score (nextafter) must stay above it
    n = scores.numel()
    if n == 0:
        raise ValueError("self_filter: no usable image to score")
    if not torch.isfinite(scores).all():
        raise ValueError(
            "self_filter: some reconstruction scores are not finite (NaN/inf in G(E(x)) or LPIPS)"
        )
    if theta_step is not None and float(theta_step) <= 0:
        raise ValueError(f"filtering.theta_step must be > 0 or null, got {theta_step}")
    if theta_step is None and not 0.0 < float(step_fraction) <= 1.0:
        raise ValueError(f"filtering.step_fraction must lie in (0, 1], got {step_fraction}")
    current = math.nextafter(float(scores.max()), math.inf) if theta is None else float(theta)
    result = ThresholdResult(
        theta=current, kept_mask=scores < current, fid_recon=float(fid_recon), floor=int(floor)
    )
    kept = int(result.kept_mask.sum())
    if kept < floor:
        current = theta_keeping(scores, floor)
        log.warning(
            "self_filter: θ=%.4g keeps %d images, fewer than the floor %d; θ raised to %.4g",
            result.theta,
            kept,
            floor,
            current,
        )
        result.theta, result.kept_mask, result.raised_for_floor = current, scores < current, True
        result.path.append(
            SearchStep(current, int(result.kept_mask.sum()), None, True, "raised to the floor")
        )
        return result
    result.path.append(SearchStep(current, kept, None, True, "start"))
    for _ in range(int(max_steps)):
        if theta_step is not None:
            nxt = current - float(theta_step)
        else:  # drop about step_fraction·N more images: the threshold just above the next quantile down
            target = max(kept - max(1, round(float(step_fraction) * n)), 0)
            nxt = theta_keeping(scores, target)
            if nxt >= current:  # ties: step below the tied score
                nxt = math.nextafter(float(scores[scores < current].max()), -math.inf) if kept else current
        mask = scores < nxt
        count = int(mask.sum())
        if count < floor or count == 0:
            reason = f"below the floor {floor}" if count < floor else "would keep no image"
            result.path.append(SearchStep(nxt, count, None, False, reason))
            break
        if count == kept:  # nothing more removed: no need for an FID, keep lowering
            current = nxt
            result.path.append(SearchStep(nxt, count, None, True, "same set"))
            continue
        fid = float(fid_of_kept(mask))
        if not fid < fid_recon:
            result.path.append(SearchStep(nxt, count, fid, False, "FID(kept, all) ≥ FID(G(E(all)), all)"))
            break
        result.path.append(SearchStep(nxt, count, fid, True, "FID(kept, all) < FID(G(E(all)), all)"))
        current, kept = nxt, count
    result.theta, result.kept_mask = current, scores < current
    return result

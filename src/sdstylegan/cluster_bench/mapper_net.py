"""The feature mapper: a frozen benchmark encoder's features of an image → a small MLP → its latent w (or w+).

`FeatureMapper(images)` takes [-1, 1] images (quantised to uint8 like a saved PNG, so real and generated
images reach the encoder alike, as in `metrics.images`) and returns w [N, w_dim] or w+ [N, num_ws, w_dim]
— the encoder interface of `invert.inversion`, so `invert(G, x, method="encoder", E=mapper)` scores it
exactly like the SDIP encoder. Features are standardised with statistics of the training images, the MLP
(LeakyReLU 0.2) predicts an offset from G's w_avg (its last layer starts small: the first reconstructions
are G's average image). Only the MLP trains; the encoder is frozen and never saved with the mapper
(`save_mapper` stores the MLP, statistics and the encoder's identity; `load_mapper` checks it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sdstylegan.metrics.extractors import FeatureExtractor
from sdstylegan.metrics.images import to_uint8
from sdstylegan.utils.io import atomic_open

SPACES = ("w", "wplus")


class FeatureMapper(nn.Module):
    """Frozen `encoder` → standardise → MLP → w / w+ (see the module docstring)."""

    def __init__(
        self,
        encoder: FeatureExtractor,  # frozen benchmark encoder (uint8 NCHW → [N, D])
        num_features: int,  # D
        w_dim: int,  # G's w_dim
        num_ws: int,  # G's number of w inputs (W+ predicts one w per input)
        w_avg: torch.Tensor,  # [w_dim] G's average w: the MLP predicts an offset from it
        space: str = "w",  # w | wplus
        hidden: int = 512,  # MLP width
        depth: int = 3,  # linear layers (≥ 1)
    ):
        super().__init__()
        if space not in SPACES:
            raise ValueError(f"mapper space must be one of {SPACES}, got {space!r}")
        if depth < 1 or hidden < 1:
            raise ValueError(f"mapper depth and hidden must be ≥ 1, got {depth}, {hidden}")
        self.encoder = encoder.freeze()
        self.space, self.w_dim, self.num_ws = space, int(w_dim), int(num_ws)
        self.num_features, self.hidden, self.depth = int(num_features), int(hidden), int(depth)
        self.register_buffer("feat_mean", torch.zeros(self.num_features))
        self.register_buffer("feat_std", torch.ones(self.num_features))
        self.register_buffer("w_avg", w_avg.detach().float().reshape(self.w_dim).clone())
        out = self.w_dim * (self.num_ws if space == "wplus" else 1)
        layers: list[nn.Module] = []
        width = self.num_features
        for _ in range(self.depth - 1):
            layers += [nn.Linear(width, self.hidden), nn.LeakyReLU(0.2)]
            width = self.hidden
        layers.append(nn.Linear(width, out))
        self.mlp = nn.Sequential(*layers)
        with torch.no_grad():  # start near w_avg: a small last layer
            self.mlp[-1].weight.mul_(0.1)
            self.mlp[-1].bias.zero_()

    def set_statistics(self, features: torch.Tensor) -> None:
        """Standardise inputs with the mean and std of the training images' features [N, D]."""
        features = features.float()
        self.feat_mean.copy_(features.mean(dim=0))
        self.feat_std.copy_(features.std(dim=0, unbiased=False).clamp_min(1e-6))

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Encoder features [N, D] of [-1, 1] (or uint8) images."""
        return self.encoder(to_uint8(images, "mapper input")).float()

    def map(self, features: torch.Tensor) -> torch.Tensor:
        """w [N, w_dim] or w+ [N, num_ws, w_dim] from encoder features."""
        x = (features.float() - self.feat_mean) / self.feat_std
        w = self.mlp(x)
        if self.space == "wplus":
            return w.view(-1, self.num_ws, self.w_dim) + self.w_avg
        return w + self.w_avg

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.map(self.features(images))


def save_mapper(path: str | os.PathLike, mapper: FeatureMapper, meta: dict[str, Any] | None = None) -> Path:
    """Write the MLP, the feature statistics and w_avg (not the encoder) with its identity, atomically."""
    state = {k: v for k, v in mapper.state_dict().items() if not k.startswith("encoder.")}
    blob = {
        "format": 1,
        "state": state,
        "encoder_identity": mapper.encoder.identity,
        "encoder_label": mapper.encoder.label,
        "arch": {
            "num_features": mapper.num_features,
            "w_dim": mapper.w_dim,
            "num_ws": mapper.num_ws,
            "space": mapper.space,
            "hidden": mapper.hidden,
            "depth": mapper.depth,
        },
        "meta": dict(meta or {}),
    }
    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(blob, f)
    return path


def load_mapper(path: str | os.PathLike, encoder: FeatureExtractor) -> FeatureMapper:
    """A saved mapper on `encoder`, which must be the very encoder it was trained on (same identity)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("encoder_identity") != encoder.identity:
        raise ValueError(
            f"{path}: trained on encoder {blob.get('encoder_identity')}, given {encoder.identity}"
        )
    arch = blob["arch"]
    mapper = FeatureMapper(
        encoder,
        arch["num_features"],
        arch["w_dim"],
        arch["num_ws"],
        blob["state"]["w_avg"],
        arch["space"],
        arch["hidden"],
        arch["depth"],
    )
    mapper.load_state_dict(blob["state"], strict=False)
    missing = (
        set(mapper.state_dict())
        - set(blob["state"])
        - {k for k in mapper.state_dict() if k.startswith("encoder.")}
    )
    if missing:
        raise ValueError(f"{path}: mapper state lacks {sorted(missing)}")
    return mapper

"""One interface for every feature extractor behind FID, KID, precision/recall and FD-DINO.

A `FeatureExtractor` maps uint8 NCHW RGB images (see `metrics.images`) to float32 features (N, D)
and says who it is: `name` (short, used in file names), `identity` (architecture + a hash of the
weights, so a statistics cache is only reused with the very same network) and `is_standin`
(random weights: every metric computed with it carries `_standin`). Implementations:
`inception.InceptionExtractor` (FID/KID), `dino.DinoExtractor` (FD-DINO), `StandinExtractor` here
(a small random CNN for tests and the offline demo). Config nodes build them with `_target_`.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torch import nn

from sdstylegan.metrics.images import uint8_to_unit
from sdstylegan.utils.weights import STANDIN_SUFFIX, standin_warning


class FeatureExtractor(nn.Module):
    """Base: uint8 NCHW RGB → (N, num_features) float32; frozen, always in eval mode."""

    name: str = "extractor"
    num_features: int = 0
    is_standin: bool = False

    @property
    def identity(self) -> str:
        """What makes two extractors interchangeable: architecture, preprocessing, weights hash."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """`name`, with `_standin` appended for a random stand-in (used in metric and file names)."""
        return self.name + (STANDIN_SUFFIX if self.is_standin else "")

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # batch-norm statistics and dropout must never change

    def freeze(self) -> FeatureExtractor:
        self.requires_grad_(False)
        self.eval()
        return self


def state_fingerprint(module: nn.Module) -> str:
    """sha256 over the names, shapes and bytes of a module's state dict (weights identity)."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(str(value.dtype).encode())
        h.update(
            value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            if value.numel()
            else b""
        )
    return h.hexdigest()


class StandinExtractor(FeatureExtractor):
    """A small randomly initialised CNN (seeded): cheap features for tests and the offline demo only.

    Its numbers mean nothing about image quality; they only exercise the metric code paths.
    """

    name = "standin_cnn"
    is_standin = True

    def __init__(self, num_features: int = 64, input_size: int = 32, seed: int = 0):
        super().__init__()
        if num_features < 1 or input_size < 8:
            raise ValueError(
                f"StandinExtractor: num_features ≥ 1 and input_size ≥ 8 required, "
                f"got {num_features}, {input_size}"
            )
        self.num_features = int(num_features)
        self.input_size = int(input_size)
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global stream
            torch.manual_seed(self.seed)
            self.net = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(16, 32, 3, stride=2, padding=1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(32, self.num_features, 3, stride=1, padding=1),
            )
        self.freeze()
        standin_warning(f"metric feature extractor {self.name} (seed {self.seed})")
        self._identity = (
            f"{self.name}(d={self.num_features},in={self.input_size},sha={state_fingerprint(self)[:16]})"
        )

    @property
    def identity(self) -> str:
        return self._identity

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = uint8_to_unit(images) * 2 - 1
        x = F.interpolate(
            x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False, antialias=True
        )
        return self.net(x).mean(dim=(2, 3))

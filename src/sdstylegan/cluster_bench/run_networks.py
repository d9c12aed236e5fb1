"""A trained run's own networks as benchmark encoders: the SDIP encoder E (W space) and D's penultimate layer.

Both come from a training checkpoint through `training.checkpoint.load_network` (no pickled classes; NVlabs
pickles for D). Images are resized to the network's resolution (bilinear, antialiased) and mapped to
[-1, 1] as in training.

- `E`: w = E(x) (w_dim features; a W+ encoder's codes are flattened).
- `D`: the output of the epilogue's first dense layer — the features D's final logit is a linear function
  of. D's minibatch-std layer mixes the images of a batch; here it sees each image alone (a group of one:
  the std channel is the constant √1e-8), so an image's features never depend on its batch-mates, which
  the feature cache and a fair comparison need. The trained D saw groups of up to 4; that channel is the
  only input that differs from training.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from sdstylegan.metrics.extractors import FeatureExtractor, state_fingerprint

WHICH = ("E", "D")


class RunNetworkEncoder(FeatureExtractor):
    """Features of a training checkpoint's E (w) or D (penultimate), see the module docstring."""

    def __init__(self, which: str = "E", checkpoint: str | os.PathLike | None = None):
        super().__init__()
        if which not in WHICH:
            raise ValueError(f"RunNetworkEncoder: which must be one of {WHICH}, got {which!r}")
        if checkpoint is None:
            raise FileNotFoundError(
                f"encoder {which}: no training checkpoint (set cluster_bench.checkpoint, "
                f"or run train_raw with training.encoder enabled first)"
            )
        from sdstylegan.training.checkpoint import load_network

        self.which, self.checkpoint = which, Path(checkpoint)
        self.net = load_network(self.checkpoint, which=which)
        if which == "D" and not (hasattr(self.net, "blocks") and hasattr(self.net, "epilogue")):
            raise TypeError(
                f"{checkpoint}: its D ({type(self.net).__name__}) is not a StyleGAN2 residual "
                f"discriminator with blocks and an epilogue"
            )
        self.name = "E_w" if which == "E" else "D_penultimate"
        self.resolution = int(self.net.img_resolution)
        if which == "E":
            self.num_features = int(self.net.w_dim) * (int(self.net.num_ws) if self.net.w_plus else 1)
        else:
            self.num_features = int(self.net.epilogue.fc.weight.shape[0])
        self.is_standin = False
        self.freeze()
        self._identity = f"{self.name}(res={self.resolution},sha={state_fingerprint(self.net)[:16]})"

    @property
    def identity(self) -> str:
        return self._identity

    def _images(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(torch.float32) / 127.5 - 1
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(
                x,
                size=(self.resolution, self.resolution),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        return x.clamp(-1, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self._images(images)
        if self.which == "E":
            return self.net(x, force_fp32=True).flatten(1).to(torch.float32)
        return penultimate(self.net, x)


@torch.no_grad()
def penultimate(D: torch.nn.Module, img: torch.Tensor) -> torch.Tensor:
    """D's epilogue up to (not including) its output layer, minibatch std over groups of one image."""
    from sdstylegan.models.discriminator import MinibatchStdLayer

    h = None
    for block in D.blocks.values():
        h = block(h, img, force_fp32=True)
    ep = D.epilogue
    h = h.to(torch.float32)
    if ep.mbstd is not None:
        h = MinibatchStdLayer(1, ep.mbstd.num_channels)(h)
    h = ep.conv(h)
    return ep.fc(h.flatten(1)).to(torch.float32)

"""DINO ViT features for the Fréchet distance in DINO space (FD-DINO, Stein et al. 2023).

Default backbone: DINOv2 ViT-L/14 (`vit_large_patch14_dinov2.lvd142m`), the encoder Stein et al.
recommend; features are the CLS token after the final norm (timm `num_classes=0`). Images are
resized to `img_size` (224) with antialiased bicubic and normalised with ImageNet mean/std, as in
their evaluation code; timm resamples the position embeddings to that size once, at load.
Weights go through `sdstylegan.utils.weights.create_timm_model` (a local file or the timm hub);
`pretrained=false` builds the same architecture with random weights (a stand-in).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sdstylegan.metrics.extractors import FeatureExtractor, state_fingerprint
from sdstylegan.metrics.images import IMAGENET_MEAN, IMAGENET_STD, uint8_to_unit
from sdstylegan.utils.weights import create_timm_model

CONFIG_KEY = "metrics.dino.weights"


class DinoExtractor(FeatureExtractor):
    """CLS features of a timm DINO ViT (uint8 NCHW → (N, embed_dim))."""

    name = "dino"

    def __init__(
        self,
        model: str = "vit_large_patch14_dinov2.lvd142m",  # timm name
        weights: str | None = None,  # local file; None → timm hub (cached)
        pretrained: bool = True,  # false → random stand-in, labelled _standin
        img_size: int = 224,  # network input size
    ):
        super().__init__()
        self.img_size = int(img_size)
        hint = f"FD-DINO uses the timm model '{model}'."
        self.net = create_timm_model(
            model,
            config_key=CONFIG_KEY,
            pretrained=pretrained,
            weights_file=weights,
            hint=hint,
            num_classes=0,
            img_size=self.img_size,
        )
        self.is_standin = weights is None and not pretrained
        self.num_features = int(self.net.num_features)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.freeze()
        self._identity = (
            f"dino:{model}(cls,in={self.img_size},resize=bicubic-aa,sha={state_fingerprint(self.net)[:16]})"
        )

    @property
    def identity(self) -> str:
        return self._identity

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = uint8_to_unit(images)
        if x.shape[-2:] != (self.img_size, self.img_size):
            x = F.interpolate(
                x, size=(self.img_size, self.img_size), mode="bicubic", align_corners=False, antialias=True
            )
        x = (x - self.mean) / self.std
        return self.net(x).to(torch.float32)

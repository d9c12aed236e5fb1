"""Image encoders for the clustering benchmark, all behind the metrics' `FeatureExtractor` interface.

uint8 NCHW RGB → float32 (N, D), with `name`, `identity` (architecture, preprocessing and a hash of the
weights: the feature cache key) and `is_standin` (random weights: every number carries `_standin`).

- `DinoViTEncoder`: the detector's DINO ViT (`detect.backbone.build_vit`, DINO checkpoints and timm names),
  CLS token after the final norm. Default ViT-S/16.
- `TimmEncoder`: any timm model's pooled features (num_classes=0) with the model's own mean/std: DINOv2
  (`vit_small_patch14_dinov2.lvd142m`), the CLIP image tower (`vit_base_patch16_clip_224.openai`; the
  features before CLIP's projection). Weights through `utils.weights.create_timm_model`.
- `InceptionEncoder`: the FID Inception's 2048-d pool features (`metrics.inception.build_inception`).
- `PixelEncoder`: the image downsampled to `size`² and flattened — the baseline a learned encoder must beat.
The trained run's E and D are in `cluster_bench.run_networks`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from sdstylegan.metrics.extractors import FeatureExtractor, state_fingerprint
from sdstylegan.metrics.images import uint8_to_unit


class _ViTFeatures(FeatureExtractor):
    """Shared forward of the ViT encoders: resize (bicubic, antialiased), normalise, pooled features."""

    net: torch.nn.Module
    img_size: int

    def _setup(self, model: str, mean: Any, std: Any, standin: bool) -> None:
        self.num_features = int(self.net.num_features)
        self.is_standin = bool(standin)
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.freeze()
        self._identity = (
            f"{self.name}:{model}(pooled,in={self.img_size},resize=bicubic-aa,"
            f"sha={state_fingerprint(self.net)[:16]})"
        )

    @property
    def identity(self) -> str:
        return self._identity

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = uint8_to_unit(images)
        if x.shape[-2:] != (self.img_size, self.img_size):
            x = F.interpolate(
                x, size=(self.img_size, self.img_size), mode="bicubic", align_corners=False, antialias=True
            ).clamp(0, 1)
        return self.net((x - self.mean) / self.std).to(torch.float32)


class TimmEncoder(_ViTFeatures):
    """Pooled features of a timm model (DINOv2, CLIP image tower, …)."""

    def __init__(
        self,
        name: str,  # short name used in tables and file names
        model: str,  # timm model name
        weights: str | os.PathLike | None = None,  # local file; None → timm hub (cached) when pretrained
        pretrained: bool = True,  # false → random stand-in, labelled _standin
        img_size: int = 224,  # network input size
        model_kwargs: Mapping[str, Any] | None = None,  # passed to timm.create_model (e.g. depth for demos)
        seed: int = 0,  # initialisation of a stand-in (pretrained=false)
    ):
        super().__init__()
        from sdstylegan.utils.weights import create_timm_model

        self.name, self.img_size = str(name), int(img_size)
        with torch.random.fork_rng(devices=[]):  # a stand-in's weights: the same in every process
            torch.manual_seed(int(seed))
            self.net = create_timm_model(
                model,
                config_key=f"cluster_bench.encoders.{name}.weights",
                pretrained=pretrained,
                weights_file=weights,
                hint=f"The {name} encoder is the timm model '{model}'.",
                num_classes=0,
                img_size=self.img_size,
                **dict(model_kwargs or {}),
            )
        cfg = getattr(self.net, "pretrained_cfg", None) or {}
        self._setup(
            model,
            cfg.get("mean", (0.485, 0.456, 0.406)),
            cfg.get("std", (0.229, 0.224, 0.225)),
            standin=weights is None and not pretrained,
        )


class DinoViTEncoder(_ViTFeatures):
    """CLS features of the detector's DINO ViT (`detect.backbone.build_vit`)."""

    def __init__(
        self,
        name: str = "dino_vits16",
        arch: str = "vit_small_patch16_224.dino",  # timm architecture
        weights: str | None = None,  # DINO .pth / timm .safetensors / URL / timm name; None → arch
        pretrained: bool = True,  # false → random stand-in, labelled _standin
        img_size: int = 224,
        model_kwargs: Mapping[str, Any] | None = None,
        seed: int = 0,  # initialisation of a stand-in (pretrained=false)
    ):
        super().__init__()
        from sdstylegan.detect.backbone import build_vit

        self.name, self.img_size = str(name), int(img_size)
        with torch.random.fork_rng(devices=[]):  # a stand-in's weights: the same in every process
            torch.manual_seed(int(seed))
            self.net = build_vit(
                arch, weights, pretrained, img_size=self.img_size, **dict(model_kwargs or {})
            )
        self._setup(arch, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), standin=not pretrained)


class InceptionEncoder(FeatureExtractor):
    """The FID Inception pool features (or its configured stand-in), named `inception` in tables."""

    name = "inception"

    def __init__(
        self,
        weights: str | None = None,  # local file or URL of the 2015-12-05 weights (None → the official URL)
        pretrained: bool = True,  # false → stand-in
        standin: str = "inception",  # stand-in kind: inception (same architecture, real timings) | small
        standin_features: int = 64,
        seed: int = 0,
    ):
        super().__init__()
        from sdstylegan.metrics.inception import INCEPTION_URL, build_inception

        self.net = build_inception(weights or INCEPTION_URL, pretrained, standin, standin_features, seed)
        self.num_features = int(self.net.num_features)
        self.is_standin = bool(self.net.is_standin)
        self.freeze()

    @property
    def identity(self) -> str:
        return f"inception:{self.net.identity}"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).to(torch.float32)


class PixelEncoder(FeatureExtractor):
    """Raw pixels: the image area-downsampled to `size`², in [0, 1], flattened (3·size² features)."""

    name = "pixels"

    def __init__(self, size: int = 16):
        super().__init__()
        if int(size) < 1:
            raise ValueError(f"cluster_bench.encoders.pixels.size must be ≥ 1, got {size}")
        self.size = int(size)
        self.num_features = 3 * self.size**2
        self.freeze()

    @property
    def identity(self) -> str:
        return f"pixels(size={self.size},resize=area)"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = uint8_to_unit(images)
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        return x.flatten(1)

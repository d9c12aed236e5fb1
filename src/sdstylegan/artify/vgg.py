"""VGG-16 / VGG-19 feature maps by layer name (conv1_1 … conv5_1, relu1_1 … relu5_1) for matching and transfer.

The networks are torchvision's architectures (`features` part only, cut after the deepest layer asked
for); weights come through `sdstylegan.utils.weights`: a torchvision/PyTorch `.pth` state dict file or
URL (keys `features.N.weight` or `N.weight`). `pretrained=false` builds a random stand-in (logged, and
`is_standin` makes every output name carry `_standin`); only a stand-in may be narrowed (`width` < 1),
which keeps the layer structure but divides the channels so the offline demo fits a CPU. Inputs are RGB
images in [-1, 1] (the project's convention), normalised here with the ImageNet mean/std.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from sdstylegan.metrics.extractors import state_fingerprint
from sdstylegan.utils.weights import WeightsNotFoundError, load_state_dict, standin_warning

# Channels per conv layer, 'M' = 2×2 max-pool (torchvision's configurations D and E).
ARCHS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [
        *[64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"],
        *[512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
    ],
}
# torchvision's download locations (cached by torch.hub); offline, set artify.vgg.weights to a local copy.
WEIGHT_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(arch: str) -> list[str]:
    """Names of the modules of `features`, in order: conv{b}_{i}, relu{b}_{i}, pool{b}."""
    names, block, i = [], 1, 1
    for v in ARCHS[arch]:
        if v == "M":
            names.append(f"pool{block}")
            block, i = block + 1, 1
        else:
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
            i += 1
    return names


def channels(arch: str, layer: str, width: float = 1.0) -> int:
    """Number of channels of `layer` (e.g. conv5_1 → 512 at full width)."""
    block = int(layer.removeprefix("conv").removeprefix("relu").removeprefix("pool").split("_")[0])
    return max(1, round(min(64 * 2 ** (block - 1), 512) * width))


def _build(arch: str, depth: int, width: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 3
    for v in ARCHS[arch]:
        if len(layers) >= depth:
            break
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            c = max(1, round(int(v) * width))
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(inplace=False)]
            c_in = c
    for m in layers:  # torchvision's initialisation (what a stand-in keeps)
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers[:depth])


class VGGFeatures(nn.Module):
    """Frozen VGG `features` returning {layer name: map} for the requested layers."""

    def __init__(
        self,
        arch: str = "vgg19",  # vgg16 | vgg19
        weights: str | os.PathLike | None = None,  # .pth state dict file or URL; None → torchvision's URL
        pretrained: bool = True,  # false → random stand-in (labelled _standin)
        layers: tuple[str, ...] = ("conv5_1",),  # the deepest one decides where the network is cut
        width: float = 1.0,  # channel multiplier, stand-in only (< 1: a narrow, faster stand-in)
        seed: int = 0,  # initialisation of a stand-in
        config_key: str = "artify.vgg.weights",  # named in errors
    ):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"artify.vgg.arch must be one of {sorted(ARCHS)}, got {arch!r}")
        names = layer_names(arch)
        unknown = [n for n in layers if n not in names]
        if unknown or not layers:
            raise ValueError(f"artify: unknown {arch} layer(s) {unknown or layers}; known: {names}")
        if width != 1.0 and (pretrained or weights is not None):
            raise ValueError(
                f"artify.vgg.width={width}: only a random stand-in (pretrained: false) is narrowed"
            )
        self.arch, self.layers, self.width = arch, tuple(layers), float(width)
        self.names = names[: max(names.index(n) for n in layers) + 1]
        with torch.random.fork_rng(devices=[]):  # a stand-in is the same in every process
            torch.manual_seed(int(seed))
            self.net = _build(arch, len(self.names), self.width)
        self.is_standin = weights is None and not pretrained
        if self.is_standin:
            standin_warning(f"{arch} (width {width:g}) for artify ({config_key})")
        else:
            self._load(weights or WEIGHT_URLS[arch], config_key)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False).eval()
        self.identity = (
            f"{arch}(width={self.width:g},upto={self.names[-1]},sha={state_fingerprint(self.net)[:16]})"
        )

    def _load(self, source: str | os.PathLike, config_key: str) -> None:
        hint = f"torchvision's {self.arch} weights: {WEIGHT_URLS[self.arch]}"
        state = load_state_dict(source, config_key=config_key, hint=hint)
        state = {k.removeprefix("features."): v for k, v in state.items()}
        want = self.net.state_dict()
        missing = [k for k in want if k not in state]
        if missing:
            raise WeightsNotFoundError(
                f"{config_key}={source}: not a {self.arch} state dict ({len(missing)} weights missing, "
                f"e.g. {missing[:2]}). {hint}"
            )
        bad = [k for k in want if tuple(state[k].shape) != tuple(want[k].shape)]
        if bad:
            raise ValueError(f"{config_key}={source}: shapes differ from {self.arch} at {bad[:2]}")
        self.net.load_state_dict({k: state[k] for k in want})

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)  # always frozen

    def forward(self, images: torch.Tensor, layers: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        """images (N, 3, H, W) in [-1, 1] → {layer: (N, C, h, w)} for `layers` (default `self.layers`)."""
        layers = self.layers if layers is None else tuple(layers)
        if any(n not in self.names for n in layers):
            raise ValueError(f"artify: layers {layers} are not all within {self.names[-1]} of this network")
        x = ((images + 1) / 2 - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for name, module in zip(self.names, self.net):
            x = module(x)
            if name in layers:
                out[name] = x
                if len(out) == len(layers):
                    break
        return out

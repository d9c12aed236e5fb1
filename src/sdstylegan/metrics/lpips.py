"""LPIPS perceptual distance (Zhang et al. 2018, v0.1), VGG-16 and AlexNet variants.

d(x, y) = Σ_l mean_hw Σ_c w_lc (x̂_l − ŷ_l)²_c, where x̂_l are the backbone's activations at five
ReLU layers, each unit-normalised over channels, and w_l ≥ 0 are the learned linear-calibration
("lin") weights. Inputs: float images in [-1, 1], NCHW, RGB; first shifted/scaled by LPIPS' fixed
constants. Batched, differentiable w.r.t. the images (usable as a loss: the networks are frozen)
and usable as a distance (`forward` for pairs, `cdist` for all pairs).

Weights go through `sdstylegan.utils.weights.load_state_dict`: the backbone from torchvision's
ImageNet checkpoint (`metrics.lpips.backbone_weights`), the lin layers from the official LPIPS v0.1
files (`metrics.lpips.weights`); local files or URLs (cached). `pretrained=False` = everything
random (seeded, lin weights non-negative): a stand-in for tests, logged as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sdstylegan.utils.weights import load_state_dict, standin_warning


@dataclass(frozen=True)
class _NetSpec:
    cuts: tuple[int, ...]  # torchvision `features` indices ending each tapped slice
    channels: tuple[int, ...]  # channels at the five taps
    backbone_url: str
    lin_url: str
    min_size: int  # smallest input side that reaches the fifth tap


_LIN_BASE = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/"
NETS = {
    # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
    "vgg": _NetSpec(
        (4, 9, 16, 23, 30),
        (64, 128, 256, 512, 512),
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        _LIN_BASE + "vgg.pth",
        16,
    ),
    # relu1 … relu5
    "alex": _NetSpec(
        (2, 5, 8, 10, 12),
        (64, 192, 384, 256, 256),
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        _LIN_BASE + "alex.pth",
        32,
    ),
}
# LPIPS input normalisation (their ScalingLayer): (x − shift) / scale for x in [-1, 1].
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10


def _torchvision_features(net: str) -> nn.Sequential:
    """torchvision's `features` trunk with fresh random weights.

    The model is built on the meta device and only the trunk is materialised: initialising VGG-16's
    unused 100M-parameter classifier took ~2 s per LPIPS. The trunk is then initialised as torchvision
    does (VGG: Kaiming-normal fan-out, zero bias; AlexNet: PyTorch's default conv init).
    """
    import torchvision

    with torch.device("meta"):
        model = (
            torchvision.models.vgg16(weights=None)
            if net == "vgg"
            else torchvision.models.alexnet(weights=None)
        )
    features = model.features.to_empty(device="cpu")
    for m in features:
        if isinstance(m, nn.ReLU):
            m.inplace = False  # tapped activations must not be overwritten by the next slice
        elif isinstance(m, nn.Conv2d):
            if net == "vgg":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            else:
                m.reset_parameters()
    return features


def _unit_normalise(x: torch.Tensor) -> torch.Tensor:
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + _EPS)


class LPIPS(nn.Module):
    """`LPIPS(net)(x, y) -> (N,)` distances for image batches in [-1, 1]; frozen, differentiable."""

    def __init__(
        self,
        net: str = "vgg",  # backbone: vgg | alex
        pretrained: bool = True,  # false → random stand-in for tests/demo
        weights: str | None = None,  # lin layers (file/URL); None → official v0.1 URL for `net`
        backbone_weights: str | None = None,  # ImageNet backbone (file/URL); None → torchvision URL
        seed: int = 0,  # stand-in initialisation
    ):
        super().__init__()
        if net not in NETS:
            raise ValueError(f"metrics.lpips.net must be one of {list(NETS)}, got {net!r}")
        spec = NETS[net]
        self.net_name = net
        self.min_size = spec.min_size
        self.is_standin = not pretrained
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            features = _torchvision_features(net)
            lin = [torch.rand(c) for c in spec.channels]  # stand-in: non-negative, like trained lin weights
        if pretrained:
            hint = f"LPIPS-{net} needs torchvision's ImageNet {net} and the LPIPS v0.1 lin weights."
            state = load_state_dict(
                backbone_weights or spec.backbone_url, config_key="metrics.lpips.backbone_weights", hint=hint
            )
            feats = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
            try:
                features.load_state_dict(feats)
            except RuntimeError as e:
                raise ValueError(
                    f"metrics.lpips.backbone_weights: not a torchvision {net} checkpoint ({e})"
                ) from e
            lin = self._read_lin(
                load_state_dict(weights or spec.lin_url, config_key="metrics.lpips.weights", hint=hint),
                spec.channels,
            )
        else:
            standin_warning(f"LPIPS-{net} (seed {seed})")
        starts = (0,) + spec.cuts[:-1]
        self.slices = nn.ModuleList(nn.Sequential(*features[a:b]) for a, b in zip(starts, spec.cuts))
        self.lin = nn.ParameterList(
            nn.Parameter(w.view(1, -1, 1, 1).clone(), requires_grad=False) for w in lin
        )
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def _read_lin(state: dict, channels: tuple[int, ...]) -> list[torch.Tensor]:
        """Lin weights from an official file (`lin{i}.model.1.weight`) or a plain one (`lin{i}.weight`)."""
        out = []
        for i, c in enumerate(channels):
            w = state.get(f"lin{i}.model.1.weight", state.get(f"lin{i}.weight"))
            if w is None or w.numel() != c:
                raise ValueError(
                    f"metrics.lpips.weights: lin{i} must hold {c} weights (keys found: {sorted(state)[:6]})"
                )
            out.append(w.reshape(c).float())
        return out

    def train(self, mode: bool = True) -> LPIPS:
        return super().train(False)  # no dropout/batch-norm changes: a fixed metric

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised activations at the five taps for images in [-1, 1]."""
        if not x.is_floating_point():
            raise TypeError(f"LPIPS expects float images in [-1, 1], got dtype {x.dtype}")
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"LPIPS expects NCHW images with 1 or 3 channels, got shape {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(
                f"LPIPS-{self.net_name} needs images of at least {self.min_size}² "
                f"(got {x.shape[-2]}×{x.shape[-1]}); use net=vgg (≥ 16²) or upsample first"
            )
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        h = (x - self.shift) / self.scale
        out = []
        for s in self.slices:
            h = s(h)
            out.append(_unit_normalise(h))
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Distance between x[i] and y[i] for each i: shape (N,)."""
        if x.shape != y.shape:
            raise ValueError(
                f"LPIPS: x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        total = x.new_zeros(x.shape[0])
        for fx, fy, w in zip(self.features(x), self.features(y), self.lin):
            total = total + ((fx - fy).square() * w).sum(dim=1).mean(dim=(1, 2))
        return total

    @torch.no_grad()
    def cdist(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """All-pairs distances (N, M) between x (N images) and y (M images); chunk x to bound memory.

        Uses Σ w(a − b)² = Σ w a² + Σ w b² − 2 Σ w a·b per pixel, so each layer is one matmul.
        """
        out = x.new_zeros(x.shape[0], y.shape[0], dtype=torch.float32)
        for fx, fy, w in zip(self.features(x), self.features(y), self.lin):
            hw = fx.shape[2] * fx.shape[3]
            wx = (fx * w).flatten(1)
            ax = (fx.square() * w).flatten(1).sum(dim=1) / hw
            ay = (fy.square() * w).flatten(1).sum(dim=1) / hw
            cross = wx @ fy.flatten(1).T / hw
            out += (ax[:, None] + ay[None, :] - 2 * cross).float()
        return out.clamp_(min=0)

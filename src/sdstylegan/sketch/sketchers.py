"""Photo → sketch networks F: PhotoSketch (pretrained pix2pix ResnetGenerator) and a weight-free XDoG sketcher.

Both map float RGB images [N, 3, H, W] in [-1, 1] to 1-channel sketches [N, 1, H, W] in [-1, 1]: white (+1)
paper, dark (−1) lines, as PhotoSketch draws them. Both are frozen and differentiable (G is trained through
them). `label` names the sketcher in every output a stage writes with it.

- `PhotoSketch` (Li et al. 2019; the F of Sketch Your Own GAN): pix2pix ResnetGenerator 3→1, 64 filters,
  two stride-2 convolutions, 9 residual blocks, batch norm, reflect padding, tanh; loaded in the original
  project's state-dict layout (`model.<i>.…`, as its `latest_net_G.pth`) through `utils.weights`. It runs at
  `input_size` (256 in the original); smaller or larger images are resized in and out.
- `XDoGSketcher` (after Winnemöller et al. 2012, extended difference of Gaussians): lines where the scaled
  DoG of the luminance falls below −ε (the dark side of an edge), through a smooth tanh threshold. No weights, nothing to download: the offline demo
  and the tests use it. It finds intensity edges, not the object contours a person draws (see README).
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from sdstylegan.utils.weights import load_state_dict

PHOTOSKETCH_HINT = (
    "PhotoSketch's pretrained generator is `latest_net_G.pth` of the model mtli/PhotoSketch links in its "
    "README (pretrained.zip); or use sketch.sketcher=xdog (offline, weight-free)."
)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [N, C, H, W] with reflect padding (differentiable)."""
    k = _gaussian_kernel(sigma).to(x)
    r = k.numel() // 2
    c = x.shape[1]
    pad_h = min(r, x.shape[2] - 1)
    pad_w = min(r, x.shape[3] - 1)
    x = F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
    if pad_w < r or pad_h < r:  # images smaller than the kernel: replicate the rest
        x = F.pad(x, (r - pad_w, r - pad_w, r - pad_h, r - pad_h), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma in [0, 1] of RGB [-1, 1] images, [N, 1, H, W]."""
    rgb = (x.float().clamp(-1, 1) + 1) / 2
    w = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True)


class XDoGSketcher(nn.Module):
    """Weight-free line extractor: sketch = tanh(φ·U), U = p·(G_σ(Y) − G_kσ(Y)) + ε (lines where U < 0)."""

    label = "xdog"
    is_offline = True

    def __init__(
        self,
        sigma: float = 0.6,  # inner Gaussian σ in pixels of the input image
        k: float = 1.6,  # outer σ = k·σ
        sharpen: float = 20.0,  # p: gain of the DoG
        epsilon: float = 0.3,  # lines where p·DoG < −ε (luminance units of [0, 1] images)
        phi: float = 10.0,  # steepness of the soft threshold (flat regions: tanh(φ·ε))
        contrast: float | None = None,  # each image's luminance std is scaled to this first (None = off)
    ):
        super().__init__()
        if sigma <= 0 or k <= 1:
            raise ValueError(f"sketch.xdog: sigma must be > 0 and k > 1, got sigma={sigma}, k={k}")
        if contrast is not None and contrast <= 0:
            raise ValueError(f"sketch.xdog.contrast must be > 0 or null, got {contrast}")
        self.sigma, self.k, self.sharpen, self.epsilon, self.phi = sigma, k, sharpen, epsilon, phi
        self.contrast = contrast
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sketches [N, 1, H, W] in [-1, 1] (white paper, dark lines) of RGB images in [-1, 1]."""
        y = luminance(x)
        if self.contrast is not None:  # the same lines at any global contrast (at most 10× amplified)
            y = y * (self.contrast / y.std(dim=(2, 3), keepdim=True).clamp_min(0.1 * self.contrast))
        g1, g2 = gaussian_blur(y, self.sigma), gaussian_blur(y, self.sigma * self.k)
        u = self.sharpen * (g1 - g2) + self.epsilon  # < 0 on the dark side of an edge
        # A smooth threshold (not XDoG's hard paper branch): G gets a gradient everywhere, also where no
        # line is drawn yet; flat regions come out at tanh(φ·ε) ≈ 1.
        return torch.tanh(self.phi * u)


# ---------------------------------------------------------------------------- PhotoSketch


class _ResidualBlock(nn.Module):
    """pix2pix residual block: (reflect pad, 3×3 conv, BN, ReLU, reflect pad, 3×3 conv, BN) + identity."""

    def __init__(self, dim: int):
        super().__init__()
        # Indices match the original `conv_block.<i>` keys (1, 2, 5, 6 carry weights).
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=False),
            nn.BatchNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=False),
            nn.BatchNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class PhotoSketchNet(nn.Module):
    """pix2pix ResnetGenerator (batch norm, no dropout) as PhotoSketch trained it; input/output in [-1, 1]."""

    def __init__(self, in_channels: int = 3, out_channels: int = 1, filters: int = 64, blocks: int = 9):
        super().__init__()
        f = filters
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, f, 7, bias=False),
            nn.BatchNorm2d(f),
            nn.ReLU(True),
        ]
        for i in range(2):  # downsampling
            m = 2**i
            layers += [
                nn.Conv2d(f * m, f * m * 2, 3, 2, 1, bias=False),
                nn.BatchNorm2d(f * m * 2),
                nn.ReLU(True),
            ]
        layers += [_ResidualBlock(f * 4) for _ in range(blocks)]
        for i in range(2):  # upsampling
            m = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(f * m, f * m // 2, 3, 2, 1, output_padding=1, bias=False),
                nn.BatchNorm2d(f * m // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(f, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PhotoSketch(nn.Module):
    """Frozen PhotoSketch at `input_size`; sketches come back at the input's size."""

    label = "photosketch"
    is_offline = False

    def __init__(self, weights: str | os.PathLike | None = None, input_size: int = 256, blocks: int = 9):
        super().__init__()
        if weights is None:
            raise FileNotFoundError(f"sketch.photosketch.weights is not set. {PHOTOSKETCH_HINT}")
        self.net = PhotoSketchNet(blocks=blocks)
        state = load_state_dict(weights, config_key="sketch.photosketch.weights", hint=PHOTOSKETCH_HINT)
        state = {k.removeprefix("module."): v for k, v in state.items()}
        own = self.net.state_dict()
        missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise ValueError(
                f"sketch.photosketch.weights={weights}: not a PhotoSketch ResnetGenerator state dict "
                f"({len(missing)} missing, e.g. {missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]})"
            )
        self.net.load_state_dict({k: state.get(k, v) for k, v in own.items()})
        self.input_size = int(input_size)
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> PhotoSketch:  # batch norm always uses its running statistics
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sketches [N, 1, H, W] in [-1, 1] of RGB images in [-1, 1]."""
        size = x.shape[-2:]
        if tuple(size) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        y = self.net(x.float())
        if tuple(y.shape[-2:]) != tuple(size):
            y = F.interpolate(y, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
        return y

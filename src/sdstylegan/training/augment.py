"""ADA's differentiable augmentation pipeline (Karras et al. 2020, "Training GANs with limited data").

Every transform is applied to each image independently with probability `p * strength`, so at
`p = 0` images pass through untouched and the whole pipe stays differentiable w.r.t. the images
(D sees augmented reals *and* fakes; G's gradient flows back through the augmentation).

Geometric transforms (x-flip, 90° rotations, integer translation, isotropic scaling, arbitrary
rotation, anisotropic scaling) are composed into one 3×3 matrix per image and applied with a single
`grid_sample` (bilinear, reflection padding). Flips, 90° turns and integer shifts land exactly on
pixel centres (align_corners=False), so they are lossless; the paper resamples with a wavelet filter
at 2× instead of bilinear — a quality refinement left out here. Colour transforms (brightness,
contrast, luma flip, hue rotation, saturation) form one 4×4 matrix per image acting on RGB, as in
the paper's appendix. Random draws use torch's global generator, which the checkpoint stores.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------
# Matrix helpers (batched homogeneous matrices).


def _eye(n: int, batch: int, device: torch.device) -> torch.Tensor:
    return torch.eye(n, device=device).unsqueeze(0).repeat(batch, 1, 1)


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(3, tx.shape[0], tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(3, sx.shape[0], sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    m = _eye(3, theta.shape[0], theta.device)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def translate3d(t: torch.Tensor) -> torch.Tensor:
    """4×4 colour translation by the same amount `t` [N] on R, G and B."""
    m = _eye(4, t.shape[0], t.device)
    m[:, :3, 3] = t[:, None]
    return m


def scale3d(s: torch.Tensor) -> torch.Tensor:
    m = _eye(4, s.shape[0], s.device)
    m[:, 0, 0] = m[:, 1, 1] = m[:, 2, 2] = s
    return m


def rotate3d(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """4×4 rotation about the unit 3-vector `axis` by `theta` [N] (Rodrigues' formula)."""
    n = theta.shape[0]
    x, y, z = axis[0], axis[1], axis[2]
    c, s = torch.cos(theta), torch.sin(theta)
    cc = 1 - c
    m = _eye(4, n, theta.device)
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s
    m[:, 2, 0], m[:, 2, 1], m[:, 2, 2] = z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c
    return m


# ----------------------------------------------------------------------------


class AugmentPipe(nn.Module):
    """Per-image random augmentations with overall probability `p` (a buffer set by the ADA controller).

    Strength arguments (`xflip`, `rotate90`, …) multiply `p` for that transform; 0 switches it off.
    """

    def __init__(
        self,
        xflip: float = 0,  # probability multiplier for x-flip
        rotate90: float = 0,  # … for rotations by a multiple of 90°
        xint: float = 0,  # … for integer translation
        scale: float = 0,  # … for isotropic scaling
        rotate: float = 0,  # … for arbitrary rotation
        aniso: float = 0,  # … for anisotropic scaling
        brightness: float = 0,  # … for brightness
        contrast: float = 0,  # … for contrast
        lumaflip: float = 0,  # … for luma flip
        hue: float = 0,  # … for hue rotation
        saturation: float = 0,  # … for saturation
        xint_max: float = 0.125,  # largest shift, as a fraction of the image size
        scale_std: float = 0.2,  # log2 standard deviation of isotropic scaling
        rotate_max: float = 1.0,  # largest rotation, as a fraction of a half turn
        aniso_std: float = 0.2,  # log2 standard deviation of anisotropic scaling
        brightness_std: float = 0.2,  # standard deviation of the brightness offset
        contrast_std: float = 0.5,  # log2 standard deviation of contrast scaling
        hue_max: float = 1.0,  # largest hue rotation, as a fraction of a half turn
        saturation_std: float = 1.0,  # log2 standard deviation of saturation scaling
    ):
        super().__init__()
        self.register_buffer("p", torch.zeros([]))
        self.geom = dict(xflip=xflip, rotate90=rotate90, xint=xint, scale=scale, rotate=rotate, aniso=aniso)
        self.color = dict(
            brightness=brightness, contrast=contrast, lumaflip=lumaflip, hue=hue, saturation=saturation
        )
        for name, value in {**self.geom, **self.color}.items():
            if value < 0:
                raise ValueError(f"augment strength {name} must be ≥ 0, got {value}")
        self.xint_max, self.scale_std, self.rotate_max, self.aniso_std = (
            xint_max,
            scale_std,
            rotate_max,
            aniso_std,
        )
        self.brightness_std, self.contrast_std = brightness_std, contrast_std
        self.hue_max, self.saturation_std = hue_max, saturation_std
        # Luma axis in RGB (unit vector along grey): lumaflip/hue/saturation act relative to it.
        self.register_buffer("luma_axis", torch.tensor([1.0, 1.0, 1.0]) / math.sqrt(3), persistent=False)

    def _mask(self, strength: float, n: int, device: torch.device) -> torch.Tensor:
        """1 where the transform applies to that image (probability p·strength), else 0."""
        return (torch.rand(n, device=device) < self.p * strength).float()

    def geometry_matrix(self, n: int, size: tuple[int, int], device: torch.device) -> torch.Tensor:
        """[n, 3, 3] map from output to input coordinates in grid_sample's normalised [-1, 1] frame."""
        h, w = size
        g = _eye(3, n, device)
        s = self.geom
        if s["xflip"] > 0:  # mirror x: scale by -1 on the masked images
            flip = self._mask(s["xflip"], n, device)
            g = g @ scale2d(1 - 2 * flip, torch.ones(n, device=device))
        if s["rotate90"] > 0:  # k·90° with k uniform in {0, 1, 2, 3}
            k = torch.randint(0, 4, (n,), device=device).float() * self._mask(s["rotate90"], n, device)
            g = g @ rotate2d(k * (math.pi / 2))
        if s["xint"] > 0:  # whole-pixel shift: 2/size in normalised units per pixel
            m = self._mask(s["xint"], n, device)
            tx = torch.round((torch.rand(n, device=device) * 2 - 1) * self.xint_max * w) * (2 / w)
            ty = torch.round((torch.rand(n, device=device) * 2 - 1) * self.xint_max * h) * (2 / h)
            g = g @ translate2d(tx * m, ty * m)
        if s["scale"] > 0:  # log-normal isotropic scale
            m = self._mask(s["scale"], n, device)
            sc = torch.exp2(torch.randn(n, device=device) * self.scale_std * m)
            g = g @ scale2d(sc, sc)
        if s["rotate"] > 0:  # uniform rotation; as in ADA, applied before and after anisotropic scaling
            p_rot = 1 - torch.sqrt((1 - self.p * s["rotate"]).clamp(0, 1))  # so that P(any rotation) = p
            m = (torch.rand(n, device=device) < p_rot).float()
            g = g @ rotate2d((torch.rand(n, device=device) * 2 - 1) * math.pi * self.rotate_max * m)
        if s["aniso"] > 0:  # log-normal scale of x against y
            m = self._mask(s["aniso"], n, device)
            a = torch.exp2(torch.randn(n, device=device) * self.aniso_std * m)
            g = g @ scale2d(a, 1 / a)
        if s["rotate"] > 0:
            m = (torch.rand(n, device=device) < p_rot).float()
            g = g @ rotate2d((torch.rand(n, device=device) * 2 - 1) * math.pi * self.rotate_max * m)
        return g

    def color_matrix(self, n: int, device: torch.device) -> torch.Tensor:
        """[n, 4, 4] affine map on homogeneous RGB (images in [-1, 1])."""
        c = _eye(4, n, device)
        s = self.color
        v = self.luma_axis.to(device)
        vv = torch.zeros(4, 4, device=device)
        vv[:3, :3] = torch.outer(v, v)  # projector onto the luma axis
        if s["brightness"] > 0:
            b = torch.randn(n, device=device) * self.brightness_std * self._mask(s["brightness"], n, device)
            c = translate3d(b) @ c
        if s["contrast"] > 0:
            k = torch.exp2(
                torch.randn(n, device=device) * self.contrast_std * self._mask(s["contrast"], n, device)
            )
            c = scale3d(k) @ c
        if s["lumaflip"] > 0:  # Householder reflection of the luma component: I − 2·v·vᵀ
            i = self._mask(s["lumaflip"], n, device)
            c = (_eye(4, n, device) - 2 * vv.unsqueeze(0) * i[:, None, None]) @ c
        if s["hue"] > 0:  # rotation about the luma axis
            theta = (
                (torch.rand(n, device=device) * 2 - 1)
                * math.pi
                * self.hue_max
                * self._mask(s["hue"], n, device)
            )
            c = rotate3d(v, theta) @ c
        if s["saturation"] > 0:  # scale the chroma (component orthogonal to luma)
            k = torch.exp2(
                torch.randn(n, device=device) * self.saturation_std * self._mask(s["saturation"], n, device)
            )
            eye = _eye(4, n, device)
            c = (vv.unsqueeze(0) + (eye - vv.unsqueeze(0)) * k[:, None, None]) @ c
            c[:, 3, 3] = 1
        return c

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Augment a float NCHW batch in [-1, 1]; returns a tensor of the same shape and dtype."""
        if images.ndim != 4:
            raise ValueError(f"AugmentPipe expects NCHW images, got shape {tuple(images.shape)}")
        if float(self.p) <= 0:
            return images
        n, ch, h, w = images.shape
        dtype = images.dtype
        x = images.float()
        if any(v > 0 for v in self.geom.values()):
            g = self.geometry_matrix(n, (h, w), x.device)
            identity = torch.eye(3, device=x.device)
            if not torch.equal(g, identity.expand_as(g)):
                grid = F.affine_grid(g[:, :2, :], [n, ch, h, w], align_corners=False)
                x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        if any(v > 0 for v in self.color.values()):
            if ch != 3:
                raise ValueError(f"colour augmentations need RGB images, got {ch} channels")
            c = self.color_matrix(n, x.device)
            x = torch.einsum("nij,njhw->nihw", c[:, :3, :3], x) + c[:, :3, 3, None, None]
        return x.to(dtype)

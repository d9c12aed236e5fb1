"""Check and convert image batches before they reach a feature extractor.

Every extractor eats one canonical format: uint8 NCHW RGB. Generated images (float, ~[-1, 1]) are
quantised the way they would be saved as PNG — `round(x·127.5 + 127.5)` clamped to [0, 255], the
StyleGAN2-ADA convention — so real and generated images reach the network alike. Values a little
outside [-1, 1] are normal for a StyleGAN generator and are clamped; values far outside, NaN, or an
unexpected dtype mean the caller passed the wrong thing (e.g. [0, 255] floats), which is an error.
"""

from __future__ import annotations

import torch

# A generator's raw output overshoots [-1, 1] a little; beyond this it is not a [-1, 1] image.
FLOAT_LIMIT = 2.0
# ImageNet normalisation of [0, 1] RGB (DINO, timm ViTs).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageFormatError(ValueError):
    """A batch of images has the wrong shape, dtype or value range."""


def check_batch(images: torch.Tensor, what: str = "images") -> torch.Tensor:
    """Validate an NCHW batch (uint8 [0, 255] or float [-1, 1]); grayscale becomes RGB."""
    if not isinstance(images, torch.Tensor):
        raise ImageFormatError(f"{what}: expected a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ImageFormatError(f"{what}: expected an NCHW batch, got shape {tuple(images.shape)}")
    if images.shape[1] not in (1, 3):
        raise ImageFormatError(f"{what}: expected 1 or 3 channels (NCHW), got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ImageFormatError(f"{what}: empty batch")
    if images.dtype == torch.uint8:
        pass
    elif images.is_floating_point():
        if not torch.isfinite(images).all():
            raise ImageFormatError(f"{what}: contains NaN or inf")
        lo, hi = images.amin().item(), images.amax().item()
        if lo < -FLOAT_LIMIT or hi > FLOAT_LIMIT:
            raise ImageFormatError(
                f"{what}: float images must be in [-1, 1] (got min {lo:.3g}, max {hi:.3g}); "
                f"pass [0, 255] images as torch.uint8, or rescale with x / 127.5 - 1"
            )
    else:
        raise ImageFormatError(
            f"{what}: dtype {images.dtype} is not supported; use uint8 [0, 255] or float [-1, 1]"
        )
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return images


def to_uint8(images: torch.Tensor, what: str = "images") -> torch.Tensor:
    """Checked batch as uint8 NCHW RGB (floats quantised like a saved PNG)."""
    images = check_batch(images, what)
    if images.dtype == torch.uint8:
        return images.contiguous()
    return (images.detach().float() * 127.5 + 127.5).round().clamp(0, 255).to(torch.uint8)


def uint8_to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float32 [0, 1]."""
    return images.to(torch.float32) / 255.0

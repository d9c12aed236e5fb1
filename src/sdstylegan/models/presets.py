"""Model presets whose values depend on the resolution, built without global state: each function is a
Hydra `_target_` that takes the resolution and returns the network (conf/model/auto.yaml).

StyleGAN2-ADA's `auto` configuration (Karras et al. 2020, train.py): fmaps = 1 if res >= 512 else 0.5,
channel_base = fmaps·32768, channel_max = 512, mapping depth 2, z/w 512, reduced precision on the 4 highest
resolutions with conv_clamp 256, minibatch-std group min(batch per GPU, 4).
"""

from __future__ import annotations

from typing import Any

from sdstylegan.models.discriminator import Discriminator
from sdstylegan.models.encoder import Encoder
from sdstylegan.models.generator import Generator


def auto_channel_base(img_resolution: int) -> int:
    """fmaps · 32768 with fmaps = 1 at 512² and above, 0.5 below."""
    return int((1.0 if img_resolution >= 512 else 0.5) * 32768)


def _auto_common(img_resolution: int) -> dict[str, Any]:
    return dict(
        channel_base=auto_channel_base(img_resolution), channel_max=512, num_fp16_res=4, conv_clamp=256
    )


def auto_generator(img_resolution: int, **overrides: Any) -> Generator:
    """StyleGAN2-ADA `auto` generator for this resolution; keyword overrides win."""
    kwargs = dict(z_dim=512, w_dim=512, mapping_layers=2, **_auto_common(img_resolution))
    kwargs.update(overrides)
    return Generator(img_resolution=img_resolution, **kwargs)


def auto_discriminator(img_resolution: int, mbstd_group_size: int = 4, **overrides: Any) -> Discriminator:
    """StyleGAN2-ADA `auto` discriminator; mbstd_group_size should be min(batch per GPU, 4)."""
    kwargs = dict(mbstd_group_size=mbstd_group_size, **_auto_common(img_resolution))
    kwargs.update(overrides)
    return Discriminator(img_resolution=img_resolution, **kwargs)


def auto_encoder(img_resolution: int, w_dim: int = 512, **overrides: Any) -> Encoder:
    """Encoder with the `auto` discriminator's architecture."""
    kwargs = dict(w_dim=w_dim, **_auto_common(img_resolution))
    kwargs.update(overrides)
    return Encoder(img_resolution=img_resolution, **kwargs)

"""StyleGAN2 networks (no class conditioning): Generator (mapping + synthesis), residual Discriminator, and the
self-filtering Encoder; presets in conf/model/*.yaml build them through Hydra `_target_` nodes.

    G = instantiate(cfg.model.generator); D = instantiate(cfg.model.discriminator); E = instantiate(cfg.model.encoder)
See models.generator for the G contract; D(img) -> [N, 1] logits; E(img) -> w [N, w_dim] (w_plus: [N, num_ws, w_dim]).
"""

from sdstylegan.models.discriminator import Discriminator
from sdstylegan.models.encoder import Encoder
from sdstylegan.models.generator import Generator, mix_styles
from sdstylegan.models.mapping import MappingNetwork, truncate
from sdstylegan.models.synthesis import SynthesisNetwork

__all__ = [
    "Discriminator",
    "Encoder",
    "Generator",
    "MappingNetwork",
    "SynthesisNetwork",
    "mix_styles",
    "truncate",
]

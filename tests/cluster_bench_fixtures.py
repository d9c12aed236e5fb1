"""Real files for the cluster_bench tests: coloured-square image folders and a tiny training checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
D_NODE = {
    "_target_": "sdstylegan.models.discriminator.Discriminator",
    "img_resolution": 8,
    "channel_base": 64,
    "channel_max": 8,
    "mbstd_group_size": 4,
}
E_NODE = {
    "_target_": "sdstylegan.models.encoder.Encoder",
    "img_resolution": 8,
    "w_dim": 6,
    "channel_base": 64,
    "channel_max": 8,
}


def write_image(path: Path, colour: tuple[int, int, int], seed: int, size: int = 16) -> Path:
    """A square of `colour` with a little seeded noise, as PNG."""
    rng = np.random.default_rng(seed)
    a = np.clip(np.asarray(colour, dtype=np.float64) + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(
        np.uint8
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def class_folder(root: Path, per_class: int = 6, size: int = 16) -> Path:
    """root/<colour>/<i>.png for each colour of COLOURS: a folder whose subfolders are the classes."""
    for c, (name, rgb) in enumerate(COLOURS.items()):
        for i in range(per_class):
            write_image(root / name / f"{i:02d}.png", rgb, seed=100 * c + i, size=size)
    return root


def tiny_checkpoint(path: Path, seed: int = 0, with_encoder: bool = True) -> Path:
    """A training checkpoint in StyleGAN2Module's layout holding D (and E) at 8², loadable by load_network."""
    from hydra.utils import instantiate

    from sdstylegan.training.checkpoint import AtomicCheckpointIO

    torch.manual_seed(seed)
    nets = {"D": instantiate(D_NODE)} | ({"E": instantiate(E_NODE)} if with_encoder else {})
    state = {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()}
    model = {"discriminator": D_NODE} | ({"encoder": E_NODE} if with_encoder else {})
    AtomicCheckpointIO().save_checkpoint(
        {"state_dict": state, "sdstylegan": {"format": 1, "model": model}}, path
    )
    return path

"""A small CNN that tells the demo's planted modes apart, to count modes among generated samples.

Trained on the inliers of the demo ground truth (real images at the training resolution, mirrored copies
added), a seeded split holds out `holdout` of them; its held-out accuracy is reported beside every share it
produces, so a reader can judge how far its labels of generated samples can be trusted. Seconds on a CPU at
32²–64². It is a measuring instrument for the method proof, not a part of the SDIP method.

`grey=True` trains and predicts on luminance only (repeated on R, G, B): a colour-blind instrument that sees
shape, brightness and texture, which is all a sketch carries (the sketch stage reports both shares).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sdstylegan.data.datamodule import ManifestImageDataset, uint8_to_float
from sdstylegan.sketch.sketchers import luminance


def colour_blind(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] → their Rec. 601 luma in [-1, 1], repeated on the three channels."""
    return (luminance(images) * 2 - 1).expand(-1, 3, -1, -1).contiguous()


def net_inputs(images: torch.Tensor, grey: bool) -> torch.Tensor:
    """What a ModeNet sees of float images in [-1, 1]: themselves, or their luminance when `grey`."""
    return colour_blind(images) if grey else images.float()  # luminance() casts to float itself


class ModeNet(nn.Module):
    """Four stride-2 conv blocks, global average pool, linear head (input [-1, 1] NCHW, any size ≥ 16)."""

    def __init__(self, num_modes: int, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i in range(4):
            cout = width * 2 ** min(i, 2)
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_modes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


@dataclass
class ModeClassifier:
    """A trained ModeNet, its held-out accuracy and what it was trained on."""

    net: ModeNet
    mode_names: list[str]
    holdout_accuracy: float
    train_images: int
    holdout_images: int
    epochs: int
    grey: bool = False  # sees luminance only (`colour_blind`)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Mode index (N,) of float images in [-1, 1]."""
        self.net.eval()
        return torch.cat([self.net(net_inputs(x, self.grey)).argmax(dim=1) for x in images.split(batch)])

    def summary(self) -> dict[str, Any]:
        return {
            "holdout_accuracy": self.holdout_accuracy,
            "train_images": self.train_images,
            "holdout_images": self.holdout_images,
            "epochs": self.epochs,
            "modes": self.mode_names,
            "grey": self.grey,
        }


def labelled_inliers(
    manifest: str | Path, resolution: int, truth: dict[str, dict[str, Any]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 3, r, r] and mode labels (N,) of the manifest's usable images that are planted inliers."""
    ds = ManifestImageDataset(manifest, resolution)
    keep = [
        i
        for i, r in enumerate(ds.records)
        if r.id in truth and not truth[r.id].get("outlier") and truth[r.id].get("mode") is not None
    ]
    if not keep:
        raise ValueError(f"{manifest}: no usable image is a planted inlier with a mode (demo ground truth)")
    images = torch.stack([ds[i] for i in keep])
    labels = torch.tensor([int(truth[ds.records[i].id]["mode"]) for i in keep])
    return images, labels


def train_mode_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    mode_names: list[str],
    seed: int,
    holdout: float = 0.2,
    epochs: int = 8,
    batch: int = 64,
    lr: float = 2e-3,
    grey: bool = False,  # colour-blind: train and predict on luminance only
) -> ModeClassifier:
    """Train on a seeded (1 − holdout) split of uint8 `images`; accuracy on the rest."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must lie in (0, 1), got {holdout}")
    n = labels.numel()
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    n_test = max(1, round(holdout * n))
    test, train = order[:n_test], order[n_test:]
    if train.numel() == 0:
        raise ValueError(f"{n} labelled images are too few to train a mode classifier")
    x_train = net_inputs(uint8_to_float(images[train]), grey)
    x_train = torch.cat([x_train, x_train.flip(3)])  # mirrored copies, as the training data has them
    y_train = torch.cat([labels[train], labels[train]])
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # ModeNet's initial weights
    net = ModeNet(len(mode_names))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(y_train.numel(), generator=gen).split(batch):
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    clf = ModeClassifier(net, list(mode_names), 0.0, int(train.numel()), int(n_test), epochs, grey)
    predicted = clf.predict(uint8_to_float(images[test]))
    clf.holdout_accuracy = float((predicted == labels[test]).float().mean())
    return clf

"""Mode shares of trained demo generators (why the method proof's ψ = 0.5 coverage fails).

    python experiments/mode_balance_probe.py outputs/RUN [outputs/RUN2 ...] [--stage train_all] [--num 1000]

For each run: trains the proof's mode classifier on the run's planted inliers (crop manifest + demo ground
truth), samples `--num` untruncated images from the stage's last checkpoint and prints each mode's share,
the entropy (normalised, 1 = even) and the smallest share. Same seeds as the proof stage uses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sdstylegan.data.demo import MODES
from sdstylegan.distill.truncation import render
from sdstylegan.proof.coverage import mode_shares
from sdstylegan.proof.mode_classifier import labelled_inliers, train_mode_classifier
from sdstylegan.training.checkpoint import load_generator
from sdstylegan.utils.io import read_jsonl


def probe(run: Path, stage: str, num: int, seed: int) -> dict:
    truth = {
        row["id"]: row for _, row in read_jsonl(run / "demo_data" / "ground_truth.jsonl", what="ground truth")
    }
    manifest = run / ("crop" if (run / "crop").exists() else "demo_data") / "manifest.jsonl"
    G = load_generator(run / stage / "checkpoints" / "last.ckpt", map_location="cpu").eval()
    images, labels = labelled_inliers(manifest, G.img_resolution, truth)
    clf = train_mode_classifier(images, labels, list(MODES), seed)
    z = torch.randn(num, G.z_dim, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        x = render(G, torch.cat([G.mapping(zb) for zb in z.split(250)]), 250)
    m = mode_shares(clf.predict(x), len(MODES))
    return {
        "run": str(run),
        "stage": stage,
        "classifier_acc": round(clf.holdout_accuracy, 3),
        "shares": {name: round(p, 3) for name, p in zip(MODES, m["shares"])},
        "entropy": round(m["entropy"], 3),
        "min_share": round(m["min_share"], 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--stage", default="train_all")
    p.add_argument("--num", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    for run in a.runs:
        print(json.dumps(probe(run, a.stage, a.num, a.seed)))


if __name__ == "__main__":
    main()

"""Mode shares of trained demo generators (why the method proof's ψ = 0.5 coverage fails).

    python experiments/mode_balance_probe.py outputs/RUN [outputs/RUN2 ...] [--stage train_all] [--num 1000]

For each run: trains the proof's mode classifier on the run's planted inliers (crop manifest + demo ground
truth), samples `--num` untruncated images from the stage's last checkpoint and prints each mode's share,
the entropy (normalised, 1 = even) and the smallest share. Same seeds as the proof stage uses.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from sdstylegan.data.datamodule import ManifestImageDataset
from sdstylegan.data.demo import MODES
from sdstylegan.distill.truncation import render
from sdstylegan.proof.mode_classifier import train_mode_classifier
from sdstylegan.training.checkpoint import load_generator


def _truth(run: Path) -> dict[str, dict]:
    with open(run / "demo_data" / "ground_truth.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {r["id"]: r for r in rows}


def probe(run: Path, stage: str, num: int, seed: int) -> dict:
    truth = _truth(run)
    manifest = run / ("crop" if (run / "crop").exists() else "demo_data") / "manifest.jsonl"
    G = load_generator(run / stage / "checkpoints" / "last.ckpt", map_location="cpu").eval()
    res = G.img_resolution
    ds = ManifestImageDataset(manifest, res)
    keep = [i for i, r in enumerate(ds.records) if not truth.get(r.id, {"outlier": True}).get("outlier")]
    images = torch.stack([ds[i] for i in keep])
    labels = torch.tensor([int(truth[ds.records[i].id]["mode"]) for i in keep])
    clf = train_mode_classifier(images, labels, list(MODES), seed)
    z = torch.randn(num, G.z_dim, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        x = render(G, torch.cat([G.mapping(zb) for zb in z.split(250)]), 250)
    pred = clf.predict(x)
    shares = torch.bincount(pred, minlength=len(MODES)).double() / num
    ent = -sum(float(p) * math.log(float(p)) for p in shares if p > 0) / math.log(len(MODES))
    return {
        "run": str(run),
        "stage": stage,
        "classifier_acc": round(clf.holdout_accuracy, 3),
        "shares": {m: round(float(s), 3) for m, s in zip(MODES, shares)},
        "entropy": round(ent, 3),
        "min_share": round(float(shares.min()), 3),
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

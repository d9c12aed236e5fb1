"""Spread of the sketch demo's measures over sample draws of one generator (issue #15's third criterion).

    OMP_NUM_THREADS=1 python experiments/sketch_2026-11-28_spread.py outputs/demo_sketch \\
        before=outputs/demo_sketch/train/checkpoints/last.ckpt \\
        after=outputs/demo_sketch/sketch/checkpoints/last.ckpt --samples 500 2000 --draws 8

For each generator and sample count: `draws` independent z draws (seeds 1000, 1001, …; the stage's report
uses seed 0), and per draw the stand-in FID against the sketched mode's real images and against all real
images, and the sketched mode's share (the stage's mode classifier, same seed and settings). Prints mean,
standard deviation, min and max over draws, so a before/after difference can be compared with the noise of
the measure itself. `which=G` measures a checkpoint's raw G instead of G_ema (`name=path:G`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from sdstylegan.data.demo import MODES
from sdstylegan.proof.mode_classifier import labelled_inliers, train_mode_classifier
from sdstylegan.proof.proof_stage import FidReference
from sdstylegan.sketch.demo_sketches import mode_index
from sdstylegan.training.callbacks import fixed_samples
from sdstylegan.training.checkpoint import load_generator
from sdstylegan.utils.io import read_jsonl
from sdstylegan.utils.seeding import derive_seed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="run directory of experiment=demo_sketch (demo_data, config.yaml)")
    p.add_argument("generators", nargs="+", help="name=checkpoint[:G]")
    p.add_argument("--samples", type=int, nargs="+", default=[500])
    p.add_argument("--draws", type=int, default=8)
    p.add_argument("--json", type=Path, default=None, help="also write the per-draw figures here")
    a = p.parse_args()

    cfg = OmegaConf.load(a.run / "config.yaml")
    res = int(cfg.dataset.resolution)
    truth = {r["id"]: r for _, r in read_jsonl(a.run / "demo_data" / "ground_truth.jsonl")}
    images, labels = labelled_inliers(a.run / "demo_data" / "manifest.jsonl", res, truth)
    mode = mode_index(cfg.sketch.demo.mode)
    c = cfg.sketch.eval.classifier
    clf = train_mode_classifier(
        images, labels, list(MODES), derive_seed(int(cfg.seed), "sketch", "classifier"),
        holdout=float(c.holdout), epochs=int(c.epochs), batch=int(c.batch), lr=float(c.lr),
    )  # fmt: skip
    ref = FidReference(
        instantiate(cfg.metrics.inception), images, labels == mode, float(cfg.metrics.frechet_eps), 64
    )
    out: dict[str, dict[str, list[dict[str, float]]]] = {}
    for spec in a.generators:
        name, _, path = spec.partition("=")
        path, _, which = path.partition(":")
        G = load_generator(path, which=which or "G_ema").eval()
        for n in a.samples:
            rows = []
            for d in range(a.draws):
                z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(1000 + d))
                with torch.no_grad():
                    x = fixed_samples(G, z, psi=1.0, batch=64).clamp(-1, 1)
                f = ref(x)
                share = float((clf.predict(x) == mode).float().mean())
                rows.append({"fid_mode": f["inliers"], "fid_all": f["all"], "share": share})
            out.setdefault(name, {})[str(n)] = rows
            for k in ("fid_mode", "fid_all", "share"):
                v = np.array([r[k] for r in rows])
                print(
                    f"{name:>12} n={n:<5} {k:>8}: mean {v.mean():.6g} sd {v.std(ddof=1):.3g} "
                    f"min {v.min():.6g} max {v.max():.6g}",
                    flush=True,
                )
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

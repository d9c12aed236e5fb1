"""Time the distill stages (self_filter, cluster) in the offline demo chain, and KMeans at paper scale.

    python experiments/distill_demo_timing.py --out /tmp/distill_timing [--kimg 0.064] [--images 2000] [overrides…]

Runs `experiment=demo` with `metrics=standin filtering=demo clustering=demo` at 32² through
demo_data → train_raw → self_filter → train → cluster (training kept short: the stage times of
self_filter and cluster do not depend on how long G was trained), then prints each stage's seconds
from its done.json and the self_filter / cluster reports' headline numbers (STAND-IN LPIPS and FID:
they exercise the code, they say nothing about real quality). Finally times `distill.kmeans` on
60,000 × 512 random w with 64 centres (the paper's setting; Lloyd iterations capped) on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]


def demo_chain(out: Path, kimg: float, images: int, extra: list[str]) -> dict:
    from omegaconf import open_dict

    from sdstylegan.pipeline.entry import run_from_config

    overrides = [
        "experiment=demo",
        "metrics=standin",
        "filtering=demo",
        "clustering=demo",
        "dataset.resolution=32",
        f"dataset.num_images={images}",
        "training.batch_size=16",
        f"training.total_kimg={kimg}",
        "training.callbacks.metrics.every_kimg=null",
        "trainer.enable_progress_bar=false",
        "print_config=false",
        "pipeline.stages=[demo_data,train_raw,self_filter,train,cluster]",
        *extra,
    ]
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose(config_name="config", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.run_dir, cfg.paths.output_dir = str(out / "run"), str(out)
    t0 = time.time()
    outs = run_from_config(cfg)
    run = out / "run"
    times = {s: json.loads((run / s / "done.json").read_text()).get("seconds") for s in outs}
    filt = json.loads((run / outs["self_filter"]["report"]).read_text())
    clus = json.loads((run / outs["cluster"]["report"]).read_text())
    return {
        "overrides": overrides,
        "wall_s": round(time.time() - t0, 1),
        "stage_seconds": times,
        "self_filter": {k: filt.get(k) for k in ("theta", "kept", "total", "floor", "raised_for_floor")}
        | {"search_steps": len(filt["path"]), "outliers": filt.get("ground_truth_outliers_standin")},
        "cluster": {k: clus.get(k) for k in ("num_samples", "num_clusters", "iterations", "converged")}
        | {
            "modes": {
                k: v
                for k, v in (clus.get("ground_truth_modes_standin") or {}).items()
                if k != "cluster_modes"
            }
        },
    }


def kmeans_paper_scale(max_iter: int) -> dict:
    from sdstylegan.distill.kmeans import kmeans

    w = torch.randn(60000, 512, generator=torch.Generator().manual_seed(0))
    t0 = time.time()
    res = kmeans(w, 64, max_iter=max_iter, seed=0, n_init=1)
    dt = time.time() - t0
    return {
        "points": 60000,
        "dim": 512,
        "k": 64,
        "iterations": res.iterations,
        "seconds": round(dt, 2),
        "s_per_iteration": round(dt / res.iterations, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--kimg", type=float, default=0.064)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--kmeans-iters", type=int, default=20)
    ap.add_argument("--no-kmeans", action="store_true", help="skip the 60k KMeans timing")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. metrics.lpips.net=alex")
    args = ap.parse_args()
    result = {
        "torch_threads": torch.get_num_threads(),
        "demo": demo_chain(args.out, args.kimg, args.images, args.overrides),
    }
    if not args.no_kmeans:
        result["kmeans_60k"] = kmeans_paper_scale(args.kmeans_iters)
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

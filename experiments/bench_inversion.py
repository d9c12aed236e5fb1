"""Benchmark: the three inversion methods on held-out demo images, and batched vs one-at-a-time projection.

    python train.py experiment=demo                       # a run with train_raw (G + E) first
    python experiments/bench_inversion.py outputs/demo --images 16 --steps 300 --refine-steps 60

Held-out images: demo gourds rendered with another seed (never seen in training), centre-cropped to the
run's resolution. For each method and space: LPIPS (the run's `metrics.lpips`; a stand-in on the demo, so
the name carries `_standin`), MSE in [-1, 1] units and seconds per image, plus the w_avg start (G(w_avg) for
every image) as the floor to beat. Timing part: the projector on `--batch-images` images at once vs one at
a time, same steps, interleaved, paired ratio.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sdstylegan.data.demo import render_demo_image
from sdstylegan.data.images import square_resize
from sdstylegan.generate import build_lpips, find_checkpoint
from sdstylegan.invert.inversion import invert
from sdstylegan.invert.projector import ProjectorConfig, project, to_compare, w_statistics
from sdstylegan.training.checkpoint import load_generator, load_network


def held_out(n: int, resolution: int, seed: int = 9999) -> torch.Tensor:
    """Demo gourds (no outliers) of a seed the run never trained on, as [-1, 1] tensors."""
    out = []
    for i in range(n):
        img = square_resize(
            render_demo_image(seed, i, resolution=128, outlier_fraction=0.0).image, resolution
        )
        out.append(torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1)
    return torch.stack(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="run directory with train_raw (G and E)")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--refine-steps", type=int, default=60)
    p.add_argument("--batch-images", type=int, default=16)
    p.add_argument("--timing-steps", type=int, default=20)
    p.add_argument("--timing-only", action="store_true", help="only the batched vs one-at-a-time part")
    args = p.parse_args()
    torch.set_grad_enabled(True)
    run = Path(args.run)
    ckpt = run / "train_raw" / "checkpoints" / "last.ckpt"
    G, E = load_generator(ckpt), load_network(ckpt, which="E")
    lpips = build_lpips(find_checkpoint(run).run_dir).eval().requires_grad_(False)
    suffix = "_standin" if lpips.is_standin else ""
    x = held_out(args.images, G.img_resolution)
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}; G {G.img_resolution}², {args.images} held-out images"
    )
    if args.timing_only:
        return timing(G, x[: args.batch_images], lpips, args.timing_steps)
    w_avg, _ = w_statistics(G, 2000)
    with torch.no_grad():
        start = G.synthesis(w_avg.expand(len(x), G.num_ws, -1), noise_mode="const").clamp(-1, 1)
        floor = lpips(to_compare(start, 256), to_compare(x, 256))
    print(f"\n| method | space | steps | lpips{suffix} | mse | s/image |\n|---|---|---|---|---|---|")
    print(f"| w_avg start | – | 0 | {floor.mean():.4f} | {(start - x).square().mean():.4f} | – |")
    for method, space, steps in [
        ("encoder", "w", 0),
        ("projector", "w", args.steps),
        ("projector", "wplus", args.steps),
        ("encoder+projector", "w", args.refine_steps),
        ("encoder+projector", "wplus", args.refine_steps),
    ]:
        res = invert(
            G, x, method, space, distance=lpips, E=E, steps=args.steps, refine_steps=args.refine_steps
        )
        print(
            f"| {method} | {space} | {steps} | {res.lpips.mean():.4f} | {res.mse.mean():.4f} | "
            f"{res.seconds_per_image:.3f} |",
            flush=True,
        )
    timing(G, x[: args.batch_images], lpips, args.timing_steps)


def timing(G: torch.nn.Module, xb: torch.Tensor, lpips: torch.nn.Module, steps: int) -> None:
    """Batched vs one at a time: same images, same steps, interleaved twice."""
    cfg = ProjectorConfig(num_steps=steps, w_avg_samples=2000)
    batched, single = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        project(G, xb, lpips, cfg=cfg)
        batched.append((time.perf_counter() - t0) / len(xb))
        t0 = time.perf_counter()
        for i in range(len(xb)):
            project(G, xb[i : i + 1], lpips, cfg=cfg)
        single.append((time.perf_counter() - t0) / len(xb))
    print(
        f"\nprojector, {len(xb)} images × {steps} steps: batched {min(batched):.3f} s/image, "
        f"one at a time {min(single):.3f} s/image, ratio {min(single) / min(batched):.1f}× (min of 2 runs each)"
    )


if __name__ == "__main__":
    main()

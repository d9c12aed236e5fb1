"""Benchmark: time to compute FID over N generated images at several resolutions (default 10k, 64² and 256²).

What is timed is the metric's own work per image — uint8 quantisation, TF1-bilinear resize to 299²,
Inception pool3 features, moment accumulation — plus the Fréchet distance between two 2048-d
Gaussians. Image generation is not included (it depends on the generator; time it with the model).
The network is the FID Inception *architecture* with random weights (batch-norm statistics
calibrated so activations have a trained-like scale: no denormal slow-down), because no pretrained
weights exist offline; the timing is real, the FID values are meaningless and not reported.

On a slow machine the per-image cost is measured on `--images` images per resolution, the
resolutions interleaved over `--repeats` rounds (so background load hits them alike), and the
N-image time is extrapolated linearly (the per-image cost does not depend on N; the Fréchet step is
measured once at full size). Run:

    python experiments/bench_fid.py --images 64 --repeats 3 --device cpu --out experiments/fid_timing_<date>.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import date

import torch

from sdstylegan.metrics.features import FeatureAccumulator, stats_from_features
from sdstylegan.metrics.frechet import frechet_distance
from sdstylegan.metrics.images import to_uint8
from sdstylegan.metrics.inception import random_inception


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_features(ext, images: torch.Tensor, batch: int, device: torch.device) -> tuple[float, float, float]:
    """(wall seconds for all images end to end, process CPU seconds, wall seconds of the resize alone)."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    acc = FeatureAccumulator(ext.num_features).to(device)
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for chunk in images.split(batch):
        acc.update(ext(to_uint8(chunk.to(device))))
    sync(device)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    for chunk in images.split(batch):
        interpolate_bilinear_2d_like_tensorflow1x(
            to_uint8(chunk.to(device)).float(), size=(299, 299), align_corners=False
        )
    sync(device)
    return total, cpu, time.perf_counter() - t0


def scipy_frechet(a, b) -> None:
    """The classic pytorch-fid formula (scipy.linalg.sqrtm of Σ₁Σ₂), for the side-by-side timing."""
    import numpy as np
    import scipy.linalg

    s1, s2 = a.sigma.cpu().numpy(), b.sigma.cpu().numpy()
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    float(((a.mu - b.mu).square().sum()).item() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolutions", type=int, nargs="+", default=[64, 256])
    p.add_argument("--target", type=int, default=10000, help="number of generated images to report for")
    p.add_argument("--images", type=int, default=64, help="images timed per resolution and round")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--machine", default="2-core CPU sandbox, no GPU")
    p.add_argument("--out", default=None, help="markdown file for the result table")
    p.add_argument("--compare-scipy", action="store_true", help="also time scipy.linalg.sqrtm (pytorch-fid)")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)

    ext = random_inception(seed=0).to(device)
    warm = torch.rand(min(args.batch, 4), 3, 64, 64, device=device) * 2 - 1
    with torch.no_grad():
        ext(to_uint8(warm))  # first call pays one-off allocator/oneDNN set-up
    # generated images stand in as random float [-1, 1] tensors (content does not change the cost)
    images = {r: torch.rand(args.images, 3, r, r) * 2 - 1 for r in args.resolutions}
    totals: dict[int, list[float]] = {r: [] for r in args.resolutions}
    cpus: dict[int, list[float]] = {r: [] for r in args.resolutions}
    resizes: dict[int, list[float]] = {r: [] for r in args.resolutions}
    with torch.no_grad():
        for _ in range(args.repeats):
            for r in args.resolutions:  # interleaved: background load affects all alike
                t, cpu, rs = time_features(ext, images[r], args.batch, device)
                totals[r].append(t / args.images)
                cpus[r].append(cpu / args.images)
                resizes[r].append(rs / args.images)

    feats = torch.randn(max(args.target, 2049), 2048, dtype=torch.float64, device=device)
    a, b = stats_from_features(feats), stats_from_features(feats * 1.1 + 0.1)
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    sync(device)
    frechet_s = time.perf_counter() - t0
    frechet_cpu = (time.process_time() - c0) / torch.get_num_threads()
    scipy_s = None
    if args.compare_scipy:
        t0 = time.perf_counter()
        scipy_frechet(a, b)
        scipy_s = time.perf_counter() - t0

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    base = args.resolutions[0]
    rows = []
    for r in args.resolutions:
        per = statistics.median(totals[r])
        cpu = statistics.median(cpus[r])
        rows.append(
            (
                r,
                per * 1000,
                cpu * 1000,
                statistics.median(resizes[r]) * 1000,
                min(totals[r]) * 1000,
                (per * args.target + frechet_s) / 60,
                (cpu * args.target / torch.get_num_threads() + frechet_cpu) / 60,
                per / statistics.median(totals[base]),
                cpu / statistics.median(cpus[base]),
            )
        )
    lines = [
        f"# FID compute time — {date.today().isoformat()}",
        "",
        f"Machine: {args.machine} ({platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device `{device}`; 1-min load average at the end: {load:.1f} — "
        "the cores were shared with other jobs).",
        "",
        "Network: the FID Inception **architecture with random weights** (BN calibrated) — the timing is "
        "real, no FID value is reported. Per-image cost measured on "
        f"{args.images} images × {args.repeats} interleaved rounds, batch {args.batch}; the "
        f"{args.target}-image time is extrapolated linearly and adds the Fréchet step "
        f"({frechet_s:.2f} s, 2048-d, measured). Generation time is not included.",
        "",
        f"| resolution | wall ms/image (median) | CPU ms/image (median, all threads) | TF1 resize to 299² (wall ms) | "
        f"wall ms/image (best round) | {args.target // 1000}k images, measured wall rate (min) | "
        f"{args.target // 1000}k images, CPU time / threads (min) | wall ratio to {base}² | CPU ratio to {base}² |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r, per, cpu, rs, best, minutes, cpu_minutes, ratio, cpu_ratio in rows:
        lines.append(
            f"| {r}² | {per:.1f} | {cpu:.1f} | {rs:.1f} | {best:.1f} | {minutes:.1f} | {cpu_minutes:.1f} | "
            f"{ratio:.2f} | {cpu_ratio:.2f} |"
        )
    lines += [
        "",
        "The CPU-time column is what the same work costs when the cores are not shared "
        "(process CPU seconds spread over the threads, Fréchet step included); the wall columns include the slow-down from the "
        "other jobs on this machine.",
    ]
    if scipy_s is not None:
        lines += [
            "",
            f"Fréchet step, 2048-d, side by side: ours (float64 eigh of Σ₁^½Σ₂Σ₁^½) {frechet_s:.2f} s, "
            f"scipy.linalg.sqrtm(Σ₁Σ₂) (pytorch-fid) {scipy_s:.2f} s — ratio {scipy_s / frechet_s:.1f}×.",
        ]
    lines += [
        "",
        f"Command: `python experiments/bench_fid.py --images {args.images} --repeats {args.repeats} "
        f"--batch {args.batch} --device {args.device}{' --compare-scipy' if args.compare_scipy else ''}`",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()

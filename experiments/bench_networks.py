"""Benchmark: StyleGAN2 G+D forward+backward throughput (images/s) and peak memory, plus (on CUDA) the
custom kernels against their PyTorch references.

    python experiments/bench_networks.py                 # all cases, markdown table on stdout
    python experiments/bench_networks.py --device cuda   # on a GPU (adds the kernel vs reference table)

One step = G(z) → D(G(z)) → backward of the summed logits into both networks' parameters (what a G or D
update costs, without the regularisers). Timing runs both modulated-conv schedules (fused_modconv False,
the training default, and True) interleaved step by step in one process and reports medians, so a
fluctuating machine load hits both alike; the ratio is the comparison. Peak memory comes from separate
fresh subprocesses, one per schedule: on CPU the peak resident set size (ru_maxrss) and its growth over
the RSS after building the networks; on CUDA torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from sdstylegan.models import Discriminator, Generator
from sdstylegan.models.presets import auto_discriminator, auto_generator

# name → (resolution, batch); tiny values as in conf/model/tiny.yaml, auto as conf/model/auto.yaml
CASES = {
    "tiny-64": (64, 8),
    "auto-256": (256, 4),
}
SCHEDULES = (False, True)  # fused_modconv


def build(case: str):
    """The G and D of one case."""
    res, _ = CASES[case]
    if case.startswith("tiny"):
        G = Generator(
            z_dim=64, w_dim=64, img_resolution=res, mapping_layers=2, channel_base=2048, channel_max=64
        )
        D = Discriminator(img_resolution=res, channel_base=2048, channel_max=64, mbstd_group_size=4)
    else:
        G, D = auto_generator(res), auto_discriminator(res, mbstd_group_size=4)
    return G, D


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_one(case: str, device: str, mode: str, steps: int, fused: bool = False) -> dict:
    """mode 'time': both schedules interleaved step by step (fair under a fluctuating machine load), median
    seconds per step each; mode 'memory': peak memory of `steps` steps of one schedule."""
    torch.manual_seed(0)
    res, batch = CASES[case]
    G, D = build(case)
    G, D = G.to(device).train(), D.to(device).train()
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux reports KiB)

    def step(fused: bool) -> float:
        _sync(device)
        t0 = time.perf_counter()
        z = torch.randn(batch, G.z_dim, device=device)
        img = G(z, fused_modconv=fused)
        D(img).sum().backward()
        _sync(device)
        return time.perf_counter() - t0

    out = {
        "case": case,
        "batch": batch,
        "params_G": sum(p.numel() for p in G.parameters()),
        "params_D": sum(p.numel() for p in D.parameters()),
    }
    if mode == "time":
        for f in SCHEDULES:  # warm-up
            step(f)
        times = {f: [] for f in SCHEDULES}
        for _ in range(steps):
            for f in SCHEDULES:
                times[f].append(step(f))
        out["s_per_step"] = {str(f): statistics.median(t) for f, t in times.items()}
        out["s_per_step_min"] = {str(f): min(t) for f, t in times.items()}
        return out
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(steps):
        step(fused)
    out["fused"] = fused
    if device == "cuda":
        out["peak_mem_mib"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["peak_mem_mib"] = peak
        out["peak_growth_mib"] = peak - rss_built
    return out


def bench_kernels(repeats: int = 50) -> list[dict]:
    """CUDA kernel vs PyTorch reference for the shapes StyleGAN2 uses at 256² (forward + backward)."""
    from sdstylegan.ops import bias_act, setup_filter, upfirdn2d

    f = setup_filter([1, 3, 3, 1], device="cuda")
    rows = []
    cases = {
        "upsample2d 32×128×128²": (
            (32, 128, 128, 128),
            lambda x, impl: upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4, impl=impl),
        ),
        "downsample2d 32×128×256²": (
            (32, 128, 256, 256),
            lambda x, impl: upfirdn2d(x, f, down=2, padding=1, impl=impl),
        ),
        "bias_act lrelu 32×256×64²": (
            (32, 256, 64, 64),
            lambda x, impl: bias_act(
                x, torch.zeros(256, device="cuda", dtype=x.dtype), act="lrelu", clamp=256, impl=impl
            ),
        ),
    }
    for name, (shape, fn) in cases.items():
        for dtype in (torch.float32, torch.float16):
            x = torch.randn(shape, device="cuda", dtype=dtype, requires_grad=True)
            times = {}
            for impl in ("ref", "cuda"):
                for _ in range(3):
                    fn(x, impl).sum().backward()
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(repeats):
                    fn(x, impl).sum().backward()
                torch.cuda.synchronize()
                times[impl] = (time.perf_counter() - t0) / repeats * 1e3
            rows.append({"op": name, "dtype": str(dtype).replace("torch.", ""), **times})
    return rows


def _subprocess(args: argparse.Namespace, case: str, mode: str, steps: int, fused: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--one", case, "--mode", mode, "--device", args.device,
           "--threads", str(args.threads), "--steps", str(steps)] + (["--fused"] if fused else [])  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print(f"done {case} {mode} fused={fused}", file=sys.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per schedule (after one warm-up)")
    parser.add_argument("--one", help="internal: run one case in this process and print JSON")
    parser.add_argument("--mode", default="time", choices=["time", "memory"], help="internal, with --one")
    parser.add_argument("--fused", action="store_true", help="internal: fused_modconv for --mode memory")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(run_one(args.one, args.device, args.mode, args.steps, args.fused)))
        return

    load_before = os.getloadavg()[0]
    rows = []
    for case in CASES:
        timing = _subprocess(args, case, "time", args.steps)
        for fused in SCHEDULES:
            mem = _subprocess(args, case, "memory", 2, fused)
            rows.append((timing, mem, fused))
    load_after = os.getloadavg()[0]

    machine = f"{platform.machine()}, {os.cpu_count()} cores visible, torch {torch.__version__}, {args.threads} threads"
    if args.device == "cuda":
        machine = f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
    print(f"device: {args.device} ({machine}); median of {args.steps} interleaved steps after a warm-up; "
          f"1-min load average {load_before:.1f} before, {load_after:.1f} after\n")  # fmt: skip
    print("| case | fused_modconv | batch | s/step (median) | s/step (min) | images/s (median) | "
          "peak mem (MiB) | growth over built (MiB) | params G / D | speed vs non-fused |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for timing, mem, fused in rows:
        med, best = timing["s_per_step"][str(fused)], timing["s_per_step_min"][str(fused)]
        ratio = timing["s_per_step"]["False"] / med
        growth = f"{mem['peak_growth_mib']:.0f}" if "peak_growth_mib" in mem else "–"
        print(
            f"| {timing['case']} | {fused} | {timing['batch']} | {med:.3f} | {best:.3f} | {timing['batch'] / med:.2f} | "
            f"{mem['peak_mem_mib']:.0f} | {growth} | {timing['params_G'] / 1e6:.2f}M / {timing['params_D'] / 1e6:.2f}M | "
            f"{ratio:.2f}× |"
        )
    if args.device == "cuda":
        print("\n| op | dtype | reference (ms) | CUDA kernel (ms) | speed-up |\n|---|---|---|---|---|")
        for r in bench_kernels():
            print(
                f"| {r['op']} | {r['dtype']} | {r['ref']:.3f} | {r['cuda']:.3f} | {r['ref'] / r['cuda']:.2f}× |"
            )


if __name__ == "__main__":
    main()

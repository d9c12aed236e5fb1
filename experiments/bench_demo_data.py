"""Benchmark: time to render the demo dataset (default size) with 1 and N worker processes.

    python experiments/bench_demo_data.py --num-images 3000 --resolution 128 --workers 1 2
Prints a markdown table row per worker count; paste into experiments/demo_data_<date>.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

from sdstylegan.data.demo_stage import generate_demo_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-images", type=int, default=3000)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs")
    print("| images | resolution | workers | seconds | images/s |")
    print("|---:|---:|---:|---:|---:|")
    for w in args.workers:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            generate_demo_dataset(d, args.num_images, seed=0, resolution=args.resolution, num_workers=w)
            dt = time.perf_counter() - t0
        print(
            f"| {args.num_images} | {args.resolution} | {w} | {dt:.1f} | {args.num_images / dt:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

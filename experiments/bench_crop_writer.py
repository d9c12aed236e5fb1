"""Benchmark: the crop stage's CPU work on full-size photos — detector input decoding and crop writing.

    python experiments/bench_crop_writer.py --images 24 --threads 1 2 4

Part 1, detector input: `DetectionDataset` item (decode, resize to max_side 480, normalise) with the JPEG
decoded in full vs at reduced DCT scale (`draft_side`, what the dataset does now); one thread, ms/image.
Part 2, crop writing with 1 vs N threads (`detector.crop_threads`):
Each image is a 4000×3000 JPEG (q90, smooth content like a photo); per image the crop writer decodes the
original, cuts the square around a box, Lanczos-resizes it to 256² and writes a PNG (`crop_one`, the
function the crop stage's writer runs on its thread pool). The thread counts run interleaved, `--repeats`
times each, in one process; medians in images/s and the ratio to one thread are printed as markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from sdstylegan.data.images import load_image_file
from sdstylegan.detect.backbone import preprocess
from sdstylegan.detect.crop import CropPolicy
from sdstylegan.detect.crop_writer import crop_one
from sdstylegan.detect.detector import Detection


def make_photos(folder: Path, n: int, size: tuple[int, int] = (4000, 3000)) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        small = rng.integers(0, 256, (size[1] // 20, size[0] // 20, 3), dtype=np.uint8)
        path = folder / f"{i:03d}.jpg"
        Image.fromarray(small).resize(size, Image.Resampling.BILINEAR).save(path, quality=90)
        paths.append(path)
    return paths


def run(paths: list[Path], out: Path, threads: int) -> float:
    w, h = Image.open(paths[0]).size
    box = (w // 4, h // 5, 3 * w // 4, 4 * h // 5)
    dets = [
        Detection(index=i, box=box, box_patches=box, mask=np.zeros((1, 1), bool), orig_size=(w, h), scale=1.0)
        for i in range(len(paths))
    ]
    policy = CropPolicy()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        rows = list(
            pool.map(lambda d: crop_one(d, paths[d.index], policy, 256, out / f"{d.index}.png"), dets)
        )
    dt = time.perf_counter() - t0
    assert all(r["status"] == "ok" for r in rows)
    return len(paths) / dt


def detector_input_ms(paths: list[Path], draft: bool, max_side: int = 480) -> float:
    t0 = time.perf_counter()
    for p in paths:
        loaded = load_image_file(p, draft_side=max_side if draft else None)
        preprocess(loaded.image, 16, max_side)
    return 1000 * (time.perf_counter() - t0) / len(paths)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_photos(tmp, args.images)
        decode: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for draft in (False, True):
                decode[draft].append(detector_input_ms(paths, draft))
        speeds: dict[int, list[float]] = {t: [] for t in args.threads}
        for _ in range(args.repeats):
            for t in args.threads:  # interleaved: machine noise hits every setting alike
                speeds[t].append(run(paths, tmp / f"out{t}", t))
    print(f"machine: {platform.node()} {os.cpu_count()} logical CPUs; {args.images} JPEGs 4000×3000\n")
    full, draft = statistics.median(decode[False]), statistics.median(decode[True])
    print(f"| detector input (max_side 480) | ms/image (median of {args.repeats}) | ratio |")
    print("|---|---|---|")
    print(f"| full decode | {full:.1f} | 1.00 |")
    print(f"| reduced-scale JPEG decode | {draft:.1f} | {full / draft:.2f}× faster |\n")
    base = statistics.median(speeds[args.threads[0]])
    print(
        f"| crop writing → 256² PNG, threads | images/s (median of {args.repeats}) | ratio to {args.threads[0]} thread(s) |"
    )
    print("|---|---|---|")
    for t in args.threads:
        m = statistics.median(speeds[t])
        print(f"| {t} | {m:.1f} | {m / base:.2f} |")


if __name__ == "__main__":
    main()

"""Benchmark: TokenCut's cut solve against the published dense generalised solve, and crop-stage speed.

    python experiments/bench_tokencut.py                 # both parts, prints a markdown table
    OMP_NUM_THREADS=1 python experiments/bench_tokencut.py --part solver --repeats 9   # one thread each
    python experiments/bench_tokencut.py --part crop --images 32

Part `solver`: for N = 768 (24×32 grid) and N = 3600 (60×60), token sets of four kinds — `scene`
(smooth random feature field with a planted object: image-like), `scene_dense` (the same field plus a
shared component, so that about half the pairs are edges, like DINO keys of photos), `random` (i.i.d.
16-d tokens: no spatial structure) and `photo:<name>` (keys of the ViT-S/16 architecture, randomly
initialised with seed 0, on the two photographs shipped with scikit-learn, resized to the grid: real
image structure, dense graphs; not DINO's weights, which this machine lacks) — the published solve (`scipy.linalg.eigh(D − A, D, subset_by_index=[1, 2])`,
float64, dense) and ours (`ncut_graph`, solver auto = Lanczos on D^-½AD^-½) run interleaved on the
same graph; medians of `--repeats`, ratio, and whether the partitions are identical. End-to-end
times (tokens → box, including the affinity) are reported too.
Part `crop`: the crop stage (`run_crop`) on demo images rendered at 480², DINO ViT-S/16 architecture
with random weights (same speed as the real weights; the boxes are not the point), max_side 480 →
900 tokens per image; images/s from the stage summary, plus the ViT and ncut shares measured alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from sdstylegan.detect.tokencut import binary_graph, ncut, ncut_binary, partition


def scene_tokens(h: int, w: int, c: int = 384, seed: int = 0) -> np.ndarray:
    """Image-like tokens: a smooth random field (spatially correlated) plus a planted object region."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.standard_normal((1, c, h // 6 + 2, w // 6 + 2)))
    f = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic")[0].reshape(c, -1).T.numpy()
    f = f + 0.3 * rng.standard_normal(f.shape)
    obj = np.zeros((h, w), bool)
    obj[h // 4 : h // 4 + h // 2, w // 3 : w // 3 + w // 3] = True
    f[obj.ravel()] += 2.0 * rng.standard_normal(c)
    return f.astype(np.float32)


def dense_scene_tokens(h: int, w: int, c: int = 384, seed: int = 0) -> np.ndarray:
    """`scene_tokens` plus a component shared by every token: about half of all pairs become edges."""
    f = scene_tokens(h, w, c, seed)
    shared = np.random.default_rng(seed + 1).standard_normal(c).astype(np.float32)
    return f + 0.41 * np.linalg.norm(f, axis=1).mean() / np.linalg.norm(shared) * shared  # density ≈ 0.45


def photo_tokens(h: int, w: int) -> dict[str, np.ndarray]:
    """Last-block keys of a ViT-S/16 (random init, seed 0) on scikit-learn's two sample photos."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from sdstylegan.detect.backbone import ViTKeys

    torch.manual_seed(0)
    vit = ViTKeys("vit_small_patch16_224.dino", pretrained=False)
    photos = load_sample_images()
    out = {}
    for name, im in zip(photos.filenames, photos.images):
        img = Image.fromarray(im).resize((16 * w, 16 * h), Image.LANCZOS)
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 127.5 - 1
        keys, _ = vit(x)
        out[f"photo:{Path(name).stem}"] = keys[0].numpy()
    return out


def token_sets(h: int, w: int) -> dict[str, np.ndarray]:
    return {
        "scene": scene_tokens(h, w),
        "scene_dense": dense_scene_tokens(h, w),
        "random": random_tokens(h * w),
        **photo_tokens(h, w),
    }


def random_tokens(n: int, c: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, c)).astype(np.float32)


def published_solve(a: np.ndarray) -> np.ndarray:
    """The published code's solve: dense float64 generalised eigenproblem, second-smallest vector."""
    d = np.diag(a.sum(axis=1))
    _, vecs = scipy.linalg.eigh(d - a, d, subset_by_index=[1, 2])
    return vecs[:, 0]


def bench_solver(repeats: int, grids: tuple[tuple[int, int], ...] = ((24, 32), (60, 60))) -> list[dict]:
    rows = []
    for h, w in grids:
        n_rep = repeats if h * w < 1000 else max(1, (repeats + 1) // 2)  # the dense solve at 3600 takes ~10 s
        for kind, f in token_sets(h, w).items():
            ft = torch.from_numpy(f)
            edges = binary_graph(ft)
            a = np.where(edges, 1.0, 1e-5)  # the published code's dense float64 affinity
            t_dense, t_ours, t_e2e_dense, t_e2e_ours = [], [], [], []
            for _ in range(n_rep):  # interleaved, so load changes hit both alike
                t = time.perf_counter()
                x = published_solve(a)
                t_dense.append(time.perf_counter() - t)
                t = time.perf_counter()
                ours = ncut_binary(edges, (h, w))
                t_ours.append(time.perf_counter() - t)
                t = time.perf_counter()
                ref = partition(published_solve(np.where(binary_graph(ft), 1.0, 1e-5)), (h, w))
                t_e2e_dense.append(time.perf_counter() - t)
                t = time.perf_counter()
                ours_e2e = ncut(ft, (h, w))
                t_e2e_ours.append(time.perf_counter() - t)
            same = bool(
                (partition(x, (h, w)).bipartition == ours.bipartition).all()
                and (ref.mask == ours_e2e.mask).all()
                and ref.box == ours_e2e.box
            )
            md, mo = statistics.median(t_dense), statistics.median(t_ours)
            ed, eo = statistics.median(t_e2e_dense), statistics.median(t_e2e_ours)
            # Paired ratios (same repeat, back to back) are steadier than ratios of medians on a busy machine.
            pr = statistics.median(d / o for d, o in zip(t_dense, t_ours))
            pe = statistics.median(d / o for d, o in zip(t_e2e_dense, t_e2e_ours))
            rows.append(
                {
                    "N": h * w,
                    "grid": f"{h}x{w}",
                    "tokens": kind,
                    "edge_density": float((a == 1).mean()),
                    "dense_s": md,
                    "ours_s": mo,
                    "ratio": pr,
                    "min_ratio": min(t_dense) / min(t_ours),
                    "e2e_dense_s": ed,
                    "e2e_ours_s": eo,
                    "e2e_ratio": pe,
                    "same_partition": same,
                }
            )
            print(rows[-1], flush=True)
    return rows


def bench_crossover(repeats: int) -> list[dict]:
    """Whole `ncut_binary` with dense products vs CSR products, per N and density: where CSR pays."""
    import sdstylegan.detect.tokencut as tc

    rows = []
    saved = tc.SPARSE_DENSITY, tc.SPARSE_MIN_N
    try:
        for h, w in ((24, 32), (40, 40), (60, 60)):
            sets = {"scene": scene_tokens(h, w), "random": random_tokens(h * w)}
            sets["random64"] = random_tokens(h * w, 64)
            for kind, f in sets.items():
                edges = binary_graph(torch.from_numpy(f))
                times = {"dense": [], "csr": []}
                for _ in range(repeats if h * w < 3000 else max(1, repeats // 3)):
                    for mode, limits in (("dense", (0.0, 0)), ("csr", (1.01, 0))):
                        tc.SPARSE_DENSITY, tc.SPARSE_MIN_N = limits
                        t = time.perf_counter()
                        ncut_binary(edges, (h, w))
                        times[mode].append(time.perf_counter() - t)
                d, c = statistics.median(times["dense"]), statistics.median(times["csr"])
                rows.append(
                    {"N": h * w, "tokens": kind, "density": float(edges.mean()), "dense_s": d, "csr_s": c}
                )
                print(rows[-1], flush=True)
    finally:
        tc.SPARSE_DENSITY, tc.SPARSE_MIN_N = saved
    return rows


def bench_crop(num_images: int) -> dict:
    """Run the crop stage on rendered 480² demo images with a ViT-S/16 stand-in; time its parts."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import compose_config

    from sdstylegan.data.demo_stage import generate_demo_dataset
    from sdstylegan.detect.crop_stage import build_detector, run_crop
    from sdstylegan.pipeline.context import StageContext

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        generate_demo_dataset(run_dir / "demo_data", num_images, seed=0, resolution=480, num_workers=2)
        cfg = compose_config(
            [
                "detector.pretrained=false",
                "detector.num_workers=1",
                "detector.batch_size=8",
                "trainer=cpu",
                "logger=none",
                "dataset.resolution=256",
            ],
            run_dir,
        )
        stage_dir = run_dir / "crop"
        stage_dir.mkdir()
        ctx = StageContext(
            name="crop",
            cfg=cfg,
            run_dir=run_dir,
            stage_dir=stage_dir,
            inputs={"demo_data": {"manifest": "demo_data/manifest.jsonl"}},
        )
        t = time.perf_counter()
        out = run_crop(ctx)
        wall = time.perf_counter() - t
        # The two costs alone, on one batch of 8 images of 480² (30×30 = 900 tokens).
        det = build_detector(cfg.detector).eval()
        x = torch.randn(8, 3, 480, 480)
        t = time.perf_counter()
        tokens, grid = det.backbone(x)
        vit_s = (time.perf_counter() - t) / 8
        t = time.perf_counter()
        ncut(tokens, grid)
        ncut_s = (time.perf_counter() - t) / 8
    return {
        "images": num_images,
        "stage_images_per_s": out["images_per_s"],
        "stage_wall_s": wall,
        "vit_s_per_image": vit_s,
        "ncut_s_per_image": ncut_s,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--part", choices=["solver", "crossover", "crop", "all"], default="all")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--images", type=int, default=32)
    p.add_argument("--grids", default="24x32,60x60", help="token grids of the solver part, e.g. 24x32")
    args = p.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
        f"cuda {torch.cuda.is_available()}"
    )
    if args.part in ("solver", "all"):
        grids = tuple(tuple(int(v) for v in g.split("x")) for g in args.grids.split(","))
        rows = bench_solver(args.repeats, grids)
        print(
            "\n| N | tokens | edge density | dense generalised (s) | ours (s) | ratio (paired median) | ratio of minima "
            "| end-to-end dense / ours (s) | ratio | same partition |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['N']} ({r['grid']}) | {r['tokens']} | {r['edge_density']:.3f} | {r['dense_s']:.3f} | "
                f"{r['ours_s']:.4f} | {r['ratio']:.1f}× | {r['min_ratio']:.1f}× | {r['e2e_dense_s']:.3f} / {r['e2e_ours_s']:.4f} | "
                f"{r['e2e_ratio']:.1f}× | {'yes' if r['same_partition'] else 'NO'} |"
            )
    if args.part in ("crossover", "all"):
        rows = bench_crossover(args.repeats)
        print("\n| N | tokens | edge density | dense products (s) | CSR products (s) | CSR gain |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['N']} | {r['tokens']} | {r['density']:.3f} | {r['dense_s']:.4f} | {r['csr_s']:.4f} "
                f"| {r['dense_s'] / r['csr_s']:.2f}× |"
            )
    if args.part in ("crop", "all"):
        r = bench_crop(args.images)
        print(f"\ncrop stage: {r}")


if __name__ == "__main__":
    main()

"""Artify retrieval benchmark: the two-stage search (faiss ANN short list → exact score) against the seed
method's exact brute force, on a procedural art collection, with paired timings in one run.

    OMP_NUM_THREADS=1 python experiments/artify_bench.py --images 20000 --work /tmp/artify_bench \
        --shortlists 100,200,500 --queries 20,20 --json experiments/artify_bench_20000.json

Per query (half are patchworks of a collection artwork: known answer; half are fresh artworks not in the
collection) it times `exact_search` and `two_stage_search` back to back with the same content features,
and counts recall@1 = the two-stage winner is the exact winner. The index is built with the project's
CLI code (`artify.run.run_index`, config `standin` + the overrides below), so its time is real too.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sdstylegan.artify.__main__ import compose
from sdstylegan.artify.procedural import art_size, artwork, patchwork, write_collection
from sdstylegan.artify.run import build_vgg, run_index
from sdstylegan.artify.search import ArtIndex, exact_search, load_ann, two_stage_search


def content_maps(vgg, index: ArtIndex, images: list) -> torch.Tensor:
    x = torch.stack(
        [torch.from_numpy(np.asarray(im.resize((index.resolution,) * 2, 1), np.float32)) for im in images]
    )
    with torch.no_grad():
        return vgg(x.permute(0, 3, 1, 2) / 127.5 - 1, (index.layer,))[index.layer].float()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--work", type=Path, default=Path("/tmp/artify_bench"))
    p.add_argument("--shortlists", default="100,200,500")
    p.add_argument("--queries", default="20,20", help="patchwork queries, fresh-artwork queries")
    p.add_argument(
        "--overrides",
        default="artify.index.resolution=64,artify.index.shard_size=2000,artify.index.batch_size=32",
    )
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    n_pw, n_new = (int(v) for v in args.queries.split(","))
    shortlists = [int(k) for k in args.shortlists.split(",")]
    acfg = compose("standin", args.overrides.split(",")).artify
    folder, out = args.work / f"art_{args.images}", args.work / f"index_{args.images}"
    t = time.perf_counter()
    write_collection(folder, args.images)
    gen_s = time.perf_counter() - t
    summary = run_index(acfg, folder, out, progress=False)
    index = ArtIndex(out)
    t = time.perf_counter()
    load_ann(index, str(acfg.index.ann))
    ann_load_s = time.perf_counter() - t
    vgg = build_vgg(acfg)
    rng = np.random.default_rng(1234)
    sources = rng.choice(args.images, n_pw, replace=False)
    images = [patchwork(artwork(int(i), art_size(int(i), 128)), int(i), tiles=2) for i in sources]
    images += [artwork(10**7 + j, (128, 128)) for j in range(n_new)]
    kinds = ["patchwork"] * n_pw + ["fresh"] * n_new
    maps = content_maps(vgg, index, images)
    rows = []
    for q in range(len(images)):
        t = time.perf_counter()
        exact = exact_search(index, maps[q], top_k=1)[0]
        exact_s = time.perf_counter() - t
        row = {"kind": kinds[q], "exact_key": exact.key, "exact_s": exact_s}
        if kinds[q] == "patchwork":
            row["source_key"] = f"art_{int(sources[q]):06d}.jpg"
        for k in shortlists:
            t = time.perf_counter()
            hit = two_stage_search(index, maps[q], shortlist=k, top_k=1)[0]
            row[f"two_stage_{k}_s"] = time.perf_counter() - t
            row[f"two_stage_{k}_key"] = hit.key
        rows.append(row)
        print(json.dumps(row), flush=True)
    exact_med = float(np.median([r["exact_s"] for r in rows]))
    result = {
        "images": len(index),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s), no GPU",
        "collection_seconds": gen_s,
        "index": summary["this_run"],
        "ann_load_seconds": ann_load_s,
        "feature": f"{index.meta['vgg']} {index.layer} at {index.resolution}² (stand-in)",
        "map_shape": list(index.maps[0].shape[1:]),
        "exact_median_s": exact_med,
        "patchwork_exact_finds_source": float(
            np.mean([r["exact_key"] == r["source_key"] for r in rows if "source_key" in r])
        )
        if n_pw
        else None,
        "shortlists": {},
    }
    for k in shortlists:
        med = float(np.median([r[f"two_stage_{k}_s"] for r in rows]))
        result["shortlists"][k] = {
            "recall_at_1": float(np.mean([r[f"two_stage_{k}_key"] == r["exact_key"] for r in rows])),
            "recall_patchwork": float(
                np.mean([r[f"two_stage_{k}_key"] == r["exact_key"] for r in rows if r["kind"] == "patchwork"])
            )
            if n_pw
            else None,
            "recall_fresh": float(
                np.mean([r[f"two_stage_{k}_key"] == r["exact_key"] for r in rows if r["kind"] == "fresh"])
            )
            if n_new
            else None,
            "median_s": med,
            "speedup": exact_med / med,
            "paired_speedup_median": float(np.median([r["exact_s"] / r[f"two_stage_{k}_s"] for r in rows])),
        }
    result["rows"] = rows
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

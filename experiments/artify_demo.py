"""Artify demo: a procedural art collection, its index, and 256² transfers of a few contents through the CLI.

    OMP_NUM_THREADS=1 python experiments/artify_demo.py --work /tmp/artify_demo --run outputs/demo_sketch \
        --picture experiments/artify_2026-11-28/triptychs_standin.png

Uses the stand-in config (random half-width VGG-19: pictures and scores are labelled `_standin` and show the
machinery, not real style transfer). Contents: two fresh procedural "photos" and, with --run, samples of
that run's generator. Prints each content's best style, score and transfer time (300 Adam steps at 256²).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from sdstylegan.artify.__main__ import main as artify
from sdstylegan.artify.procedural import artwork, write_collection
from sdstylegan.utils.pictures import save_png


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/artify_demo"))
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--run", help="a run directory whose generator provides content (optional)")
    p.add_argument("--seeds", default="0-1")
    p.add_argument("--picture", type=Path, help="stack the triptychs into this PNG (each row 3×128 px)")
    args = p.parse_args()
    art, index, out = args.work / "art", args.work / "index", args.work / "out"
    write_collection(art, args.images, seed=7, side=160)
    assert (
        artify(["index", "--collection", str(art), "--out", str(index), "--config", "standin", "--quiet"])
        == 0
    )
    contents = []
    for i in range(2):
        path = args.work / f"photo{i}.png"
        artwork(5000 + i, (256, 256)).save(path)
        contents.append(str(path))
    if args.run:
        contents.append(args.run)
    argv = ["transfer", *contents, "--index", str(index), "--out", str(out), "--seeds", args.seeds]
    assert artify([*argv, "--config", "standin", "--quiet"]) == 0
    rows = []
    for folder in sorted(out.iterdir()):
        report = json.loads((folder / "top5_standin.json").read_text())
        best = report["styles"][0]
        losses = report["losses"]
        print(
            f"{folder.name}: {best['key']} score {best['score']:.2f}; {report['iterations']} {report['optimizer']} "
            f"steps in {report['transfer_seconds']:.1f} s; total loss {losses[0]['total']:.3f} → {losses[-1]['total']:.3f}"
        )
        rows.append(
            Image.open(folder / "triptych_standin.png").convert("RGB").resize((384, 128), Image.LANCZOS)
        )
    if args.picture:
        canvas = Image.new("RGB", (384, 128 * len(rows)))
        for i, row in enumerate(rows):
            canvas.paste(row, (0, 128 * i))
        save_png(canvas, args.picture)


if __name__ == "__main__":
    main()

"""The `demo_data` stage: render the synthetic gourd set with its manifest and ground truth.

Outputs in the stage folder: `images/NNNNNN.png`, `manifest.jsonl` (paths relative to it),
`ground_truth.jsonl` (boxes `[y0, y1, x0, x1]`, mode, outlier kind per image) and `info.json`.
A killed run resumes: images already on disk (written atomically) are not rendered again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sdstylegan.data.boxes import xyxy_to_sdip
from sdstylegan.data.demo import MODES, OUTLIER_KINDS, DemoStyle, render_demo_image
from sdstylegan.data.manifest import ManifestRecord, write_manifest
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import atomic_open, write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def _render_one(args: tuple[int, int, int, float, str, DemoStyle]) -> dict[str, Any]:
    """Render (or reuse) one image; return its ground-truth row. Runs in a worker process."""
    seed, index, resolution, outlier_fraction, images_dir, style = args
    path = Path(images_dir) / f"{index:06d}.png"
    demo = render_demo_image(seed, index, resolution, outlier_fraction, style)
    if path.exists():
        data = path.read_bytes()
    else:
        buf = io.BytesIO()
        demo.image.save(buf, format="PNG", optimize=False)
        data = buf.getvalue()
        with atomic_open(path, "wb") as f:
            f.write(data)
    return {
        "index": index,
        "id": hashlib.sha256(data).hexdigest(),
        "file": f"images/{path.name}",
        "boxes": [xyxy_to_sdip(b) for b in demo.boxes],
        "mode": demo.mode,
        "mode_name": MODES[demo.mode] if demo.mode is not None else None,
        "outlier": demo.outlier_kind is not None,
        "outlier_kind": demo.outlier_kind,
    }


def generate_demo_dataset(
    out_dir: str | Path,
    num_images: int,
    seed: int,
    resolution: int = 128,
    outlier_fraction: float = 0.15,
    num_workers: int = 0,
    style: DemoStyle | None = None,
) -> dict[str, Any]:
    """Render `num_images` demo images into `out_dir`; write manifest, ground truth and info."""
    if num_images < 1:
        raise ValueError(f"dataset.num_images must be at least 1, got {num_images}")
    style = style or DemoStyle()
    style.check()
    out_dir = Path(out_dir)
    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, i, resolution, outlier_fraction, str(images_dir), style) for i in range(num_images)]
    workers = num_workers if num_workers > 0 else min(os.cpu_count() or 1, 8)
    if workers > 1 and num_images >= 64:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_render_one, jobs, chunksize=32))
    else:
        rows = [_render_one(j) for j in jobs]

    records = [
        ManifestRecord(
            id=r["id"],
            source=f"demo://seed{seed}/{r['index']}",
            orig_path=r["file"],
            orig_size=[resolution, resolution],
        )
        for r in rows
    ]
    write_manifest(out_dir / "manifest.jsonl", records)
    with atomic_open(out_dir / "ground_truth.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    kinds = Counter(r["outlier_kind"] for r in rows if r["outlier"])
    modes = Counter(r["mode_name"] for r in rows if not r["outlier"])
    info = {
        "num_images": num_images,
        "seed": seed,
        "resolution": resolution,
        "outlier_fraction": outlier_fraction,
        "subject_scale": list(style.subject_scale),
        "clutter": style.clutter,
        "backdrop": style.backdrop,
        "no_subject": style.no_subject,
        "grain": style.grain,
        "num_outliers": sum(kinds.values()),
        "outlier_kinds": dict(kinds),
        "modes": list(MODES),
        "inlier_mode_counts": dict(modes),
        "outlier_kind_names": list(OUTLIER_KINDS),
    }
    write_json(out_dir / "info.json", info)
    return info


def demo_style(d: Mapping[str, Any]) -> DemoStyle:
    """The scenes' look from a `dataset` config (keys it lacks take DemoStyle's defaults), validated."""
    style = DemoStyle(
        tuple(float(v) for v in d.get("subject_scale", DemoStyle.subject_scale)),
        float(d.get("clutter", DemoStyle.clutter)),
        float(d.get("backdrop", DemoStyle.backdrop)),
        str(d.get("no_subject", DemoStyle.no_subject)),
        float(d.get("grain", DemoStyle.grain)),
    )
    style.check()
    return style


def run_demo_data(ctx: StageContext) -> dict[str, Any]:
    """Pipeline stage: the synthetic dataset described by `cfg.dataset` (dataset=demo)."""
    d = ctx.cfg.dataset
    if d.get("name") != "demo":
        raise ValueError(f"stage demo_data needs dataset=demo, but dataset.name is {d.get('name')!r}")
    style = demo_style(d)
    info = generate_demo_dataset(
        ctx.stage_dir,
        int(d.num_images),
        int(d.seed),
        int(d.get("image_size") or d.resolution),
        float(d.outlier_fraction),
        int(d.get("num_workers", 0)),
        style,
    )
    log.info(
        "demo data: %d images at %d² (%d outliers: %s) in %s",
        info["num_images"],
        info["resolution"],
        info["num_outliers"],
        info["outlier_kinds"],
        ctx.stage_dir,
    )
    return {
        "manifest": ctx.relative(ctx.stage_dir / "manifest.jsonl"),
        "ground_truth": ctx.relative(ctx.stage_dir / "ground_truth.jsonl"),
        "num_images": info["num_images"],
        "num_outliers": info["num_outliers"],
    }

"""The `ingest` stage: build a manifest over a folder of the user's photos (dataset=folder).

Every file is opened and validated here, once, so training never meets a broken image. The user's
files are only read: the manifest points at them by absolute path. Duplicated content (same bytes)
is kept once; skipped files are counted per reason and listed with the reason in the manifest.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sdstylegan.data.images import DEFAULT_MAX_PIXELS, ImageProblem, load_image_file
from sdstylegan.data.manifest import DUPLICATE, OK, ManifestRecord, status_counts, write_manifest
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _validate(path: Path, min_size: int, max_pixels: int) -> ManifestRecord:
    res = load_image_file(path, min_size=min_size, max_pixels=max_pixels)
    source = str(path)
    if isinstance(res, ImageProblem):
        rid = res.sha256 or ("path:" + source)
        return ManifestRecord(
            id=rid, source=source, orig_path=source, status=res.reason, extra={"reason_detail": res.detail}
        )
    return ManifestRecord(
        id=res.sha256, source=source, orig_path=source, orig_size=list(res.orig_size), status=OK
    )


def build_folder_manifest(
    folder: str | Path,
    manifest_path: str | Path,
    min_size: int = 64,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    num_workers: int = 4,
) -> tuple[list[ManifestRecord], Counter]:
    """Validate every image file under `folder` (recursively, sorted) and write the manifest."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset.path={folder} is not a folder; point it at your photos")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) under dataset.path={folder}")
    with ThreadPoolExecutor(max(1, num_workers)) as pool:
        records = list(pool.map(lambda p: _validate(p, min_size, max_pixels), files))
    first: dict[str, str] = {}
    for r in records:
        if r.status != OK:
            continue
        if r.id in first:
            r.status = DUPLICATE
            r.extra["duplicate_of"] = first[r.id]
        else:
            first[r.id] = r.source
    write_manifest(manifest_path, records)
    return records, status_counts(records)


def run_ingest(ctx: StageContext) -> dict[str, Any]:
    """Pipeline stage: manifest of `dataset.path`, counts per skip reason in `summary.json`."""
    d = ctx.cfg.dataset
    if not d.get("path"):
        raise ValueError(
            "stage ingest needs dataset.path (a folder of photos), e.g. dataset=folder dataset.path=/data/mate"
        )
    manifest = ctx.stage_dir / "manifest.jsonl"
    records, counts = build_folder_manifest(
        d.path,
        manifest,
        int(d.get("min_size", 64)),
        int(d.get("max_pixels", DEFAULT_MAX_PIXELS)),
        int(d.get("num_workers", 4)),
    )
    write_json(ctx.stage_dir / "summary.json", {"files": len(records), "status_counts": dict(counts)})
    skipped = {k: v for k, v in counts.items() if k != OK}
    log.info("ingest: %d files, %d usable; skipped %s", len(records), counts.get(OK, 0), skipped or "none")
    if counts.get(OK, 0) == 0:
        raise RuntimeError(
            f"ingest: none of the {len(records)} files under {d.path} is a usable image: {dict(counts)}"
        )
    return {
        "manifest": ctx.relative(manifest),
        "num_images": counts.get(OK, 0),
        "status_counts": dict(counts),
    }

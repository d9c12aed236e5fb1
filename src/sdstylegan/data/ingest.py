"""The `ingest` stage: build a manifest over a folder of the user's photos (dataset=folder).

Every file is opened and validated here, once, so training never meets a broken image. The user's
files are only read: the manifest points at them by absolute path. Duplicated content (same bytes)
is kept once; skipped files are counted per reason and listed with the reason in the manifest.
Every path found under the folder gets a record: files without an image suffix (`not_image`),
directories named like images, FIFOs, devices and dangling links (`not_file`, never opened), files
over `max_bytes` (`too_large`, refused by size before reading); symlinked folders are not followed.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sdstylegan.data.images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    NOT_FILE,
    NOT_IMAGE,
    UNREADABLE,
    ImageProblem,
    LoadedImage,
    check_file,
    load_image_file,
)
from sdstylegan.data.manifest import DUPLICATE, OK, ManifestRecord, status_counts, write_manifest
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def find_paths(folder: Path) -> list[tuple[Path, ImageProblem | None]]:
    """Every entry under `folder` except the folders walked into, sorted; a folder that cannot be listed
    comes with its problem. Symlinked folders are listed, not followed (no loops, nothing outside)."""
    found: list[tuple[Path, ImageProblem | None]] = []
    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError as e:
            if d == folder:
                raise PermissionError(f"dataset.path={folder} cannot be listed: {e}") from None
            found.append((d, ImageProblem(UNREADABLE, f"folder cannot be listed: {type(e).__name__}: {e}")))
            continue
        for e in entries:
            p = Path(e.path)
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(p)
                if p.suffix.lower() in IMAGE_SUFFIXES:  # looks like a photo: say why it is not one
                    found.append((p, None))
            else:
                found.append((p, None))
    return sorted(found, key=lambda t: str(t[0]))


def _validate(path: Path, min_size: int, max_pixels: int, max_bytes: int) -> ImageProblem | ManifestRecord:
    """The record of a photo, or why `path` is not one (only regular files with an image suffix are opened)."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        res = load_image_file(path, min_size=min_size, max_pixels=max_pixels, max_bytes=max_bytes)
        if isinstance(res, LoadedImage):
            source = str(path)
            return ManifestRecord(
                id=res.sha256, source=source, orig_path=source, orig_size=list(res.orig_size), status=OK
            )
    else:
        res = check_file(path) or ImageProblem(
            NOT_IMAGE,
            f"suffix {path.suffix or '(none)'!r} is not one of {', '.join(IMAGE_SUFFIXES)} (not opened)",
        )
    if res.reason == NOT_FILE and path.is_dir():
        why = (
            "a symlinked folder: not followed" if path.is_symlink() else "its files have records of their own"
        )
        res.detail = f"{res.detail} ({why})"
    return res


def _problem_record(path: Path, res: ImageProblem) -> ManifestRecord:
    source = str(path)
    return ManifestRecord(
        id=res.sha256 or ("path:" + source),
        source=source,
        orig_path=source,
        status=res.reason,
        extra={"reason_detail": res.detail},
    )


def build_folder_manifest(
    folder: str | Path,
    manifest_path: str | Path,
    min_size: int = 64,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    num_workers: int = 4,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[list[ManifestRecord], Counter]:
    """Validate every path under `folder` (recursively, sorted) and write the manifest, one record each."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset.path={folder} is not a folder; point it at your photos")
    if int(max_bytes) < 1:
        raise ValueError(f"dataset.max_bytes={max_bytes} must be ≥ 1")
    found = find_paths(folder)
    if not any(p.suffix.lower() in IMAGE_SUFFIXES for p, _ in found):
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) under dataset.path={folder}")

    def one(entry: tuple[Path, ImageProblem | None]) -> ManifestRecord:
        path, res = entry
        res = res or _validate(path, min_size, max_pixels, int(max_bytes))
        return _problem_record(path, res) if isinstance(res, ImageProblem) else res

    with ThreadPoolExecutor(max(1, num_workers)) as pool:
        records = list(pool.map(one, found))
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
        int(d.get("max_bytes", DEFAULT_MAX_BYTES)),
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

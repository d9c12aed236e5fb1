"""Import/export of the Self-Distilled StyleGAN JSON release format.

A list of `{"image_name": <url or key>, "bounding_box": [y0, y1, x0, x1]}`; boxes go into the
manifest's `bbox` (same convention, see `sdstylegan.data.boxes`; moved with the image when collect
applies EXIF rotation).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable

from sdstylegan.data.boxes import sdip_to_xyxy
from sdstylegan.data.manifest import OK, ManifestRecord
from sdstylegan.utils.io import atomic_open


def read_sdip_json(path: str | os.PathLike) -> list[dict]:
    """Load and check an SDIP JSON file: each entry needs `image_name` and a valid `bounding_box`."""
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    if not isinstance(entries, list):
        raise ValueError(f"{path}: SDIP JSON must be a list of objects, got {type(entries).__name__}")
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "image_name" not in e or "bounding_box" not in e:
            raise ValueError(f"{path}[{i}]: expected {{'image_name', 'bounding_box'}}, got {e!r}")
        sdip_to_xyxy(e["bounding_box"])  # raises on malformed boxes
    return entries


def sdip_entries_to_records(entries: Iterable[dict]) -> list[ManifestRecord]:
    """Records for not-yet-downloaded SDIP entries; `id` is a placeholder hash of the name until download."""
    records = []
    for e in entries:
        name = str(e["image_name"])
        records.append(
            ManifestRecord(
                id="name:" + hashlib.sha256(name.encode()).hexdigest(),
                source=name,
                bbox=[int(v) for v in e["bounding_box"]],
                status="pending",
            )
        )
    return records


def export_sdip_json(
    path: str | os.PathLike, records: Iterable[ManifestRecord], only_usable: bool = True
) -> int:
    """Write the records that have a box (and, by default, are usable) as SDIP JSON; returns the count."""
    out = [
        {"image_name": r.source, "bounding_box": list(r.bbox)}
        for r in records
        if r.bbox is not None and (r.usable if only_usable else r.status == OK)
    ]
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return len(out)

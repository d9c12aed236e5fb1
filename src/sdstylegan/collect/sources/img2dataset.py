"""Read a dataset written by img2dataset (files layout or webdataset tars) as a collect source.

img2dataset writes shards `00000/000000000.jpg` + `.json` sidecar (+ `.txt` caption), or the same
members inside `00000.tar`. Each successful sample becomes an item whose bytes are read from disk
(a tar member by its offset, no extraction pass); it then goes through the same validation,
content-hash storage and de-duplication as a download. The sidecar's `url` becomes `source`.
Files of the `files` layout are referenced where they lie (absolute `orig_path`, like the ingest
stage; nothing is copied), tar members are stored in the collect folder under their hash.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.sources.api import ApiClient

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")


class Img2DatasetSource:
    """Every sample under `path` (an img2dataset output folder)."""

    name = "img2dataset"

    def __init__(self, path: str):
        self.path = Path(path).expanduser()

    def items(self, api: ApiClient | None = None) -> Iterator[CollectItem]:
        if not self.path.is_dir():
            raise FileNotFoundError(f"img2dataset output {self.path} is not a folder (collect source path)")
        tars = sorted(self.path.glob("*.tar"))
        found = False
        for tar in tars:
            for item in _tar_items(tar):
                found = True
                yield item
        for img in sorted(p for p in self.path.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file()):
            sidecar = _read_sidecar(img.with_suffix(".json"))
            caption = img.with_suffix(".txt")
            found = True
            yield _item(
                sidecar,
                img.stem,
                {"path": str(img.resolve())},
                caption.read_text(encoding="utf-8", errors="replace") if caption.is_file() else None,
            )
        if not found:
            raise FileNotFoundError(f"{self.path}: no img2dataset shards (*.tar) or image files found")


def _read_sidecar(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def _item(sidecar: dict[str, Any], key: str, local: dict[str, Any], caption: str | None) -> CollectItem:
    meta = {"img2dataset_key": sidecar.get("key") or key}
    for k in ("caption", "width", "height", "original_width", "original_height", "sha256"):
        if sidecar.get(k) is not None:
            meta[k] = sidecar[k]
    if caption and "caption" not in meta:
        meta["caption"] = caption.strip()
    url = str(sidecar.get("url") or f"img2dataset:{meta['img2dataset_key']}")
    return CollectItem(url=url, origin="img2dataset", meta=meta, local=local)


def _tar_items(tar_path: Path) -> Iterator[CollectItem]:
    """Items of one webdataset shard: members grouped by key (name before the first dot)."""
    groups: dict[str, dict[str, tarfile.TarInfo]] = {}
    with tarfile.open(tar_path, "r:") as tf:
        members = [m for m in tf.getmembers() if m.isfile()]
        for m in members:
            base = m.name.rsplit("/", 1)[-1]
            key, _, ext = base.partition(".")
            groups.setdefault(key, {})["." + ext.lower()] = m
        for key in sorted(groups):
            g = groups[key]
            img = next((g[e] for e in IMAGE_EXTS if e in g), None)
            if img is None:
                continue
            sidecar, caption = {}, None
            if ".json" in g:
                try:
                    sidecar = json.loads(tf.extractfile(g[".json"]).read().decode("utf-8"))
                except (ValueError, UnicodeDecodeError, AttributeError):
                    sidecar = {}
            if ".txt" in g:
                caption = tf.extractfile(g[".txt"]).read().decode("utf-8", errors="replace")
            local = {"path": str(tar_path.resolve()), "offset": img.offset_data, "size": img.size}
            yield _item(sidecar if isinstance(sidecar, dict) else {}, key, local, caption)

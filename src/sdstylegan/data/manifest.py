"""The manifest: one JSON object per image (JSON Lines), shared by every stage.

Fields (../shared/DESIGN.md): `id` (sha256 of the original bytes), `source`, `orig_path`,
`orig_size` [w, h], `bbox` [y0, y1, x0, x1] or null, `crop_path`, `status` (`ok` or a reason),
`filter_score`, `kept`, `cluster`. Fields this module does not know are carried through untouched.
Writers append one line per record (resumable) or rewrite the whole file atomically.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sdstylegan.utils.io import atomic_open, drop_torn_line, read_jsonl

OK = "ok"
DUPLICATE = "duplicate"  # same bytes as an earlier record (ingest, collect): kept once, under the first


@dataclass
class ManifestRecord:
    """One image of the dataset and what the stages decided about it."""

    id: str
    source: str
    orig_path: str | None = None
    orig_size: list[int] | None = None
    bbox: list[int] | None = None
    crop_path: str | None = None
    status: str = OK
    filter_score: float | None = None
    kept: bool | None = None
    cluster: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ManifestRecord:
        known = {f.name for f in fields(cls)} - {"extra"}
        missing = [k for k in ("id", "source") if k not in d]
        if missing:
            raise ValueError(f"manifest record lacks {missing}: {d!r}")
        return cls(
            **{k: v for k, v in d.items() if k in known}, extra={k: v for k, v in d.items() if k not in known}
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        d.update(extra)
        return d

    @property
    def usable(self) -> bool:
        """Trainable: validated and not dropped by the self-filter."""
        return self.status == OK and self.kept is not False

    def image_path(self, root: str | Path | None = None) -> Path:
        """The file to train on: the crop if there is one, else the original; relative to `root`."""
        p = self.crop_path or self.orig_path
        if p is None:
            raise ValueError(f"record {self.id[:12]} has neither crop_path nor orig_path")
        p = Path(p)
        return p if p.is_absolute() or root is None else Path(root) / p


def read_manifest(path: str | os.PathLike) -> list[ManifestRecord]:
    """Read every record; cut-off lines of a writer killed mid-append are skipped (see `read_jsonl`)."""
    return list(iter_manifest(path))


def iter_manifest(path: str | os.PathLike) -> Iterator[ManifestRecord]:
    for _, d in read_jsonl(path, append_only=True, what="manifest"):
        yield ManifestRecord.from_dict(d)


def write_manifest(path: str | os.PathLike, records: Iterable[ManifestRecord]) -> None:
    """Rewrite the whole manifest atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict(), sort_keys=True) + "\n")


class ManifestAppender:
    """Append records one line at a time, flushed, so a killed writer loses at most one line."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        drop_torn_line(self.path)  # a killed writer's half line is dropped
        self._f = open(self.path, "a", encoding="utf-8")

    def append(self, record: ManifestRecord) -> None:
        self._f.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ManifestAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rebase_path(path: str | None, old_root: str | Path, new_root: str | Path) -> str | None:
    """A manifest path relative to `old_root` (or absolute, kept) → relative to `new_root`.

    Stages that write a new manifest in their own folder use it so `orig_path`/`crop_path` stay valid.
    """
    if path is None or os.path.isabs(path):
        return path
    return os.path.relpath((Path(old_root) / path).resolve(), Path(new_root).resolve())


def status_counts(records: Iterable[ManifestRecord]) -> Counter:
    """How many records ended with each status (`ok` or a skip reason)."""
    return Counter(r.status for r in records)

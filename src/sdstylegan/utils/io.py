"""Atomic writes: a reader never sees a half-written file (write a temp file, then rename)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside `path`; on success fsync and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_jsonl(
    path: str | os.PathLike, *, append_only: bool = False, what: str = "JSONL file"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON-lines file; the one reader of the project.

    append_only: the file is written one flushed line at a time (manifest journals, crop predictions), so
    a writer killed mid-append leaves a cut-off last line without its newline: that line is skipped with
    a warning (the next writer drops it first, `drop_torn_line`). Any other line that is not a JSON
    object is a ValueError naming the file and line.
    """
    path = Path(path)
    with open(path, encoding="utf-8-sig") as f:  # -sig: a byte-order mark some editors write is not data
        lines = f.read().split("\n")  # a complete file ends with "\n": its last element is ""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if append_only and i == len(lines) - 1:
                log.warning("%s %s: skipped the cut-off last line of an interrupted write", what, path)
                return
            raise ValueError(f"{what} {path}, line {i + 1}: not JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(
                f"{what} {path}, line {i + 1}: expected a JSON object, got {line.strip()[:60]!r}"
            )
        yield i + 1, row


def drop_torn_line(path: str | os.PathLike) -> bool:
    """Cut a last line without its newline (a writer killed mid-append) before appending; True if so."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return False
        f.seek(0)
        keep = f.read().rfind(b"\n") + 1  # 0 when the only line is the torn one
        f.truncate(keep)
    log.warning("%s: dropped the cut-off last line of an interrupted write", path)
    return True

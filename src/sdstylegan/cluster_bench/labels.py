"""Class labels for the clustering benchmark: the demo's ground truth, class subfolders, or a CSV.

Every reader returns `{key: class name}`; `ImageSet` turns names into integer classes. A label file that
cannot be used raises `LabelFileError` naming the file, the line and what is wrong — never a silent
partial result.

- `ground_truth.jsonl` (the `demo_data` stage): one JSON object per line with `id` and `mode`; images whose
  mode is null (planted outliers without a gourd) get no label and are left out of the labelled scores.
- A CSV with a header: a key column (`id`, `path` or `file`) and a `label` column (`class` also accepted).
  Paths are matched relative to the image folder (or the manifest's folder) and by file name alone.
- A folder whose subfolders are the classes: `a/x.png` has class `a` (`folder_classes`).
"""

from __future__ import annotations

import csv
from pathlib import Path

from sdstylegan.utils.io import read_jsonl

KEY_COLUMNS = ("id", "path", "file")
LABEL_COLUMNS = ("label", "class")


class LabelFileError(ValueError):
    """A label file is missing, malformed, or contradicts itself."""


def read_ground_truth(path: str | Path) -> dict[str, str | None]:
    """`{image id: mode}` from a demo `ground_truth.jsonl` (mode as text; None for images without one)."""
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"labels {path}: no such file")
    out: dict[str, str | None] = {}
    try:
        for n, row in read_jsonl(path, what="labels"):
            if "id" not in row or "mode" not in row:
                raise LabelFileError(f"labels {path}, line {n}: a ground-truth row needs 'id' and 'mode'")
            mode = row["mode"]
            out[str(row["id"])] = None if mode is None else str(mode)
    except ValueError as e:
        raise LabelFileError(str(e)) from None
    if not out:
        raise LabelFileError(f"labels {path}: no rows")
    return out


def read_label_csv(path: str | Path) -> dict[str, str]:
    """`{key: label}` from a CSV with a header naming a key column (id/path/file) and a label column."""
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"labels {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise LabelFileError(f"labels {path}: not UTF-8 text ({e.reason}); is it a CSV?") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    key_col = next((c for c in KEY_COLUMNS if c in header), None)
    label_col = next((c for c in LABEL_COLUMNS if c in header), None)
    if key_col is None or label_col is None:
        raise LabelFileError(
            f"labels {path}: the header must name a key column ({'/'.join(KEY_COLUMNS)}) and a label "
            f"column ({'/'.join(LABEL_COLUMNS)}); found {header or 'no header'}"
        )
    out: dict[str, str] = {}
    for n, row in enumerate(reader, 2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        key, label = row.get(key_col, ""), row.get(label_col, "")
        if not key and not label:
            continue
        if not key or not label:
            raise LabelFileError(f"labels {path}, line {n}: empty {key_col if not key else label_col}")
        if key in out and out[key] != label:
            raise LabelFileError(
                f"labels {path}, line {n}: {key!r} is labelled both {out[key]!r} and {label!r}"
            )
        out[key] = label
    if not out:
        raise LabelFileError(f"labels {path}: no labelled rows")
    return out


def folder_classes(folder: str | Path, paths: list[Path]) -> dict[str, str] | None:
    """`{relative path: subfolder}` when every image lies exactly one folder below `folder` and there are
    at least two such subfolders (the classes); None otherwise (a flat folder has no classes)."""
    folder = Path(folder)
    out: dict[str, str] = {}
    for p in paths:
        rel = p.relative_to(folder)
        if len(rel.parts) != 2:
            return None
        out[rel.as_posix()] = rel.parts[0]
    return out if len(set(out.values())) >= 2 else None

"""The benchmark table: `cluster_bench.csv` (plain numbers) and `cluster_bench.md` (best per column bold).

Rows are (encoder, algorithm) results: dicts with the `COLUMNS` keys (missing → empty). In Markdown each
score column's best value is bold (highest; ties all bold); the accuracy pivot (encoders × algorithms, as
in the toy-store study's table) follows when labels exist, its best cell bold.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdstylegan.utils.io import atomic_open

COLUMNS = (
    "encoder",
    "algorithm",
    "k",
    "clusters_used",
    "images",
    "accuracy",
    "nmi",
    "ari",
    "silhouette",
    "cluster_seconds",
)
SCORES = ("accuracy", "nmi", "ari", "silhouette")  # higher is better


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def best_values(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Highest value of each score column (columns with no value left out)."""
    out = {}
    for col in SCORES:
        vals = [r[col] for r in rows if r.get(col) is not None]
        if vals:
            out[col] = max(vals)
    return out


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: ("" if r.get(c) is None else r[c]) for c in COLUMNS})
    return buf.getvalue()


def to_markdown(
    rows: Sequence[dict[str, Any]], title: str = "Clustering benchmark", notes: Sequence[str] = ()
) -> str:
    best = best_values(rows)
    cols = [c for c in COLUMNS if any(r.get(c) is not None for r in rows)]
    lines = [f"# {title}", ""]
    lines += [f"{n}" for n in notes] + ([""] if notes else [])
    lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        cells = []
        for c in cols:
            text = _fmt(r.get(c))
            if c in best and r.get(c) is not None and r[c] == best[c]:
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    if "accuracy" in best:
        lines += ["", "## Accuracy (Hungarian) by encoder × algorithm", ""] + pivot(rows, "accuracy")
    return "\n".join(lines) + "\n"


def pivot(rows: Sequence[dict[str, Any]], col: str) -> list[str]:
    """Markdown lines of `col` with encoders as rows and algorithms as columns, the best cell bold."""
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    algorithms = list(dict.fromkeys(r["algorithm"] for r in rows))
    cell = {(r["encoder"], r["algorithm"]): r.get(col) for r in rows}
    vals = [v for v in cell.values() if v is not None]
    top = max(vals) if vals else None
    lines = [
        "| encoder | " + " | ".join(algorithms) + " |",
        "|---|" + "|".join("---" for _ in algorithms) + "|",
    ]
    for e in encoders:
        out = []
        for a in algorithms:
            v = cell.get((e, a))
            text = _fmt(v)
            out.append(f"**{text}**" if v is not None and v == top else text)
        lines.append(f"| {e} | " + " | ".join(out) + " |")
    return lines


def write_tables(
    rows: Sequence[dict[str, Any]],
    out_dir: str | Path,
    title: str = "Clustering benchmark",
    notes: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write `cluster_bench.csv` and `cluster_bench.md` atomically; returns their paths."""
    out_dir = Path(out_dir)
    csv_path, md_path = out_dir / "cluster_bench.csv", out_dir / "cluster_bench.md"
    with atomic_open(csv_path, "w", encoding="utf-8") as f:
        f.write(to_csv(rows))
    with atomic_open(md_path, "w", encoding="utf-8") as f:
        f.write(to_markdown(rows, title, notes))
    return csv_path, md_path

"""Per-image cluster assignments of a benchmark, one file per encoder × algorithm, for later stages.

The benchmark writes `assignments/<encoder>__<algorithm>.csv` (columns `key,cluster`: the image key — a
manifest id, or a path relative to a folder — and its cluster in [0, k)) and `assignments/index.json`,
which lists every pair by its config names (`E`, `kmeans`) with its file, the encoder's table label
(`E_w`, `dino_vits16_standin`), k, the cluster sizes and the encoders that were skipped. The `train` stage
reads them through the index to train on chosen clusters (`cluster_bench.subset`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sdstylegan.utils.io import atomic_open, read_json, write_json

INDEX = "index.json"


@dataclass
class Assignment:
    """One encoder × algorithm: cluster of each image key."""

    encoder: str  # config name (`E`, `pixels`, …)
    label: str  # table name (`E_w`, `dino_vits16_standin`, …)
    algorithm: str
    k: int
    clusters: dict[str, int]  # image key → cluster

    def sizes(self) -> list[int]:
        """Images per cluster 0 … k−1."""
        return np.bincount(np.fromiter(self.clusters.values(), dtype=np.int64), minlength=self.k).tolist()


def file_name(encoder: str, algorithm: str) -> str:
    return f"{encoder}__{algorithm}.csv"


def write_assignments(
    out_dir: str | Path,
    keys: list[str],
    rows: list[dict[str, Any]],
    labels: dict[str, str],
    skipped: dict[str, str],
) -> Path:
    """Write one CSV per row (`encoder` label, `algorithm`, `k`, `_pred`) and the index; returns the index.

    `labels`: encoder label → config name, so files and the index are named as the config names them.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"images": len(keys), "pairs": {}, "skipped_encoders": dict(skipped)}
    for r in rows:
        name, pred = labels[r["encoder"]], np.asarray(r["_pred"], dtype=np.int64)
        if pred.shape != (len(keys),):
            raise ValueError(
                f"assignments of {r['encoder']} × {r['algorithm']}: {pred.shape} for {len(keys)}"
            )
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["key", "cluster"])
        w.writerows(zip(keys, pred.tolist()))
        fname = file_name(name, r["algorithm"])
        with atomic_open(out_dir / fname, "w", encoding="utf-8") as f:
            f.write(buf.getvalue())
        index["pairs"].setdefault(name, {})[r["algorithm"]] = {
            "file": fname,
            "label": r["encoder"],
            "k": int(r["k"]),
            "sizes": np.bincount(pred, minlength=int(r["k"])).tolist(),
        }
    write_json(out_dir / INDEX, index)
    return out_dir / INDEX


def read_assignment(index_path: str | Path, encoder: str, algorithm: str) -> Assignment:
    """The assignment of `encoder` × `algorithm` (config names) from a benchmark's index."""
    index_path = Path(index_path)
    index = read_json(index_path)
    pairs = index.get("pairs", {})
    entry = pairs.get(encoder, {}).get(algorithm)
    if entry is None:
        have = ", ".join(f"{e} × {a}" for e, algs in pairs.items() for a in algs) or "none"
        why = index.get("skipped_encoders", {}).get(encoder)
        raise ValueError(
            f"the cluster_bench run {index_path.parent.parent} has no assignment for {encoder} × {algorithm}"
            + (f" (encoder {encoder} was skipped: {why})" if why else "")
            + f"; it has: {have}"
        )
    clusters: dict[str, int] = {}
    with open(index_path.parent / entry["file"], newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["key", "cluster"]:
            raise ValueError(f"{index_path.parent / entry['file']}: header {header}, expected key,cluster")
        for line, (key, c) in enumerate(reader, 2):
            c = int(c)
            if not 0 <= c < int(entry["k"]):
                raise ValueError(
                    f"{index_path.parent / entry['file']}:{line}: cluster {c} not in [0, {entry['k']})"
                )
            clusters[key] = c
    if len(clusters) != int(index["images"]):
        raise ValueError(
            f"{index_path.parent / entry['file']}: {len(clusters)} images, the index says {index['images']}"
        )
    return Assignment(encoder, str(entry["label"]), algorithm, int(entry["k"]), clusters)

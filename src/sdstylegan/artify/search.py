"""Retrieval over an art index: the exact patch-match brute force, and the two-stage search that replaces it.

`ArtIndex(folder)` reads the shards (maps stay float16 in memory, per shard). `exact_search` scores every
image with `patches.patch_match_scores` — the seed method, N² over all activations. `two_stage_search`
first asks the ANN index (faiss, inner product on L2-normalised global descriptors)
for a short list, then ranks only that with the exact score. `build_ann` (re)builds `ann.faiss` when
the shards changed; its `spec` is a faiss factory string (`HNSW32` approximate, `Flat` exact).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sdstylegan.artify.index import FORMAT, shard_paths
from sdstylegan.artify.patches import global_descriptor, normalized_patches, patch_match_scores
from sdstylegan.utils.io import atomic_open, read_json, write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


@dataclass
class Hit:
    """One retrieved artwork: its row in the index, key (path under the root), file and patch-match score."""

    row: int
    key: str
    path: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ArtIndex:
    """The shards of an index folder, in memory (float16 maps), with the ANN index when built."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not (self.folder / "meta.json").is_file():
            raise FileNotFoundError(
                f"--index {self.folder}: not an artify index (no meta.json); build one with "
                f"python -m sdstylegan.artify index --collection DIR --out {self.folder}"
            )
        self.meta = read_json(self.folder / "meta.json")
        if self.meta.get("format") != FORMAT:
            raise ValueError(
                f"--index {self.folder}: format {self.meta.get('format')}, this version reads {FORMAT}"
            )
        self.keys: list[str] = []
        self.maps: list[np.ndarray] = []
        descriptors = []
        for path in shard_paths(self.folder):
            try:
                with np.load(path, allow_pickle=False) as z:
                    keys, maps, desc = [str(k) for k in z["keys"]], z["maps"], z["descriptors"]
            except Exception as e:  # a reader leaves files alone: `index` sets damaged shards aside
                log.warning(
                    "artify: skipping unreadable shard %s (%s: %s); re-run `index`", path, type(e).__name__, e
                )
                continue
            if keys:
                self.keys += keys
                self.maps.append(maps)
                descriptors.append(desc)
        if not self.keys:
            raise ValueError(f"--index {self.folder}: no image indexed yet")
        self.descriptors = np.concatenate(descriptors).astype(np.float32)
        self.offsets = np.cumsum([0] + [len(m) for m in self.maps])
        self.root = Path(self.meta["root"])
        self.ann: Any = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def resolution(self) -> int:
        return int(self.meta["resolution"])

    @property
    def layer(self) -> str:
        return str(self.meta["layer"])

    def fingerprint(self) -> str:
        """sha256 of the keys in order: the ANN index belongs to exactly these rows."""
        return hashlib.sha256("\n".join(self.keys).encode()).hexdigest()

    def hit(self, row: int, score: float) -> Hit:
        return Hit(int(row), self.keys[row], str(self.root / self.keys[row]), float(score))

    def gather(self, rows: np.ndarray) -> torch.Tensor:
        """Maps (len(rows), C, h, w) float16 of the given rows."""
        shard = np.searchsorted(self.offsets, rows, side="right") - 1
        return torch.from_numpy(np.stack([self.maps[s][r - self.offsets[s]] for s, r in zip(shard, rows)]))

    def exact_scores(self, content: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """(N,) patch-match score of every indexed image for unit-norm content patches (P, D)."""
        return torch.cat([patch_match_scores(content, torch.from_numpy(m), chunk=chunk) for m in self.maps])


def query_patches(fmap: torch.Tensor) -> torch.Tensor:
    """Content map (C, h, w) or (1, C, h, w) → unit-norm patches (P, D) for the exact score."""
    return normalized_patches(fmap.reshape(-1, *fmap.shape[-3:])[:1])[0]


def _ann_vectors(desc: np.ndarray) -> np.ndarray:
    """Global descriptors as unit vectors (inner product = cosine)."""
    x = np.ascontiguousarray(desc, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def build_ann(index: ArtIndex, spec: str = "HNSW32", force: bool = False) -> dict[str, Any]:
    """Write `ann.faiss` + `ann.json` for the index's descriptors (kept when already built for these rows)."""
    import faiss

    info_path, data_path = index.folder / "ann.json", index.folder / "ann.faiss"
    fp = index.fingerprint()
    if not force and info_path.is_file() and data_path.is_file():
        info = read_json(info_path)
        if info.get("fingerprint") == fp and info.get("spec") == spec:
            return info
    x = _ann_vectors(index.descriptors)
    ann = faiss.index_factory(x.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    if not ann.is_trained:
        ann.train(x)
    ann.add(x)
    with atomic_open(data_path, "wb") as f:
        f.write(faiss.serialize_index(ann).tobytes())
    info = {"fingerprint": fp, "spec": spec, "count": len(index), "dim": int(x.shape[1])}
    write_json(info_path, info)
    log.info("artify: ANN index %s over %d descriptors (%d-d)", spec, len(index), x.shape[1])
    return info


def load_ann(index: ArtIndex, spec: str = "HNSW32") -> None:
    """Attach the ANN index to `index` (built first when missing or stale)."""
    import faiss

    build_ann(index, spec)
    index.ann = faiss.deserialize_index(np.fromfile(index.folder / "ann.faiss", dtype=np.uint8))


def exact_search(index: ArtIndex, fmap: torch.Tensor, top_k: int = 5) -> list[Hit]:
    """The seed method: exact patch-match score against every image; the `top_k` best."""
    scores = index.exact_scores(query_patches(fmap))
    best = torch.topk(scores, min(top_k, len(scores)))
    return [index.hit(int(r), float(s)) for s, r in zip(best.values, best.indices)]


def two_stage_search(index: ArtIndex, fmap: torch.Tensor, shortlist: int = 100, top_k: int = 5) -> list[Hit]:
    """ANN over global descriptors → `shortlist` candidates → exact patch-match score → the `top_k` best."""
    import faiss

    if index.ann is None:
        load_ann(index)
    k = min(max(int(shortlist), int(top_k)), len(index))  # never fewer candidates than answers
    if hasattr(index.ann, "hnsw"):
        faiss.ParameterSpace().set_index_parameter(index.ann, "efSearch", max(2 * k, 64))
    q = _ann_vectors(global_descriptor(fmap.reshape(-1, *fmap.shape[-3:])[:1]).numpy())
    _, rows = index.ann.search(q, k)
    rows = rows[0][rows[0] >= 0]
    scores = patch_match_scores(query_patches(fmap), index.gather(rows))
    best = torch.topk(scores, min(top_k, len(scores)))
    return [index.hit(int(rows[int(i)]), float(s)) for s, i in zip(best.values, best.indices)]

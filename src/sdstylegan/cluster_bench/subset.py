"""Train on chosen clusters only: `dataset.cluster_subset` → the `train` stage's training set.

    python train.py experiment=demo +cluster_bench=default cluster_bench.num_clusters=4 \\
        'pipeline.stages=[demo_data,crop,train_raw,cluster_bench,train]' \\
        'dataset.cluster_subset={encoder: E, algorithm: kmeans, clusters: [0, 2]}'

The clusters are those of the `cluster_bench` stage's assignment of `encoder` × `algorithm` (config names:
an entry of `cluster_bench.use_encoders` / `use_algorithms`), which must come before `train` in
`pipeline.stages` (registry: `train` reads `assignments` from `cluster_bench`). Cluster ids mean something
only for a fixed k, so `cluster_bench.num_clusters` must be set (`k` in the subset, if given, must equal it).
`subset_problems` checks all this when the run starts; `write_subset_manifest` (in `train`) writes
`<run>/train/manifest.jsonl`: the input manifest with `bench_cluster` (the image's cluster, null when the
benchmark did not cluster it) and `kept` true exactly for the usable images of the chosen clusters. The
subset is in the `train` stage's fingerprint (`dataset.cluster_subset`, and the benchmark's run upstream).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sdstylegan.cluster_bench.assignments import read_assignment
from sdstylegan.data.manifest import ManifestRecord, read_manifest
from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.validate import _Lines, _show
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

KEY = "dataset.cluster_subset"
FIELDS = ("encoder", "algorithm", "clusters", "k")


@dataclass(frozen=True)
class SubsetSpec:
    """Which clusters of which encoder × algorithm to train on."""

    encoder: str
    algorithm: str
    clusters: tuple[int, ...]
    k: int


def _ints(v: Any) -> list[int] | None:
    if not (OmegaConf.is_list(v) or isinstance(v, (list, tuple))):
        return None
    out = list(v)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in out):
        return None
    return out


def subset_problems(cfg: DictConfig) -> list[str]:
    """Start-of-run problems of `dataset.cluster_subset` (one `key=value: why` line each; none when null)."""
    c = _Lines(cfg)
    spec = c.get(KEY)
    if spec is None:
        return []
    if not OmegaConf.is_dict(spec):
        c.add(KEY, spec, "must be a mapping {encoder: <name>, algorithm: <name>, clusters: [ids], k: <k>}")
        return c.lines
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        c.add(KEY, spec, f"unknown field(s) {unknown}; fields: {', '.join(FIELDS)}")
    stages = [str(s) for s in (c.get("pipeline.stages") or [])]
    before = stages[: stages.index("train")] if "train" in stages else stages
    if "cluster_bench" not in before:
        c.add(
            KEY,
            spec,
            f"the clusters come from the cluster_bench stage, which must come before train in "
            f"pipeline.stages (now {stages})",
        )
    bcfg = c.get("cluster_bench")
    if bcfg is None:
        c.add(KEY, spec, "needs the cluster_bench config group: add +cluster_bench=default (or standin)")
    for field, group, used in (
        ("encoder", "encoders", "use_encoders"),
        ("algorithm", "algorithms", "use_algorithms"),
    ):
        name = spec.get(field)
        if name is None:
            c.add(f"{KEY}.{field}", None, f"missing: name one of cluster_bench.{used}")
        elif bcfg is not None and name not in (bcfg.get(group) or {}):
            known = ", ".join(str(n) for n in bcfg.get(group) or {})
            c.add(f"{KEY}.{field}", name, f"unknown {field}; cluster_bench.{group} defines: {known}")
        elif bcfg is not None and name not in list(bcfg.get(used) or []):
            c.add(
                f"{KEY}.{field}",
                name,
                f"the benchmark does not run it: cluster_bench.{used}={_show(bcfg.get(used))}",
            )
    k = spec.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 2):
        c.add(f"{KEY}.k", k, "must be an integer ≥ 2 (or left out: cluster_bench.num_clusters)")
        k = None
    bench_k = bcfg.get("num_clusters") if bcfg is not None else None
    if bcfg is not None and bench_k is None:
        c.add(
            "cluster_bench.num_clusters",
            None,
            f"{KEY} picks clusters by id, which mean something only for a fixed k: set "
            f"cluster_bench.num_clusters{f'={k}' if k else ''}",
        )
    elif k is not None and bench_k is not None and k != bench_k:
        c.add(f"{KEY}.k", k, f"differs from cluster_bench.num_clusters={bench_k}, the k the benchmark uses")
    k = k if k is not None else bench_k
    clusters = _ints(spec.get("clusters"))
    if clusters is None:
        c.add(
            f"{KEY}.clusters", spec.get("clusters"), "must be a list of cluster ids (integers), e.g. [0, 2]"
        )
    elif not clusters:
        c.add(f"{KEY}.clusters", clusters, "empty: the subset would hold no image; name at least one cluster")
    else:
        if len(set(clusters)) != len(clusters):
            c.add(f"{KEY}.clusters", clusters, "lists a cluster twice")
        bad = [x for x in clusters if x < 0 or (isinstance(k, int) and x >= k)]
        if bad:
            c.add(
                f"{KEY}.clusters",
                clusters,
                f"cluster(s) {bad} do not exist: ids run from 0 to k − 1"
                + (f" = {k - 1}" if isinstance(k, int) else ""),
            )
    return c.lines


def parse_spec(cfg: DictConfig) -> SubsetSpec | None:
    """The subset of `dataset.cluster_subset`, or None; ValueError with every problem when it is wrong."""
    if OmegaConf.select(cfg, KEY, default=None) is None:
        return None
    lines = subset_problems(cfg)
    if lines:
        raise ValueError("\n".join(lines))
    spec = OmegaConf.select(cfg, KEY)
    k = spec.get("k") or cfg.cluster_bench.num_clusters
    return SubsetSpec(str(spec.encoder), str(spec.algorithm), tuple(int(x) for x in spec.clusters), int(k))


def select(
    records: list[ManifestRecord], clusters: dict[str, int], chosen: tuple[int, ...]
) -> tuple[list[ManifestRecord], dict[str, int]]:
    """Records with `bench_cluster` set and `kept` true exactly for usable images of `chosen` clusters;
    counts of images per chosen cluster among the usable ones, and of usable images with no cluster."""
    out, counts, unassigned = [], dict.fromkeys(chosen, 0), 0
    for r in records:
        d = r.to_dict()
        cl = clusters.get(r.id)
        d["bench_cluster"] = cl
        if r.usable:
            if cl is None:
                unassigned += 1
            elif cl in counts:
                counts[cl] += 1
            d["kept"] = cl in counts
        out.append(ManifestRecord.from_dict(d))
    return out, {**{str(c): n for c, n in counts.items()}, "unassigned": unassigned}


def write_subset_manifest(ctx: StageContext, spec: SubsetSpec) -> tuple[Path, dict[str, Any]]:
    """Write the training set of `spec` as `<stage_dir>/manifest.jsonl`; return it and a summary."""
    from sdstylegan.distill.records import write_rebased

    source = ctx.path(ctx.latest("manifest"))
    index = ctx.path(ctx.latest("assignments"))
    a = read_assignment(index, spec.encoder, spec.algorithm)
    where = f"{a.label} × {a.algorithm} ({ctx.relative(index.parent)})"
    if a.k != spec.k:
        raise ValueError(f"{KEY}: k = {spec.k}, but the benchmark's assignment {where} has k = {a.k}")
    sizes = a.sizes()
    empty = [c for c in spec.clusters if sizes[c] == 0]
    if empty:
        raise ValueError(
            f"{KEY}.clusters: cluster(s) {empty} of {where} hold no image (sizes of clusters 0…{a.k - 1}: "
            f"{sizes}); choose among the non-empty ones"
        )
    records = read_manifest(source)
    chosen, counts = select(records, a.clusters, spec.clusters)
    total = sum(v for c, v in counts.items() if c != "unassigned")
    usable = sum(r.usable for r in records)
    if total == 0:
        raise ValueError(
            f"{KEY}: none of the {usable} training images of {ctx.relative(source)} is in cluster(s) "
            f"{list(spec.clusters)} of {where}"
            + (
                " — the benchmark clustered another image set (cluster_bench.images)"
                if counts["unassigned"] == usable
                else ""
            )
        )
    for c in spec.clusters:
        if counts[str(c)] == 0:
            log.warning("train: cluster %d of %s has no usable training image (self-filtered out)", c, where)
    if counts["unassigned"]:
        log.warning(
            "train: %d usable images have no cluster in %s (not clustered by the benchmark); left out",
            counts["unassigned"],
            where,
        )
    manifest = ctx.stage_dir / "manifest.jsonl"
    write_rebased(chosen, source.parent, manifest)
    log.info(
        "train: %d of %d images, clusters %s of %s (sizes %s)",
        total,
        usable,
        list(spec.clusters),
        where,
        sizes,
    )
    summary = {
        "encoder": spec.encoder,
        "encoder_label": a.label,
        "algorithm": spec.algorithm,
        "k": a.k,
        "clusters": list(spec.clusters),
        "images": total,
        "of_images": usable,
        "per_cluster": {c: v for c, v in counts.items() if c != "unassigned"},
        "unassigned": counts["unassigned"],
        "cluster_sizes": sizes,
    }
    return manifest, summary

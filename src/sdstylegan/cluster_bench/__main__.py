"""Command line of the clustering benchmark: a run directory or a folder of images → table and pictures.

    python -m sdstylegan.cluster_bench outputs/demo                        # the run's crops, labels, E and D
    python -m sdstylegan.cluster_bench photos/ --out bench/                # subfolders of photos/ = classes
    python -m sdstylegan.cluster_bench photos/ --out bench/ --labels labels.csv cluster_bench.num_clusters=8
    python -m sdstylegan.cluster_bench outputs/demo --config standin cluster_bench.max_images=500

Options after the paths are Hydra overrides of the project config (`conf/`), e.g.
`cluster_bench.use_encoders=[pixels,E,D]`. A run directory gives: the manifest of `manifest_stage` (crop)
or the first of demo_data/ingest/collect, the demo's ground truth, and the train_raw (else train)
checkpoint for E and D; output goes to `<run>/cluster_bench_cli/` unless `--out` is given.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig, open_dict

from sdstylegan.cluster_bench.images import ImageSet, from_folder, from_manifest
from sdstylegan.cluster_bench.labels import LabelFileError
from sdstylegan.utils.io import read_json

SOURCE_STAGES = ("demo_data", "ingest", "collect")


def conf_dir() -> Path:
    import sdstylegan

    path = Path(sdstylegan.__file__).resolve().parents[2] / "conf"
    if not (path / "cluster_bench" / "default.yaml").is_file():
        raise FileNotFoundError(
            f"{path}: the project's conf/ folder (with cluster_bench/) was not found; "
            f"run from a source checkout installed with pip install -e"
        )
    return path


def compose(config: str, overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
        return hydra_compose(config_name="config", overrides=[f"+cluster_bench={config}", *overrides])


def _outputs(run: Path, stage: str) -> dict:
    done = run / stage / "done.json"
    return read_json(done).get("outputs", {}) if done.is_file() else {}


def run_images(run: Path, bcfg: DictConfig, labels: str | None) -> tuple[ImageSet, Path | None]:
    """The image set and E/D checkpoint of a run directory."""
    order = [str(bcfg.manifest_stage)] if bcfg.get("manifest_stage") else []
    manifest = next(
        (_outputs(run, s)["manifest"] for s in [*order, *SOURCE_STAGES] if "manifest" in _outputs(run, s)),
        None,
    )
    if manifest is None:
        raise FileNotFoundError(
            f"{run}: no finished stage with a manifest ({', '.join([*order, *SOURCE_STAGES])})"
        )
    if labels == "auto":
        gt = _outputs(run, "demo_data").get("ground_truth")
        labels = str(run / gt) if gt else None
    checkpoint = None
    if bcfg.get("checkpoint"):
        checkpoint = Path(str(bcfg.checkpoint)).expanduser()
    else:
        for stage in ("train_raw", "train"):
            ckpt = _outputs(run, stage).get("checkpoint")
            if ckpt:
                checkpoint = run / ckpt
                break
    return from_manifest(run / manifest, labels), checkpoint


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sdstylegan.cluster_bench", description=__doc__.split("\n")[0])
    p.add_argument("source", type=Path, help="a run directory, or a folder of images (subfolders = classes)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. cluster_bench.num_clusters=8")
    p.add_argument("--out", type=Path, help="output folder (default <run>/cluster_bench_cli for a run)")
    p.add_argument("--labels", help="labels: auto (default), none, or a .csv / ground_truth.jsonl file")
    p.add_argument("--config", default="default", help="cluster_bench config: default | standin")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[%(name)s][%(levelname)s] %(message)s")
    from sdstylegan.cluster_bench.bench import run_benchmark

    cfg = compose(args.config, args.overrides)
    bcfg = cfg.cluster_bench
    labels = args.labels if args.labels is not None else bcfg.labels
    labels = None if labels in (None, "none") else str(labels)
    src = args.source.expanduser()
    try:
        if (src / "config.yaml").is_file() or any((src / s / "done.json").is_file() for s in SOURCE_STAGES):
            images, checkpoint = run_images(src, bcfg, labels)
            out = args.out or src / "cluster_bench_cli"
        elif src.is_dir():
            if args.out is None:
                p.error("--out is needed for a folder of images")
            images = from_folder(src, labels)
            checkpoint = Path(str(bcfg.checkpoint)).expanduser() if bcfg.get("checkpoint") else None
            out = args.out
        else:
            p.error(f"{src}: neither a run directory nor a folder")
    except (LabelFileError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with open_dict(bcfg):
        bcfg.labels = labels or "none"
    cache_dir = (
        Path(str(bcfg.cache_dir)).expanduser()
        if bcfg.get("cache_dir")
        else Path(str(cfg.paths.cache_dir)) / "cluster_bench"
    )
    report = run_benchmark(bcfg, images, out, cache_dir, checkpoint, progress=not args.quiet)
    print((Path(out) / "cluster_bench.md").read_text(encoding="utf-8"))
    print(f"report: {report['report_file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

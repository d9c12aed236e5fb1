"""Feature mapper command: train encoder features → w against a fixed generator, score it like an inversion.

    python -m sdstylegan.cluster_bench.mapper outputs/demo                               # the run's G and images
    python -m sdstylegan.cluster_bench.mapper net.pkl --images photos/ --out mapper/ cluster_bench.mapper.encoder=clip
    python -m sdstylegan.cluster_bench.mapper outputs/demo --config standin metrics=standin \\
        cluster_bench.mapper.steps=300 cluster_bench.mapper.space=wplus

The generator: a run directory (its latest training checkpoint), a checkpoint or an NVlabs/SDIP .pkl. The
images: the run's (as `python -m sdstylegan.cluster_bench` reads them) or `--images` (a folder). A seeded
`cluster_bench.mapper.holdout` of them is held out; the mapper (`mapper_net`, `mapper_train`) trains on the
rest, then `invert.inversion.invert(method="encoder", E=mapper)` reconstructs the held-out images — the
same LPIPS (metrics.lpips, ≤ 256²), MSE and seconds per image as the other methods, which `compare` scores on
the same images: `encoder` (the run's SDIP E, when it has one) and `projector` (`projector_steps` steps).
Outputs in `--out` (default `<run>/mapper/<encoder>-<space>/`): `mapper.pt` (the MLP, no encoder weights),
`mapper.md`, `report.json` (`report_standin.json`, names `*_standin`, when an encoder or LPIPS is a random
stand-in), `history.jsonl`, `before_after.png` (target, then each method's reconstruction, per row).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from sdstylegan.cluster_bench.images import ImageDataset, ImageSet
from sdstylegan.cluster_bench.mapper_net import FeatureMapper, save_mapper
from sdstylegan.cluster_bench.mapper_train import MapperTrainConfig, train_mapper
from sdstylegan.invert.inversion import invert
from sdstylegan.invert.projector import w_statistics
from sdstylegan.utils.io import atomic_open, write_json
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.pictures import image_grid, save_png

log = get_logger(__name__)
COMPARE = ("encoder", "projector")


def holdout_split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices: a seeded permutation; `holdout` < 1 is a fraction, ≥ 1 a count."""
    k = int(holdout) if holdout >= 1 else int(round(n * float(holdout)))
    if not 1 <= k < n:
        raise ValueError(
            f"cluster_bench.mapper.holdout={holdout}: {k} of {n} images held out; need 1 … {n - 1}"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def load_images(images: ImageSet, resolution: int) -> torch.Tensor:
    """uint8 [N, 3, R, R] of every image (centre crop, Lanczos), as the benchmark reads them."""
    data = ImageDataset(images.paths, resolution)
    return torch.stack([data[i] for i in range(len(data))])


@torch.no_grad()
def features_of(
    encoder: torch.nn.Module, images: torch.Tensor, batch: int, device: torch.device
) -> torch.Tensor:
    return torch.cat([encoder(b.to(device)).float() for b in images.split(batch)])


def build_encoder(bcfg: DictConfig, name: str, checkpoint: Path | None) -> Any:
    """One encoder of `cluster_bench.encoders` by its config name (E/D from `checkpoint`)."""
    from sdstylegan.cluster_bench.bench import build_encoders

    one = OmegaConf.merge(bcfg, {"use_encoders": [name], "on_unavailable": "error"})
    return build_encoders(one, checkpoint)[0][name]


def _score(G, images, method, space, lpips, E, steps, batch, seed) -> dict[str, Any]:
    lp, mse, out, seconds = [], [], [], 0.0
    for chunk in images.split(batch):
        r = invert(G, chunk, method, space, distance=lpips, E=E, steps=steps, seed=seed)
        lp.append(r.lpips.cpu())
        mse.append(r.mse.cpu())
        out.append(r.images.cpu())
        seconds += r.seconds_per_image * chunk.shape[0]
    lp, mse = torch.cat(lp), torch.cat(mse)
    return {
        "lpips": float(lp.mean()),
        "lpips_std": float(lp.std(unbiased=False)),
        "mse": float(mse.mean()),
        "seconds_per_image": seconds / images.shape[0],
        "images": torch.cat(out),
    }


def run_mapper(
    cfg: DictConfig,
    G: torch.nn.Module,
    images: ImageSet,
    out_dir: str | Path,
    checkpoint: Path | None = None,  # G's checkpoint: its E (if any) is the `encoder` comparison
    device: str | torch.device = "cpu",
    encoder_checkpoint: Path | None = None,  # E/D as feature encoders (the benchmark's: train_raw's)
) -> dict[str, Any]:
    """Train and score a mapper (`cfg.cluster_bench.mapper`); write the outputs; return the report."""
    bcfg, mcfg = cfg.cluster_bench, cfg.cluster_bench.mapper
    device, out_dir, seed = torch.device(device), Path(out_dir), int(mcfg.seed)
    G = G.to(device).eval().requires_grad_(False)
    images = images.subset(mcfg.get("max_images"))
    pixels = load_images(images, int(G.img_resolution))
    train_idx, test_idx = holdout_split(len(images), float(mcfg.holdout), seed)
    encoder = build_encoder(bcfg, str(mcfg.encoder), encoder_checkpoint or checkpoint).to(device)
    feats = features_of(encoder, pixels, int(bcfg.batch_size), device)
    fname = mcfg.get("feature_encoder") or str(mcfg.encoder)
    f_enc, f_target = None, None
    if fname != str(mcfg.encoder) and float(mcfg.lambda_feature) > 0:
        f_enc = build_encoder(bcfg, fname, encoder_checkpoint or checkpoint).to(device)
        f_target = features_of(f_enc, pixels, int(bcfg.batch_size), device)[train_idx]
    lpips = instantiate(cfg.metrics.lpips).to(device).eval().requires_grad_(False)
    w_avg, _ = w_statistics(G, 10000)
    mapper = FeatureMapper(
        encoder, feats.shape[1], G.w_dim, G.num_ws, w_avg, str(mcfg.space), int(mcfg.hidden), int(mcfg.depth)
    ).to(device)
    tcfg = MapperTrainConfig(
        **{k: mcfg[k] for k in ("steps", "batch_size", "lr", "generated_per_batch", "seed")},
        **{k: float(mcfg[k]) for k in ("lambda_l1", "lambda_lpips", "lambda_feature", "lambda_w")},
    )
    x = pixels.float() / 127.5 - 1
    log.info(
        "mapper: %s → %s, %d training / %d held-out images",
        encoder.label,
        mcfg.space,
        len(train_idx),
        len(test_idx),
    )
    with tqdm(total=tcfg.steps, unit="step", desc=f"mapper {encoder.label}", dynamic_ncols=True) as bar:

        def tick(step: int, row: dict[str, float]) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.4f}", img_per_s=f"{tcfg.batch_size / row['seconds']:.1f}")

        history = train_mapper(mapper, G, lpips, x[train_idx], feats[train_idx], tcfg, f_enc, f_target, tick)
    standin = bool(
        encoder.is_standin or getattr(lpips, "is_standin", False) or (f_enc is not None and f_enc.is_standin)
    )
    sfx = "_standin" if standin else ""
    targets = x[test_idx].to(device)
    batch = int(mcfg.score_batch)
    rows, pictures, skipped = [], [targets.cpu()], {}
    methods = [("mapper", mapper)] + [(m, None) for m in mcfg.compare]
    for method, E in methods:
        if method not in ("mapper", *COMPARE):
            raise ValueError(f"cluster_bench.mapper.compare names {method!r}; choose from {list(COMPARE)}")
        if method == "encoder":
            E = _run_encoder(checkpoint, device)
            if E is None:
                skipped[method] = "no SDIP encoder E in the generator's checkpoint (a train_raw run has one)"
                continue
        inv_method = "projector" if method == "projector" else "encoder"
        space = str(mcfg.space) if method != "encoder" or E.w_plus else "w"
        sc = _score(G, targets, inv_method, space, lpips, E, int(mcfg.projector_steps), batch, seed)
        pictures.append(sc.pop("images"))
        name = f"mapper({encoder.label})" if method == "mapper" else method
        rows.append({"method": name, "space": space, "images": len(test_idx), **sc})
    out_dir.mkdir(parents=True, exist_ok=True)
    save_mapper(out_dir / "mapper.pt", mapper, {"generator_w_dim": G.w_dim, "steps": tcfg.steps})
    with atomic_open(out_dir / "history.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(h) + "\n" for h in history)
    grid = torch.stack(pictures, dim=1).flatten(0, 1)
    save_png(image_grid(grid, cols=len(pictures)), out_dir / "before_after.png")
    report = {
        "encoder": encoder.label,
        "feature_encoder": (f_enc or encoder).label if tcfg.lambda_feature > 0 else None,
        "space": str(mcfg.space),
        "train_images": len(train_idx),
        "heldout_images": len(test_idx),
        "lpips_name": f"lpips{sfx}",
        "rows": [{k.replace("lpips", f"lpips{sfx}"): v for k, v in r.items()} for r in rows],
        "skipped": skipped,
        "final_losses": {k: v for k, v in history[-1].items() if k not in ("step", "seconds")},
        "train_seconds": round(sum(h["seconds"] for h in history), 3),
        "standin": standin,
        "config": OmegaConf.to_container(mcfg, resolve=True),
        "source": images.source,
    }
    report_path = out_dir / f"report{sfx}.json"
    write_json(report_path, report)
    _table(report, out_dir / "mapper.md")
    report["report_file"] = str(report_path)
    return report


def _run_encoder(checkpoint: Path | None, device: torch.device) -> torch.nn.Module | None:
    from sdstylegan.training.checkpoint import load_network

    if checkpoint is None or checkpoint.suffix == ".pkl":
        return None
    try:
        return load_network(checkpoint, which="E").to(device).eval()
    except ValueError:
        return None


def _table(report: dict[str, Any], path: Path) -> None:
    lp = report["lpips_name"]
    lines = [
        f"| method | space | held-out images | {lp} ↓ | mse ↓ | s/image |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['method']} | {r['space']} | {r['images']} | {r[lp]:.4f} ± {r[lp + '_std']:.4f} | "
            f"{r['mse']:.4f} | {r['seconds_per_image']:.3f} |"
            for r in report["rows"]
        ),
    ]
    if report["standin"]:
        lines.append("\nStand-in networks (`_standin`): random weights; the numbers show the mechanics only.")
    if report["skipped"]:
        lines.append("\nNot scored: " + "; ".join(f"{k} ({v})" for k, v in report["skipped"].items()))
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    from sdstylegan.cluster_bench.__main__ import SOURCE_STAGES, compose, run_images
    from sdstylegan.cluster_bench.images import from_folder
    from sdstylegan.training.checkpoint import find_checkpoint, load_generator

    p = argparse.ArgumentParser(
        prog="python -m sdstylegan.cluster_bench.mapper", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "source", type=Path, help="run directory, training checkpoint or NVlabs .pkl (the generator)"
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. cluster_bench.mapper.encoder=clip")
    p.add_argument("--images", type=Path, help="a folder of images (default: the run's)")
    p.add_argument("--out", type=Path, help="output folder (default <run>/mapper/<encoder>-<space>)")
    p.add_argument("--config", default="default", help="cluster_bench config: default | standin")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[%(name)s][%(levelname)s] %(message)s")
    cfg = compose(args.config, args.overrides)
    mcfg = cfg.cluster_bench.mapper
    try:
        src = find_checkpoint(args.source.expanduser())
        G = load_generator(src.checkpoint, map_location=args.device)
        run = src.run_dir
        enc_ckpt = Path(str(cfg.cluster_bench.checkpoint)) if cfg.cluster_bench.get("checkpoint") else None
        if run is not None and any((run / s / "done.json").is_file() for s in SOURCE_STAGES):
            run_set, run_ckpt = run_images(run, cfg.cluster_bench, None)
            enc_ckpt = enc_ckpt or run_ckpt
        if args.images is not None:
            images = from_folder(args.images.expanduser(), None)
        elif run is not None and any((run / s / "done.json").is_file() for s in SOURCE_STAGES):
            images = run_set
        else:
            p.error("--images is needed when the source is not a run directory")
        out = args.out or (run or src.checkpoint.parent) / "mapper" / f"{mcfg.encoder}-{mcfg.space}"
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = run_mapper(cfg, G, images, out, src.checkpoint, args.device, enc_ckpt or src.checkpoint)
    print((Path(out) / "mapper.md").read_text(encoding="utf-8"))
    print(f"report: {report['report_file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

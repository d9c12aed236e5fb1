"""The `crop` stage: TokenCut on every usable image → square crops at the dataset resolution.

Reads the latest manifest (`ctx.latest("manifest")`), runs `TokenCutDetector` through
`Trainer.predict` (so `trainer=ddp` shards the images over GPUs and nodes; each rank writes its crops
and a `predictions/rank<r>.jsonl`), then rank zero merges everything into the stage folder:
- `crops/<id[:2]>/<id>.png` — Lanczos-resized squares (`detector.crop` sets margin, border policy, rejections);
  a record that arrives with a released box (SDIP JSON, `bbox`) is cropped exactly there, as SDIP's
  download.py does (`img[y0:y1, x0:x1]`, Lanczos to resolution²), without detection (`box_source: released`),
  unless `detector.crop.source=detector` re-detects it (the released box is then kept as `released_bbox`);
- `manifest.jsonl` — every input record (unknown fields kept, paths re-based on this folder) with `bbox`
  = the square that was cropped ([y0, y1, x0, x1], original pixels; with `policy: pad` only its part inside
  the image, so SDIP's `img[y0:y1, x0:x1]` then gives the crop without its padding), `crop_path`,
  `detect_box` (TokenCut's object box, same convention), `cut` = {ncut, eigengap} (the cut's quality:
  normalized-cut value, low = clean; `detector.crop.max_ncut` rejects weak cuts as `weak_cut`) and, for
  rejected images, `status` = the reason;
- `sdip.json` (SDIP release format), `boxes.png` (originals with mask, box and crop), `weakest_cuts.png`
  (accepted crops with the highest ncut), `summary.json` (counts per status, images/s, the distribution
  of ncut and eigengap, CorLoc on the demo ground truth when there is one).
A stand-in backbone (`detector.pretrained=false`) makes every output say STAND-IN: the summary's
`standin` flag, `corloc_standin` instead of `corloc`, and the picture's title. A killed run resumes:
images already in `predictions/` are not detected again.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import DataLoader

from sdstylegan.data.boxes import sdip_to_xyxy
from sdstylegan.data.manifest import (
    OK,
    ManifestRecord,
    read_manifest,
    rebase_path,
    status_counts,
    write_manifest,
)
from sdstylegan.data.sdip_json import export_sdip_json
from sdstylegan.detect.corloc import corloc
from sdstylegan.detect.crop import CropPolicy, crop_box
from sdstylegan.detect.crop_writer import CropWriter, crop_rel_path
from sdstylegan.detect.detector import DetectionDataset, TokenCutDetector, collate_detections
from sdstylegan.detect.visualize import Overlay, overlay_grid, thumbnail
from sdstylegan.distill.records import load_ground_truth
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.instantiate import instantiate_dict
from sdstylegan.utils.io import read_json, read_jsonl, write_json
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.weights import STANDIN_SUFFIX

log = get_logger(__name__)


def needs(cfg: DictConfig) -> list[str]:
    """Networks the crop stage builds (for the pipeline's preflight): the ViT backbone."""
    return ["detector.backbone"]


def build_detector(cfg: DictConfig) -> TokenCutDetector:
    """`TokenCutDetector` from the `detector` config group (backbone is a `_target_` node)."""
    backbone = hydra.utils.instantiate(cfg.backbone)
    return TokenCutDetector(backbone, tau=cfg.tau, eps=cfg.eps, solver=cfg.solver, gap_tol=cfg.gap_tol)


def given_box(
    rec: ManifestRecord, policy: CropPolicy
) -> tuple[tuple[int, int, int, int], tuple[int, int]] | None:
    """(box (x0, y0, x1, y1), image size) of a record's released box when it is to be cropped as released."""
    if policy.source != "given_or_detect" or rec.bbox is None or not rec.orig_size:
        return None
    return sdip_to_xyxy(rec.bbox), (int(rec.orig_size[0]), int(rec.orig_size[1]))


def _read_predictions(stage_dir: Path) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for f in sorted((stage_dir / "predictions").glob("rank*.jsonl")):
        for _, row in read_jsonl(f, append_only=True, what="crop predictions"):
            rows[int(row["index"])] = row
    return rows


def run_crop(ctx: StageContext) -> dict[str, Any]:
    """Pipeline stage `crop`: see the module docstring."""
    cfg, dcfg = ctx.cfg, ctx.cfg.detector
    manifest_path = ctx.path(ctx.latest("manifest"))
    root = manifest_path.parent
    records = read_manifest(manifest_path)
    policy = CropPolicy(**dcfg.crop)
    resolution = int(cfg.dataset.resolution)
    detector = build_detector(dcfg)
    done = _read_predictions(ctx.stage_dir) if ctx.resume else {}
    todo = [k for k, r in enumerate(records) if r.status == OK and k not in done]
    log.info(
        "crop: %d images to detect (%d done before, %d not ok in the input) with %s%s",
        len(todo),
        len(done),
        sum(r.status != OK for r in records),
        detector.backbone.name,
        " (STAND-IN)" if detector.standin else "",
    )

    writer = CropWriter(
        ctx.stage_dir,
        todo,
        records,
        root,
        policy,
        resolution,
        int(dcfg.picture.num_images),
        detector.patch_size,
        dcfg.get("crop_threads", "auto"),
    )
    t0 = time.time()
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        logger=False,
        callbacks=[writer],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        fast_dev_run=False,
    )
    if todo:
        ds = DetectionDataset(
            [records[k].image_path(root) for k in todo],
            detector.patch_size,
            dcfg.max_side,
            given=[given_box(records[k], policy) for k in todo],
        )
        loader = DataLoader(
            ds,
            batch_size=int(dcfg.batch_size),
            num_workers=int(dcfg.num_workers),
            collate_fn=collate_detections,
            shuffle=False,
        )
        trainer.predict(detector, dataloaders=loader, return_predictions=False)
    seconds = time.time() - t0
    trainer.strategy.barrier()
    outputs = {
        "manifest": ctx.relative(ctx.stage_dir / "manifest.jsonl"),
        "sdip_json": ctx.relative(ctx.stage_dir / "sdip.json"),
        "summary": ctx.relative(ctx.stage_dir / "summary.json"),
        "standin": detector.standin,
    }
    if trainer.is_global_zero:
        _merge(ctx, records, root, detector, len(todo), seconds, writer.overlays)
    trainer.strategy.barrier()
    summary = read_json(ctx.stage_dir / "summary.json")  # every rank returns the same outputs
    return outputs | {
        k: v for k, v in summary.items() if k.startswith("corloc") or k in ("num_crops", "images_per_s")
    }


def _merge(
    ctx: StageContext,
    records: list[ManifestRecord],
    root: Path,
    detector: TokenCutDetector,
    num_detected: int,
    seconds: float,
    overlays: list[Overlay],
) -> None:
    """Rank zero: the new manifest, SDIP JSON, picture, summary and CorLoc."""
    rows = _read_predictions(ctx.stage_dir)
    out_records = []
    for k, rec in enumerate(records):
        d = rec.to_dict()
        d["orig_path"] = rebase_path(d.get("orig_path"), root, ctx.stage_dir)
        d["crop_path"] = rebase_path(d.get("crop_path"), root, ctx.stage_dir)
        row = rows.get(k)
        if rec.status == OK:
            if row is None:
                raise RuntimeError(
                    f"crop: no prediction for manifest record {k} ({rec.source}); re-run to resume"
                )
            d["status"], d["detect_box"] = row["status"], row.get("detect_box")
            d["box_source"] = row.get("box_source")
            if rec.bbox is not None and row.get("box_source") != "released":
                d["released_bbox"] = rec.bbox  # re-detected on purpose (source: detector): both boxes kept
            if row.get("cut") is not None:
                d["cut"] = row["cut"]
            d["bbox"] = row.get("bbox")
            d["crop_path"] = crop_rel_path(rec.id) if row["status"] == OK else None
            if row.get("detail"):
                d["crop_detail"] = row["detail"]
        out_records.append(ManifestRecord.from_dict(d))
    write_manifest(ctx.stage_dir / "manifest.jsonl", out_records)
    num_sdip = export_sdip_json(ctx.stage_dir / "sdip.json", out_records)
    counts = status_counts(out_records)
    standin = detector.standin
    summary: dict[str, Any] = {
        "backbone": detector.backbone.name,
        "standin": standin,
        "num_records": len(records),
        "num_detected": num_detected,
        "num_crops": counts.get(OK, 0),
        "status_counts": dict(counts),
        "rejected": dict(
            Counter(r.status for r, rec in zip(out_records, records) if rec.status == OK and r.status != OK)
        ),
        "seconds": round(seconds, 3),
        "images_per_s": round(num_detected / seconds, 3) if seconds > 0 else None,
        "num_sdip_boxes": num_sdip,
    }
    summary["cut_ncut"] = _distribution(r.extra.get("cut", {}).get("ncut") for r in out_records)
    summary["cut_eigengap"] = _distribution(r.extra.get("cut", {}).get("eigengap") for r in out_records)
    truth = load_ground_truth(ctx)
    if truth is not None:
        summary |= _demo_corloc(truth, out_records, standin)
    weakest = _weakest_cuts(out_records, ctx.stage_dir, int(ctx.cfg.detector.picture.get("num_weakest", 16)))
    if weakest:
        overlay_grid(
            weakest,
            title="accepted crops with the weakest cuts (highest ncut)"
            + (" — STAND-IN backbone" if standin else ""),
        ).save(ctx.stage_dir / "weakest_cuts.png")
    if overlays:
        title = (
            "STAND-IN backbone: random weights, boxes are meaningless"
            if standin
            else f"TokenCut ({detector.backbone.name})"
        )
        grid = overlay_grid(overlays, title=title)
        grid.save(ctx.stage_dir / "boxes.png")
        _log_to_loggers(ctx.cfg, summary, grid)
    write_json(ctx.stage_dir / "summary.json", summary)
    log.info(
        "crop: %d crops, rejected %s, %.2f img/s%s",
        summary["num_crops"],
        summary["rejected"],
        summary["images_per_s"] or 0.0,
        "".join(f", {k} {v:.3f}" for k, v in summary.items() if k.startswith("corloc")),
    )


def _distribution(values: Any) -> dict[str, float | int] | None:
    """Count, min, quartiles, p90 and max of the numbers in `values` (None skipped); None when there are none."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return None
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 0.9, 1.0])
    return {"count": int(v.size)} | {
        k: round(float(x), 6) for k, x in zip(("min", "p25", "median", "p75", "p90", "max"), q)
    }


def _weakest_cuts(records: list[ManifestRecord], stage_dir: Path, k: int) -> list[Overlay]:
    """Tiles of the `k` accepted crops whose cuts are weakest (highest ncut): object box red, crop green."""
    scored = [r for r in records if r.status == OK and r.extra.get("cut", {}).get("ncut") is not None]
    scored.sort(key=lambda r: -r.extra["cut"]["ncut"])
    tiles = []
    for r in scored[:k]:
        orig = Path(r.orig_path) if Path(r.orig_path).is_absolute() else stage_dir / r.orig_path
        thumb = thumbnail(orig)
        s = thumb.size[0] / r.orig_size[0]
        box = tuple(v * s for v in sdip_to_xyxy(r.extra["detect_box"]))
        crop = tuple(v * s for v in sdip_to_xyxy(r.bbox)) if r.bbox else None
        tiles.append(Overlay(thumb, None, 1.0, box, crop, label=f"ncut {r.extra['cut']['ncut']:.3f}"))
    return tiles


def _demo_corloc(
    truth: dict[str, dict[str, Any]], records: list[ManifestRecord], standin: bool
) -> dict[str, Any]:
    """CorLoc of TokenCut's object boxes against the demo ground truth (images with at least one object)."""
    gts = {k: [sdip_to_xyxy(b) for b in g["boxes"]] for k, g in truth.items() if g.get("boxes")}
    preds = {r.id: sdip_to_xyxy(r.extra["detect_box"]) for r in records if r.extra.get("detect_box")}
    res = corloc(preds, gts)
    # Reference points: a detector that always answers the centred square / the whole image.
    sizes = {r.id: r.orig_size for r in records if r.orig_size}
    center = corloc(
        {k: crop_box((0, 0, *s), tuple(s), CropPolicy(source="center")) for k, s in sizes.items()}, gts
    )
    whole = corloc({k: (0, 0, *s) for k, s in sizes.items()}, gts)
    key = "corloc" + (STANDIN_SUFFIX if standin else "")
    return {
        key: res.value,
        "corloc_hits": res.hits,
        "corloc_images": res.total,
        "corloc_baseline_center_square": center.value,
        "corloc_baseline_whole_image": whole.value,
    }


def _log_to_loggers(cfg: DictConfig, summary: dict[str, Any], grid: Image.Image) -> None:
    """Metrics (and the picture, where the logger takes images, e.g. W&B) to the configured loggers."""
    metrics = {
        f"crop/{k}": float(v)
        for k, v in summary.items()
        if k.startswith("corloc") or k in ("images_per_s", "num_crops")
    }
    for lg in instantiate_dict(cfg.get("logger")):
        lg.log_metrics(metrics)
        if hasattr(lg, "log_image"):
            lg.log_image(key="crop/boxes", images=[grid])
        lg.finalize("success")

"""The `sketch` stage: fine-tune a generator so its samples match a handful of user sketches (Sketch Your Own GAN).

    python train.py experiment=demo_sketch                            # offline demo: train, sketch, measure
    python train.py experiment=yerba_mate +sketch=default \\
        'pipeline.stages=[collect,crop,train_raw,self_filter,train,sketch]' \\
        sketch.path=my_sketches/ sketch.photosketch.weights=latest_net_G.pth   # done stages are skipped

Input: `sketch.source` (a training checkpoint, a run directory or an NVlabs/SDIP .pkl; null = this run's
`train` stage), the real images of the run's latest manifest (for D_image), and the sketches of
`sketch.path` — or, with `sketch.demo`, sketches the demo renderer draws of one mode in one place.
The source's files are only read; everything is written to `<run_dir>/sketch/`:
`checkpoints/last.ckpt` (the fine-tuned G_ema for `load_generator` / `python -m sdstylegan.generate`;
a killed run resumes from it exactly like training), `samples/` (over training), `sketches/` (+ `heldout/`
for the demo), `report<label>.json` and `before_after<label>.png` (same z before/after, F's sketches
beside them). `<label>` is `_xdog` when F is the offline sketcher; FIDs from a stand-in extractor are
`fid_standin`.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sdstylegan.data.demo import MODES
from sdstylegan.data.demo_stage import demo_style
from sdstylegan.distill.records import load_ground_truth
from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.ranks import on_rank_zero
from sdstylegan.sketch.data import SketchDataModule, load_sketch_folder, sketch_files
from sdstylegan.sketch.demo_sketches import STYLES, SketchPose, mode_index, write_demo_sketches
from sdstylegan.sketch.evaluate import measure
from sdstylegan.sketch.module import TRAINABLE, SketchModule
from sdstylegan.training.checkpoint import (
    CHECKPOINT_DIR,
    LAST,
    checkpoint_meta,
    find_checkpoint,
    load_generator,
)
from sdstylegan.training.data import TrainingDataModule
from sdstylegan.training.init_from import init_from
from sdstylegan.utils.io import write_json
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.pictures import save_png
from sdstylegan.utils.safe_build import NETWORK_TARGETS, check_trusted
from sdstylegan.utils.seeding import derive_seed
from sdstylegan.utils.weights import STANDIN_SUFFIX

log = get_logger(__name__)


def needs(cfg: DictConfig) -> list[str]:
    """Networks `sketch` builds (pipeline preflight): the sketcher F and the FID extractor."""
    return [sketcher_key(cfg), "metrics.inception"]


SKETCHERS = ("photosketch", "xdog")


def sketcher_key(cfg: DictConfig) -> str:
    """Config key of the chosen sketcher's node (`sketch.sketcher` names it)."""
    name = str(cfg.sketch.sketcher)
    if name not in SKETCHERS:
        raise ValueError(f"sketch.sketcher must be one of {list(SKETCHERS)}, got {name!r}")
    return f"sketch.{name}"


def check_sketch(cfg: DictConfig) -> list[str]:
    """Config problems of `sketch`, before anything runs: the sketch folder, trained params, numbers."""
    sk = cfg.get("sketch")
    if sk is None:
        return ["stage sketch needs the sketch config group: add +sketch=default (or experiment=demo_sketch)"]
    lines = []
    if str(sk.sketcher) not in SKETCHERS:
        lines.append(f"sketch.sketcher must be one of {list(SKETCHERS)}, got {sk.sketcher!r}")
    if str(sk.params) not in TRAINABLE:
        lines.append(f"sketch.params must be one of {list(TRAINABLE)}, got {sk.params!r}")
    for key in ("lambda_image", "lambda_weight", "translation"):
        if float(sk[key]) < 0:
            lines.append(f"sketch.{key} must be ≥ 0, got {sk[key]}")
    if float(sk.kimg) <= 0 or int(sk.batch_size) < 1:
        lines.append(f"sketch.kimg must be > 0 and sketch.batch_size ≥ 1, got {sk.kimg}, {sk.batch_size}")
    if sk.source and not Path(str(sk.source)).expanduser().exists():
        lines.append(f"sketch.source={sk.source}: no such checkpoint, run directory or .pkl")
    stages = [str(x) for x in (OmegaConf.select(cfg, "pipeline.stages") or [])]
    if not sk.source and "sketch" in stages and "train" not in stages[: stages.index("sketch")]:
        lines.append(
            "sketch.source is not set and no `train` stage comes before `sketch`: name the generator"
        )
    if sk.path is None and sk.get("demo") is None:
        lines.append("sketch.path is not set: point it at a folder of sketches (or use sketch=demo)")
    for key in ("path", "heldout"):
        if sk.get(key) is not None:
            try:
                sketch_files(sk[key], int(sk.min_sketches))
            except ValueError as e:
                lines.append(str(e).replace("sketch.path", f"sketch.{key}", 1))
    if sk.get("demo") is not None:
        try:
            mode_index(sk.demo.mode)
            _pose(sk.demo).check()
            if str(sk.demo.style) not in STYLES:
                raise ValueError(f"sketch.demo.style must be one of {list(STYLES)}, got {sk.demo.style!r}")
        except ValueError as e:
            lines.append(str(e))
    return lines


def _pose(demo: DictConfig) -> SketchPose:
    return SketchPose(tuple(float(v) for v in demo.center), float(demo.height), float(demo.jitter))


def source_checkpoint(ctx: StageContext) -> Path:
    """The generator to fine-tune: `sketch.source` (file or run directory) or this run's `train` checkpoint."""
    src = ctx.cfg.sketch.source
    if src:
        path = Path(str(src)).expanduser()
        return find_checkpoint(path).checkpoint if path.is_dir() else path
    return ctx.path(ctx.latest("checkpoint", "train"))


def source_model(cfg: DictConfig, source: Path) -> dict[str, Any]:
    """The source's model config (a checkpoint's own, allowlisted; the run's `model` for a .pkl)."""
    if source.suffix == ".pkl":
        return OmegaConf.to_container(cfg.model, resolve=True)
    model = checkpoint_meta(source).get("model") or {}
    for node in ("generator", "discriminator"):
        check_trusted(model.get(node), NETWORK_TARGETS, origin=f"checkpoint {source}", where=f"model.{node}")
    return model


def training_config(sk: DictConfig) -> dict[str, Any]:
    """The `training` dict the module and the trainer read, built from `sketch.*`."""
    return {
        "batch_size": int(sk.batch_size),
        "batch_gpu": sk.get("batch_gpu"),
        "total_kimg": float(sk.kimg),
        "r1_gamma": float(sk.r1_gamma),
        "loss": {
            "r1_interval": int(sk.r1_interval),
            "pl_weight": 0.0,
            "style_mixing": float(sk.style_mixing),
        },
        "optim": OmegaConf.to_container(sk.optim, resolve=True),
        "ema": OmegaConf.to_container(sk.ema, resolve=True),
        "ada": {"enabled": False},
        "callbacks": OmegaConf.to_container(sk.callbacks, resolve=True),
        "sketch": {k: sk[k] for k in ("params", "lambda_image", "lambda_weight", "translation")}
        | {"sketcher": str(sk.sketcher)},
    }


def sketch_dirs(ctx: StageContext) -> tuple[Path, Path | None]:
    """Folders of training and held-out sketches (the demo's are rendered into the stage folder)."""
    sk = ctx.cfg.sketch
    if sk.get("demo") is not None and sk.path is None:
        return ctx.stage_dir / "sketches", ctx.stage_dir / "heldout"
    return Path(str(sk.path)).expanduser(), Path(str(sk.heldout)).expanduser() if sk.heldout else None


def render_demo_sketches(ctx: StageContext, resolution: int, sketcher: torch.nn.Module) -> dict[str, Any]:
    """With `sketch.demo` (and no `sketch.path`): draw the training and held-out sketches of one mode."""
    sk = ctx.cfg.sketch
    if sk.get("demo") is None or sk.path is not None:
        return {}
    d = sk.demo
    mode, pose, seed = mode_index(d.mode), _pose(d), derive_seed(int(ctx.cfg.seed), "sketch", "demo")
    train_dir, held_dir = sketch_dirs(ctx)
    # The photos behind `style: sketcher` are drawn in the dataset's look (clutter, backdrop, grain).
    style = {"style": str(d.style), "sketcher": sketcher, "look": demo_style(ctx.cfg.dataset)}
    write_demo_sketches(train_dir, mode, seed, int(d.count), resolution, pose, **style)
    write_demo_sketches(held_dir, mode, seed, int(d.heldout), resolution, pose, start=int(d.count), **style)
    return {}


def fine_tune(
    ctx: StageContext, source: Path, sketches: torch.Tensor, sketcher: torch.nn.Module
) -> SketchModule:
    """Fit (or resume) the SketchModule in the stage folder; the fitted module."""
    from sdstylegan.training.stage import build_loggers, build_trainer, close_loggers

    cfg, sk = ctx.cfg, ctx.cfg.sketch
    training = training_config(sk)
    view = cfg.copy()  # the trainer reads `training.callbacks`: the sketch stage's own
    OmegaConf.update(view, "training", training, merge=False)
    last = ctx.stage_dir / CHECKPOINT_DIR / LAST
    resume = last if last.exists() else None
    meta = checkpoint_meta(resume) if resume else None
    loggers = build_loggers(view, ctx.stage_dir, meta)
    trainer = build_trainer(view, ctx.stage_dir, loggers)
    batch = int(sk.batch_size)
    if batch % trainer.world_size:
        raise ValueError(f"sketch.batch_size={batch} is not divisible by the {trainer.world_size} processes")
    model = source_model(cfg, source)
    node = {
        k: v
        for k, v in OmegaConf.to_container(cfg.dataset.datamodule, resolve=True).items()
        if k != "_target_"
    }
    node.update(
        resolution=int(model["generator"]["img_resolution"]),
        batch_size=batch // trainer.world_size,
        manifest_path=str(ctx.path(sk.images) if sk.images else ctx.path(ctx.latest("manifest"))),
    )
    data = TrainingDataModule(SketchDataModule(sketches, **node), seed=int(cfg.seed), min_images=batch)
    module = SketchModule(model, training, sketcher)
    if resume is None:  # a fresh fine-tuning starts from the source; a resumed one from its own checkpoint
        init_from(module, source)
        module.start_from_pretrained()
    else:
        log.info("sketch: resuming from %s (kimg %.3f)", last, meta["kimg"])
    status = "failed"
    try:
        if meta is None or meta["kimg"] < float(sk.kimg):
            with warnings.catch_warnings():  # G_ema and the frozen sketcher are in eval mode on purpose
                warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
                trainer.fit(
                    module, datamodule=data, ckpt_path=str(resume) if resume else None, weights_only=True
                )
        status = "success"
    finally:
        close_loggers(loggers, status)
    return module


def run_sketch(ctx: StageContext) -> dict[str, Any]:
    """Stage `sketch`: see the module docstring."""
    sk = ctx.cfg.sketch
    t0 = time.time()
    source = source_checkpoint(ctx)
    resolution = int(source_model(ctx.cfg, source)["generator"]["img_resolution"])
    sketcher = instantiate(OmegaConf.select(ctx.cfg, sketcher_key(ctx.cfg))).to(
        "cuda" if torch.cuda.is_available() else "cpu"
    )
    on_rank_zero(lambda c: render_demo_sketches(c, resolution, sketcher), ctx)
    train_dir, held_dir = sketch_dirs(ctx)
    sketches = load_sketch_folder(train_dir, resolution, int(sk.min_sketches))
    log.info(
        "sketch: fine-tuning %s on %d sketches of %s with F=%s",
        source,
        len(sketches),
        train_dir,
        sketcher.label,
    )
    module = fine_tune(ctx, source, sketches, sketcher)
    seconds = time.time() - t0
    out = on_rank_zero(lambda c: report(c, source, module, sketcher, sketches, held_dir, seconds), ctx)
    last = ctx.stage_dir / CHECKPOINT_DIR / LAST
    return {
        **out,
        "sketch_checkpoint": ctx.relative(last),
        "source": str(source),
        "sketches": ctx.relative(train_dir),
        "kimg": module.kimg,
        "samples": ctx.relative(ctx.stage_dir / "samples"),
    }


def ground_truth_measures(
    ctx: StageContext, manifest: Path, resolution: int, mode: int, device: torch.device, batch: int
) -> tuple[Any, Any, dict[str, Any], str] | None:
    """With the demo's ground truth: the mode classifier, FID against the sketched mode's and all real images,
    a summary for the report, and the FID key's suffix. None for data without ground truth."""
    from sdstylegan.proof.mode_classifier import labelled_inliers, train_mode_classifier
    from sdstylegan.proof.proof_stage import FidReference

    truth = load_ground_truth(ctx)
    if truth is None:
        return None
    cfg, c = ctx.cfg, ctx.cfg.sketch.eval.classifier
    images, labels = labelled_inliers(manifest, resolution, truth)
    # The mode classifier, and a colour-blind one (luminance only): a sketch carries shape, not colour, so
    # the two shares tell a shape the sketches did not move from a colour they could not.
    seed = derive_seed(int(cfg.seed), "sketch", "classifier")
    hp = {"holdout": float(c.holdout), "epochs": int(c.epochs), "batch": int(c.batch), "lr": float(c.lr)}
    clfs = {
        sfx: train_mode_classifier(images, labels, list(MODES), seed, grey=grey, **hp)
        for sfx, grey in (("", False), ("_grey", True))
    }
    for clf in clfs.values():
        clf.net.to(device)
    summary: dict[str, Any] = {f"mode_classifier{sfx}": clf.summary() for sfx, clf in clfs.items()}
    summary["real_mode_share"] = float((labels == mode).float().mean())
    extractor = instantiate(cfg.metrics.inception).to(device)
    sfx = STANDIN_SUFFIX if getattr(extractor, "is_standin", False) else ""
    ref = FidReference(
        extractor, images.to(device), (labels == mode).to(device), float(cfg.metrics.frechet_eps), batch
    )

    def classify(x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x.to(device)  # once for both classifiers
        return {sfx: clf.predict(x).cpu() for sfx, clf in clfs.items()}

    def fid(x: torch.Tensor) -> dict[str, float]:
        d = ref(x.to(device))
        return {"sketched_mode": d["inliers"], "all_inliers": d["all"]}

    return classify, fid, summary, sfx


def report(
    ctx: StageContext,
    source: Path,
    module: SketchModule,
    sketcher: torch.nn.Module,
    sketches: torch.Tensor,
    held_dir: Path | None,
    fine_tune_seconds: float,
) -> dict[str, Any]:
    """Before/after figures on the same z and the before/after picture; their paths."""
    from sdstylegan.proof.pictures import side_by_side

    t0 = time.time()
    sk, ev = ctx.cfg.sketch, ctx.cfg.sketch.eval
    device = module.device
    label = f"_{sketcher.label}" if getattr(sketcher, "is_offline", False) else ""
    res, batch = module.resolution, int(ev.batch)
    drawn = load_sketch_folder(held_dir, res, int(sk.min_sketches)) if held_dir else sketches
    heldout = drawn.float() / 127.5 - 1
    manifest = ctx.path(sk.images) if sk.images else ctx.path(ctx.latest("manifest"))
    mode = mode_index(sk.demo.mode) if sk.get("demo") is not None else None
    truth = ground_truth_measures(ctx, manifest, res, mode, device, batch) if mode is not None else None
    classify, fid, summary, sfx = truth or (None, None, {}, "")
    z = torch.randn(
        int(ev.num_samples), module.G.z_dim, generator=torch.Generator().manual_seed(int(ev.seed))
    )
    results, pictures = {}, {}
    for name, G in (("before", load_generator(source, map_location=device)), ("after", module.G_ema.eval())):
        figures, images, lines = measure(G, z, sketcher, heldout, classify, mode, fid, batch, len(MODES))
        if "fid" in figures:
            figures[f"fid{sfx}"] = figures.pop("fid")
        results[name], pictures[name] = figures, (images, lines)
    n = int(ev.grid)
    panels = {
        "before": pictures["before"][0][:n],
        f"F(before) {sketcher.label}": pictures["before"][1][:n],
        "after": pictures["after"][0][:n],
        f"F(after) {sketcher.label}": pictures["after"][1][:n],
        "user sketches": sketches[:n].float() / 127.5 - 1,
    }
    save_png(side_by_side(panels, cols=max(1, n // 4)), ctx.stage_dir / f"before_after{label}.png")
    rep = {
        "sketcher": sketcher.label,
        "sketcher_offline": bool(getattr(sketcher, "is_offline", False)),
        "params": str(sk.params),
        "source": str(source),
        "kimg": module.kimg,
        "num_sketches": len(sketches),
        "num_heldout": len(heldout),
        "num_samples": int(ev.num_samples),
        "sketched_mode": MODES[mode] if mode is not None else None,
        **summary,
        "before": results["before"],
        "after": results["after"],
        "seconds": {"fine_tune": round(fine_tune_seconds, 1), "evaluate": round(time.time() - t0, 1)},
    }
    path = ctx.stage_dir / f"report{label}.json"
    write_json(path, rep)
    b, a = results["before"], results["after"]
    share = (
        f", sketched-mode share {b['sketched_mode_share']:.3f} → {a['sketched_mode_share']:.3f} "
        f"(colour-blind classifier: {b['sketched_mode_share_grey']:.3f} → {a['sketched_mode_share_grey']:.3f})"
        if "sketched_mode_share" in b
        else ""
    )
    log.info("sketch: chamfer %.2f → %.2f px%s", b["sketch_chamfer_px"], a["sketch_chamfer_px"], share)
    return {
        "report": ctx.relative(path),
        "before_after": ctx.relative(ctx.stage_dir / f"before_after{label}.png"),
    }

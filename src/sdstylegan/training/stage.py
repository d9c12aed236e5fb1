"""The `train_raw` and `train` pipeline stages: StyleGAN2(-ADA) on the latest manifest, resumable.

    python train.py experiment=demo                                   # tiny model, CPU, demo data
    python train.py experiment=yerba_mate                             # `auto` at 256², ADA on, W&B
    python train.py experiment=yerba_mate trainer=ddp trainer.devices=8 [trainer.num_nodes=4]
    python train.py experiment=yerba_mate training.total_kimg=10000   # after a kill: same command resumes

- `train_raw` trains G jointly with the SDIP encoder E on every usable image (the self-filter
  stage scores images with G(E(x))); `train` trains G on the current (filtered) manifest, with E
  only when `training.encoder.enabled` — or on chosen clusters of it (`dataset.cluster_subset`, the
  `cluster_bench` stage's assignments; see `cluster_bench.subset`).
- Outputs (in `<run_dir>/<stage>/`): `checkpoints/last.ckpt` (+ `best.ckpt` with FID), `samples/`,
  `metrics.jsonl`, logger files. The stage returns {"checkpoint": <relative path>, "kimg", …}.
- Resume: a killed run finds `checkpoints/last.ckpt` and continues from it (G, D, G_ema, E,
  optimisers, kimg, ADA p, pl_mean, RNG, data position, W&B run id). `training.total_kimg`,
  `training.batch_gpu` and `training.callbacks` are not in the fingerprint (conf/pipeline/default.yaml),
  so asking an unfinished run for more kimg, or resuming on another number of GPUs, continues it.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.stage_checks import check_config
from sdstylegan.training.checkpoint import BEST, CHECKPOINT_DIR, LAST, AtomicCheckpointIO, checkpoint_meta
from sdstylegan.training.data import TrainingDataModule
from sdstylegan.training.init_from import init_from
from sdstylegan.training.module import StyleGAN2Module
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def build_loggers(cfg: DictConfig, save_dir: Path, resumed: dict[str, Any] | None = None) -> list[Any]:
    """`cfg.logger` nodes writing into the stage folder.

    Resumed (`resumed` = checkpoint meta): a W&B run continues under its saved id; a CSV log starts
    a new file `csv/from_kimg<k>/metrics.csv` (Lightning's CSV writer would erase the earlier one).
    """
    loggers = []
    for node in (cfg.logger or {}).values():
        if node is None:
            continue
        extra: dict[str, Any] = {"save_dir": str(save_dir)}
        target = str(node.get("_target_", ""))
        if resumed and "WandbLogger" in target and resumed.get("wandb_run_id"):
            extra.update(id=resumed["wandb_run_id"], resume="allow")
        if resumed and "CSVLogger" in target:
            extra.update(version=f"from_kimg{resumed['kimg']:09.3f}")
        loggers.append(instantiate(node, **extra))
    return loggers


def configure_backends(training: DictConfig) -> dict[str, bool]:
    """Set cuDNN autotuning and TF32 from the config (`training.cudnn_benchmark`, `training.allow_tf32`),
    explicitly for every training run rather than inheriting whatever the process had; returns them."""
    flags = {
        "cudnn_benchmark": bool(training.get("cudnn_benchmark", True)),
        "allow_tf32": bool(training.get("allow_tf32", False)),
    }
    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]
    torch.backends.cuda.matmul.allow_tf32 = flags["allow_tf32"]
    torch.backends.cudnn.allow_tf32 = flags["allow_tf32"]
    return flags


def log_config(loggers: list[Any], cfg: DictConfig, stage: str) -> None:
    """Send the resolved run config (and the stage's name) to every logger: W&B's config panel, CSV's
    hparams.yaml — so runs of a sweep can be told apart and filtered by their settings."""
    params = {"stage": stage, **OmegaConf.to_container(cfg, resolve=True)}
    for lg in loggers:
        lg.log_hyperparams(params)


def close_loggers(loggers: list[Any], status: str) -> None:
    """Flush loggers; end this process's W&B run (a resumed attempt reopens it by id)."""
    for lg in loggers:
        lg.finalize(status)
        run = getattr(lg, "_experiment", None)
        if run is not None and hasattr(run, "finish"):
            run.finish(exit_code=0 if status == "success" else 1)


def build_trainer(cfg: DictConfig, stage_dir: Path, loggers: list[Any], **overrides: Any) -> pl.Trainer:
    """`cfg.trainer` with what this training loop requires: kimg-based stopping, own sampler, atomic I/O."""
    callbacks = [instantiate(node) for node in (cfg.training.callbacks or {}).values() if node is not None]
    kwargs: dict[str, Any] = dict(
        default_root_dir=str(stage_dir),
        callbacks=callbacks,
        logger=loggers or False,
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=True,
        max_epochs=-1,
        max_steps=-1,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    kwargs.update(overrides)
    return instantiate(cfg.trainer, **kwargs)


def train_generator(
    ctx: StageContext, encoder: bool, manifest: Path | None = None, total_kimg: float | None = None
) -> dict[str, Any]:
    """Train (or resume) StyleGAN2 on `manifest` (default `ctx.latest("manifest")`) up to `total_kimg`
    (default `training.total_kimg`); return the stage outputs."""
    cfg = ctx.cfg
    if total_kimg is not None:  # a copy: the run's config (and the fingerprints made from it) stays as given
        cfg = copy.deepcopy(cfg)
        with open_dict(cfg):
            cfg.training.total_kimg = float(total_kimg)
    check_config(cfg)
    last = ctx.stage_dir / CHECKPOINT_DIR / LAST
    resume_from = last if last.exists() else None
    meta = checkpoint_meta(resume_from) if resume_from else None
    if meta is not None:
        log.info("%s: resuming from %s (kimg %.3f)", ctx.name, last, meta["kimg"])
    loggers = build_loggers(cfg, ctx.stage_dir, meta)
    log_config(loggers, cfg, ctx.name)
    log.info("%s: backends %s", ctx.name, configure_backends(cfg.training))
    trainer = build_trainer(cfg, ctx.stage_dir, loggers)
    world = trainer.world_size
    batch = int(cfg.training.batch_size)
    if batch % world:
        raise ValueError(f"training.batch_size={batch} is not divisible by the {world} processes of this run")
    manifest = manifest or ctx.path(ctx.latest("manifest"))
    inner = instantiate(cfg.dataset.datamodule, manifest_path=str(manifest), batch_size=batch // world)
    data = TrainingDataModule(inner, seed=int(cfg.seed), min_images=batch)
    module = StyleGAN2Module(
        OmegaConf.to_container(cfg.model, resolve=True),
        OmegaConf.to_container(cfg.training, resolve=True),
        encoder=encoder,
    )
    init = OmegaConf.select(cfg, "training.init_from")
    if init and resume_from is None:  # transfer learning: a fresh stage starts from pretrained weights
        init_from(module, init)
    for lg in loggers:  # remember the W&B run id in checkpoints (rank 0 owns the run)
        if trainer.global_rank == 0 and "Wandb" in type(lg).__name__:
            module.wandb_run_id = lg.experiment.id
    status = "failed"
    try:
        if meta is not None and meta["kimg"] >= float(cfg.training.total_kimg):
            log.info(
                "%s: checkpoint already at kimg %.3f ≥ training.total_kimg=%s; nothing to train",
                ctx.name,
                meta["kimg"],
                cfg.training.total_kimg,
            )
            kimg = meta["kimg"]
        else:
            with warnings.catch_warnings():  # G_ema (and a frozen LPIPS) are in eval mode on purpose
                warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
                trainer.fit(
                    module,
                    datamodule=data,
                    ckpt_path=str(resume_from) if resume_from else None,
                    weights_only=True,
                )
            kimg = module.kimg
        status = "success"
    finally:
        close_loggers(loggers, status)
    best = ctx.stage_dir / CHECKPOINT_DIR / BEST
    out: dict[str, Any] = {
        "checkpoint": ctx.relative(last),
        "kimg": kimg,
        "encoder": encoder,
        "samples": ctx.relative(ctx.stage_dir / "samples"),
    }
    if best.exists():
        out["best_checkpoint"] = ctx.relative(best)
    return out


def _networks(cfg: DictConfig, encoder: bool) -> list[str]:
    keys = ["training.encoder.lpips"] if encoder else []
    node = OmegaConf.select(cfg, "training.callbacks.metrics")
    if node is not None and node.get("every_kimg"):  # FID during training
        from sdstylegan.metrics.evaluate import extractor_keys

        keys += extractor_keys(node.metrics, prefix="training.callbacks.metrics.metrics")
    return keys


def needs_train_raw(cfg: DictConfig) -> list[str]:
    """Networks `train_raw` builds (pipeline preflight): the encoder's LPIPS, FID extractors if on."""
    return _networks(cfg, encoder=True)


def needs_train(cfg: DictConfig) -> list[str]:
    """Networks `train` builds (pipeline preflight): LPIPS only with the encoder, FID extractors if on."""
    return _networks(cfg, encoder=bool(OmegaConf.select(cfg, "training.encoder.enabled", default=False)))


def run_train_raw(ctx: StageContext) -> dict[str, Any]:
    """Stage `train_raw`: G + SDIP encoder E on all usable images (input to self_filter), for
    `training.raw_kimg` kimg when set (else `training.total_kimg`)."""
    return train_generator(ctx, encoder=True, total_kimg=OmegaConf.select(ctx.cfg, "training.raw_kimg"))


def run_train(ctx: StageContext) -> dict[str, Any]:
    """Stage `train`: G (ADA) on the current manifest, or on the chosen clusters of it when
    `dataset.cluster_subset` is set (`cluster_bench.subset`); E only if `training.encoder.enabled`."""
    from sdstylegan.cluster_bench.subset import parse_spec, write_subset_manifest

    encoder = bool(OmegaConf.select(ctx.cfg, "training.encoder.enabled", default=False))
    spec = parse_spec(ctx.cfg)
    if spec is None:
        return train_generator(ctx, encoder=encoder)
    manifest, summary = write_subset_manifest(ctx, spec)
    out = train_generator(ctx, encoder=encoder, manifest=manifest)
    return {**out, "subset_manifest": ctx.relative(manifest), "cluster_subset": summary}

"""Each stage's start-of-run config check (registry key `check`: `(cfg) -> list of lines`).

One line per problem, `key=value: why`, in the format of `pipeline.validate` (which runs them for every stage
that will run and reports all lines in one error): batch sizes, `dataset.resolution` against the networks, the
batch split over the processes Lightning would start here, thresholds, counts.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sdstylegan.pipeline.preflight import _root_cause
from sdstylegan.pipeline.validate import DEMO_MIN_RESOLUTION, MIN_RESOLUTION, _Lines, _show
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def _int_or_none(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _powers_near(n: int) -> str:
    below = max(MIN_RESOLUTION, 1 << (n.bit_length() - 1))
    return f"{below} or {below * 2}"


def _resolution(c: _Lines) -> int | None:
    """`dataset.resolution` as the StyleGAN2 networks need it: a power of two ≥ MIN_RESOLUTION."""
    res = c.number("dataset.resolution", 1, integer=True)
    if res is not None and (res < MIN_RESOLUTION or res & (res - 1)):
        c.add(
            "dataset.resolution",
            res,
            f"the StyleGAN2 networks need a power of two ≥ {MIN_RESOLUTION} (e.g. {_powers_near(res)})",
        )
        return None
    return res


def _model_resolution(c: _Lines, res: int) -> None:
    seen: set[int] = set()
    for node in ("generator", "discriminator", "encoder"):
        r = c.get(f"model.{node}.img_resolution")
        if r is None or r in seen:
            continue
        seen.add(r)
        if r != res:  # wording of the former training.stage.check_config
            c.lines.append(
                f"model.{node}.img_resolution={r} differs from dataset.resolution={res}; "
                f"they must match (the model presets take ${{dataset.resolution}})"
            )


def _lpips(c: _Lines, node: str, resolution: int | None) -> None:
    """LPIPS `node` compares images of `resolution`²: its backbone must reach its last tap."""
    from sdstylegan.metrics.lpips import NETS

    net = c.choice(f"{node}.net", NETS)
    if net is not None and resolution is not None and resolution < NETS[net].min_size:
        c.add(
            f"{node}.net",
            net,
            f"LPIPS-{net} needs images of at least {NETS[net].min_size}², "
            f"these are {resolution}² (dataset.resolution); "
            + ", ".join(f"net={n} works from {s.min_size}²" for n, s in NETS.items() if n != net),
        )


def _metrics(c: _Lines) -> None:
    from sdstylegan.metrics.evaluate import metric_spaces

    try:
        metric_spaces(c.cfg.metrics)
    except ValueError as e:
        c.lines.append(str(e))
    c.number("metrics.num_samples", 2, integer=True)
    c.number("metrics.batch_size", 1, integer=True)
    c.number("metrics.real_max", 1, integer=True, allow=(None,))
    c.number("metrics.truncation_psi", 0)
    c.number("metrics.kid.subsets", 1, integer=True)
    c.number("metrics.kid.subset_size", 1, integer=True)
    c.number("metrics.precision_recall.k", 1, integer=True)


@functools.lru_cache(maxsize=8)
def _processes(trainer_json: str) -> tuple[int | None, str]:
    """(number of processes, '') Lightning starts for this `trainer` node here, or (None, why it cannot)."""
    node = OmegaConf.create(json.loads(trainer_json))
    quiet = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric")]
    levels = [lg.level for lg in quiet]
    try:
        for lg in quiet:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = instantiate(
                node,
                logger=False,
                callbacks=[],
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
            )
        return int(trainer.world_size), ""
    except Exception as e:  # noqa: BLE001 — reported as a config problem
        cause = _root_cause(e)
        return None, f"{type(cause).__name__}: {cause}"
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)


def processes(cfg: DictConfig) -> tuple[int | None, str]:
    """How many processes Lightning would run `cfg.trainer` with on this machine (devices × nodes,
    `auto` resolved as Lightning does), or (None, why the trainer cannot be built here)."""
    node = OmegaConf.to_container(cfg.trainer, resolve=True)
    return _processes(json.dumps(node, sort_keys=True, default=str))


def _trainer(c: _Lines) -> int | None:
    world, why = processes(c.cfg)
    if world is None:
        c.lines.append(
            f"trainer (accelerator={_show(c.get('trainer.accelerator'))}, "
            f"devices={_show(c.get('trainer.devices'))}): cannot be set up on this machine: {why}"
        )
    return world


def training_problems(cfg: DictConfig, world: int | None = None) -> list[str]:
    """Problems of the training values; with `world` (processes) also the batch split over them."""
    c = _Lines(cfg)
    res = _resolution(c)
    if res is not None:
        _model_resolution(c, res)
    batch = c.number("training.batch_size", 1, integer=True)
    c.number("training.total_kimg", 0, low_open=True)
    c.number("training.raw_kimg", 0, low_open=True, allow=(None,))
    batch_gpu = c.number("training.batch_gpu", 1, integer=True, allow=(None,))
    c.number("dataset.datamodule.batch_size", 1, integer=True)
    c.number("dataset.datamodule.num_workers", 0, integer=True)
    c.number("training.r1_gamma", 0, allow=("auto",))
    for key in ("r1_interval", "pl_interval"):
        c.number(f"training.loss.{key}", 0, integer=True)
    c.number("training.loss.pl_batch_shrink", 1, integer=True)
    c.number("training.loss.pl_weight", 0)
    c.number("training.loss.pl_decay", 0, 1)
    c.number("training.loss.style_mixing", 0, 1)
    for key in ("g_lr", "d_lr"):
        c.number(f"training.optim.{key}", 0, low_open=True, allow=("auto",))
    betas = c.get("training.optim.betas")
    if betas is not None and not (
        OmegaConf.is_list(betas)
        and len(betas) == 2
        and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
    ):
        c.add("training.optim.betas", betas, "must be two numbers in [0, 1)")
    c.number("training.optim.eps", 0, low_open=True)
    c.number("training.ema.kimg", 0, allow=("auto",))
    c.number("training.ema.rampup", 0, allow=(None,))
    if c.get("training.ada.enabled"):
        c.number("training.ada.target", 0, 1)
        c.number("training.ada.interval", 1, integer=True)
        c.number("training.ada.kimg", 0, low_open=True)
        c.number("training.ada.p_init", 0, 1)
    c.number("training.encoder.lr", 0, low_open=True, allow=("auto",))
    for key in ("lambda_w", "lambda_l1", "lambda_lpips"):
        c.number(f"training.encoder.{key}", 0)
    for name, node in (c.get("training.callbacks") or {}).items():
        if OmegaConf.is_dict(node) and "every_kimg" in node:
            c.number(f"training.callbacks.{name}.every_kimg", 0, low_open=True, allow=(None,))
    if c.get("training.callbacks.metrics.every_kimg"):
        _metrics(c)
    if world is not None and batch is not None:
        devices, nodes = _show(c.get("trainer.devices")), _show(c.get("trainer.num_nodes"))
        devices = f"trainer.devices={devices} × trainer.num_nodes={nodes}"
        if batch % world:
            lo, hi = batch // world * world, (batch // world + 1) * world
            c.add(
                "training.batch_size",
                batch,
                f"not divisible by the {world} processes of this run ({devices}); "
                f"use a multiple of {world}, e.g. {lo or hi} or {hi if lo else 2 * hi}",
            )
        elif batch_gpu is not None and (batch // world) % batch_gpu:
            per = batch // world
            c.add(
                "training.batch_gpu",
                batch_gpu,
                f"the per-GPU batch {per} (training.batch_size={batch} / {world} "
                f"process{'es' if world > 1 else ''}) is not a multiple of it",
            )
    return c.lines


def check_config(cfg: DictConfig) -> None:
    """Refuse, before anything is built, training values that cannot work together (ValueError, one line each)."""
    lines = training_problems(cfg)
    if lines:
        raise ValueError("\n".join(lines))


def check_training(cfg: DictConfig, encoder: bool = False) -> list[str]:
    """`train`: training values, the networks' resolution, the batch over the processes (and the
    encoder's LPIPS when `encoder` or `training.encoder.enabled`)."""
    c = _Lines(cfg)
    world = _trainer(c)
    init = c.get("training.init_from")
    if init and not Path(str(init)).expanduser().exists():
        c.lines.append(f"training.init_from={init}: no such checkpoint, run directory or .pkl")
    lam = c.get("training.encoder.lambda_lpips")
    if (encoder or c.get("training.encoder.enabled")) and isinstance(lam, (int, float)) and lam > 0:
        _lpips(c, "training.encoder.lpips", _int_or_none(c.get("dataset.resolution")))
    if encoder or c.get("training.encoder.enabled"):
        _encoder_start(c, raw=encoder)
    return c.lines + training_problems(cfg, world)


def _encoder_start(c: _Lines, raw: bool) -> None:
    """`training.encoder.start_kimg` below the run's length (train_raw's with `raw`): else E never trains."""
    start = c.number("training.encoder.start_kimg", 0, allow=(None,))
    key = "training.raw_kimg" if raw and c.get("training.raw_kimg") is not None else "training.total_kimg"
    length = c.get(key)
    if isinstance(start, (int, float)) and isinstance(length, (int, float)) and 0 < length <= start:
        c.add(
            "training.encoder.start_kimg", start, f"must be below {key}={length}, or the encoder never trains"
        )


def check_train(cfg: DictConfig) -> list[str]:
    """`train`: `check_training`, and the clusters it trains on (`dataset.cluster_subset`)."""
    from sdstylegan.cluster_bench.subset import subset_problems

    return check_training(cfg) + subset_problems(cfg)


def check_train_raw(cfg: DictConfig) -> list[str]:
    """`train_raw`: `check_training` with the SDIP encoder, which is always trained there."""
    return check_training(cfg, encoder=True)


def check_crop(cfg: DictConfig) -> list[str]:
    """`crop`: detector loader and crop settings, output resolution, the trainer it predicts with."""
    from sdstylegan.detect.crop import CropPolicy
    from sdstylegan.detect.crop_writer import resolve_threads

    c = _Lines(cfg)
    c.number("dataset.resolution", 1, integer=True)
    c.number("detector.batch_size", 1, integer=True)
    c.number("detector.num_workers", 0, integer=True)
    c.number("detector.max_side", 1, integer=True, allow=(None,))
    c.number("detector.eps", 0, low_open=True)
    c.number("detector.crop.min_box_side", 0, integer=True)
    c.number("detector.picture.num_images", 0, integer=True)
    try:
        resolve_threads(c.get("detector.crop_threads"))
    except ValueError as e:
        c.lines.append(str(e))
    crop = c.get("detector.crop")
    if crop is not None:
        try:
            CropPolicy(**crop)
        except (TypeError, ValueError) as e:
            c.lines.append(f"detector.crop: {e}")
    _trainer(c)
    return c.lines


def check_self_filter(cfg: DictConfig) -> list[str]:
    """`self_filter`: threshold start, steps and floors, batch sizes."""
    c = _Lines(cfg)
    c.number("dataset.resolution", 1, integer=True)
    c.number("filtering.theta", 0, low_open=True, allow=(None,))
    c.number("filtering.theta_step", 0, low_open=True, allow=(None,))
    c.number("filtering.step_fraction", 0, 1, low_open=True)
    c.number("filtering.max_steps", 0, integer=True)
    c.number("filtering.min_kept", 0, integer=True, allow=(None,))
    c.number("filtering.min_kept_fraction", 0, 1, allow=(None,))
    c.number("filtering.batch_size", 1, integer=True)
    c.number("filtering.grid_size", 0, integer=True)
    c.number("filtering.histogram_bins", 1, integer=True)
    c.choice("filtering.fid_space", ("inception", "dino"))
    _lpips(c, "metrics.lpips", _int_or_none(c.get("dataset.resolution")))
    return c.lines


def check_cluster(cfg: DictConfig) -> list[str]:
    """`cluster`: KMeans sizes, truncation ψ, distance, batch sizes."""
    from sdstylegan.distill.truncation import DISTANCES

    c = _Lines(cfg)
    num = c.number("clustering.num_samples", 1, integer=True)
    k = c.number("clustering.num_clusters", 1, integer=True)
    if num is not None and k is not None and k > num:
        c.add("clustering.num_clusters", k, f"more centres than clustering.num_samples={num}")
    c.number("clustering.max_iter", 1, integer=True)
    c.choice("clustering.init", ("random",))
    c.number("clustering.n_init", 1, integer=True)
    gen = c.get("clustering.generator")
    if gen and not Path(str(gen)).expanduser().is_file():
        c.lines.append(f"clustering.generator={gen}: no such checkpoint or .pkl")
    c.number("clustering.psi", 0)
    c.choice("clustering.distance", DISTANCES)
    lpips_res = c.number("clustering.lpips_resolution", 1, integer=True, allow=(None,))
    if c.get("clustering.distance") == "lpips" or c.get("clustering.assign_real"):
        res = _int_or_none(c.get("dataset.resolution"))
        _lpips(c, "metrics.lpips", min(res, lpips_res) if res and lpips_res else res)
    c.number("clustering.batch_size", 1, integer=True)
    c.number("clustering.grid_samples", 1, integer=True)
    return c.lines


def check_evaluate(cfg: DictConfig) -> list[str]:
    """`evaluate`: metric names, sample counts, batch size, ψ."""
    c = _Lines(cfg)
    _metrics(c)
    return c.lines


def check_demo_data(cfg: DictConfig) -> list[str]:
    """`demo_data`: image count, outlier share, render size."""
    c = _Lines(cfg)
    c.number("dataset.num_images", 1, integer=True)
    c.number("dataset.outlier_fraction", 0, 1)
    key = "dataset.image_size" if c.get("dataset.image_size") is not None else "dataset.resolution"
    c.number(key, DEMO_MIN_RESOLUTION, integer=True)
    c.number("dataset.num_workers", 0, integer=True)
    try:  # subject_scale, clutter, backdrop, no_subject, grain: DemoStyle knows their ranges
        from sdstylegan.data.demo import DemoStyle

        def given(key: str, default: Any) -> Any:
            value = c.get(f"dataset.{key}")
            return default if value is None else value

        DemoStyle(
            tuple(given("subject_scale", DemoStyle.subject_scale)),
            given("clutter", DemoStyle.clutter),
            given("backdrop", DemoStyle.backdrop),
            given("no_subject", DemoStyle.no_subject),
            given("grain", DemoStyle.grain),
        ).check()
    except (TypeError, ValueError) as e:
        c.lines.append(str(e))
    return c.lines


def check_ingest(cfg: DictConfig) -> list[str]:
    """`ingest`: the photo folder exists; size limits."""
    c = _Lines(cfg)
    path = c.get("dataset.path")
    if path is None or path == "???":
        c.add(
            "dataset.path", path, "not set: name the folder of your photos, e.g. dataset.path=/data/my_photos"
        )
    elif not Path(str(path)).expanduser().is_dir():
        c.add("dataset.path", path, "no such folder")
    c.number("dataset.min_size", 1, integer=True)
    c.number("dataset.max_pixels", 1, integer=True)
    return c.lines

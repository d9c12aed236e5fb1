"""StyleGAN2Module: the StyleGAN2-ADA training step as a LightningModule (manual optimisation).

Per minibatch (total `batch_size` images over all ranks, split into rounds of `batch_gpu` images per
forward pass so the total batch holds on fewer GPUs): Gmain → Greg (every pl_interval) → Dmain →
Dreg (every r1_interval), each phase one optimiser step; then G_ema, the image counter and ADA's p
are updated. With the SDIP encoder on, its terms join Gmain and E has its own Adam (from
`encoder.start_kimg` on; before it G and D train as a plain GAN).

Networks come from the model config (`generator`, `discriminator`, `encoder` `_target_` nodes);
that config, resolved to plain data, is stored in every checkpoint so `checkpoint.load_generator`
rebuilds G without pickled classes. Checkpoints also hold the counters (images, minibatches), ADA
state, pl_mean (all buffers), per-rank RNG states and the W&B run id (see `on_save_checkpoint`).
"""

from __future__ import annotations

import contextlib
import copy
import random
import time
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from pytorch_lightning.strategies import ParallelStrategy

from sdstylegan.training.ada import AdaController
from sdstylegan.training.ema import ema_beta, update_ema
from sdstylegan.training.loss import LossConfig, StyleGAN2Loss, auto_r1_gamma, lazy_adam
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

CHECKPOINT_FORMAT = 1


def _auto(value: Any, default: float) -> float:
    return float(default) if value in (None, "auto") else float(value)


def sanitize_gradients(module: torch.nn.Module) -> None:
    """NaN → 0 and ±inf → ±1e5 in every gradient before the step, as NVlabs' training loop does: one bad
    value (an fp16 overflow in one round) then cannot poison the weights and the Adam moments."""
    for p in module.parameters():
        if p.grad is not None:
            torch.nan_to_num_(p.grad, nan=0.0, posinf=1e5, neginf=-1e5)


class StyleGAN2Module(pl.LightningModule):
    """G, D, G_ema (and E) with the StyleGAN2-ADA recipe; `model`/`training` are plain config dicts."""

    def __init__(self, model: dict[str, Any], training: dict[str, Any], encoder: bool = False):
        super().__init__()
        self.automatic_optimization = False
        self.model_cfg, self.training_cfg, self.use_encoder = model, training, bool(encoder)
        self.G = instantiate(model["generator"])
        self.D = instantiate(model["discriminator"])
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.E = instantiate(model["encoder"]) if self.use_encoder else None
        self.resolution = int(self.G.img_resolution)
        t = training
        self.batch_size = int(t["batch_size"])
        self.batch_gpu = t.get("batch_gpu")
        self.total_kimg = float(t["total_kimg"])
        loss_cfg = dict(t.get("loss") or {})
        loss_cfg["r1_gamma"] = _auto(t.get("r1_gamma"), auto_r1_gamma(self.resolution, self.batch_size))
        enc = dict(t.get("encoder") or {})
        self.encoder_updates_g = bool(enc.get("update_generator", True))
        self.encoder_start_kimg = float(enc.get("start_kimg") or 0)  # E (and its terms) join from here
        for key in ("lambda_w", "lambda_l1", "lambda_lpips"):
            if key in enc:
                loss_cfg[key] = enc[key]
        lpips = None
        if self.use_encoder and float(loss_cfg.get("lambda_lpips", 0.1)) > 0:
            lpips = instantiate(enc["lpips"]).eval().requires_grad_(False)
        self.loss = StyleGAN2Loss(LossConfig(**loss_cfg), lpips=lpips)
        ema = t.get("ema") or {}
        self.ema_kimg = _auto(ema.get("kimg"), self.batch_size * 10 / 32)  # `auto`: batch·10/32
        self.ema_rampup = ema.get("rampup", 0.05)
        ada = t.get("ada") or {}
        self.augment = instantiate(ada["pipe"]) if ada.get("enabled") else None
        self.ada = (
            AdaController(
                float(ada.get("target", 0.6)),
                int(ada.get("interval", 4)),
                float(ada.get("kimg", 500)),
                float(ada.get("p_init", 0.0)),
            )
            if self.augment
            else None
        )
        if self.augment is not None:
            self.augment.p.fill_(float(self.ada.p))
        self.register_buffer("cur_nimg", torch.zeros([], dtype=torch.long))
        self.register_buffer("minibatches", torch.zeros([], dtype=torch.long))
        self.wandb_run_id: str | None = None
        self._t_last: float | None = None
        self._speed: float | None = None

    # ------------------------------------------------------------------ bookkeeping
    @property
    def kimg(self) -> float:
        return int(self.cur_nimg) / 1000

    @property
    def rounds(self) -> int:
        """Forward passes per phase per rank (gradient accumulation)."""
        per_rank = self.batch_size // self.trainer.world_size
        return per_rank // (int(self.batch_gpu) if self.batch_gpu else per_rank)

    def setup(self, stage: str) -> None:
        world = self.trainer.world_size
        if self.batch_size % world:
            raise ValueError(f"training.batch_size={self.batch_size} is not divisible by {world} processes")
        per_rank = self.batch_size // world
        if self.batch_gpu and (per_rank % int(self.batch_gpu)):
            raise ValueError(
                f"per-GPU batch {per_rank} (training.batch_size / {world} processes) is not a "
                f"multiple of training.batch_gpu={self.batch_gpu}"
            )

    def on_fit_start(self) -> None:  # the frozen LPIPS is no submodule: follow the module to its device
        if self.loss.lpips is not None:
            self.loss.lpips.to(self.device)

    def _reduce_sum(self, x: torch.Tensor) -> torch.Tensor:
        return self.trainer.strategy.reduce(x, reduce_op="sum") if self.trainer.world_size > 1 else x

    def _reduce_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.trainer.strategy.reduce(x, reduce_op="mean") if self.trainer.world_size > 1 else x

    # ------------------------------------------------------------------ step
    def _require_grad(self, modules: list[torch.nn.Module]) -> None:
        """Gradients for the networks a phase trains, none for the others."""
        for m in (self.G, self.D, self.E):
            if m is not None:
                m.requires_grad_(any(m is x for x in modules))

    def _phase(
        self, name: str, opts: list, modules: list[torch.nn.Module], chunks: list[torch.Tensor], fn
    ) -> dict[str, torch.Tensor]:
        """Run one phase: zero grads, accumulate `fn(real_chunk, z)` over rounds, step `opts`."""
        self._require_grad(modules)
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        stats: dict[str, torch.Tensor] = {}
        for real in chunks:
            z = torch.randn(real.shape[0], self.G.z_dim, device=real.device)
            out = fn(real, z)
            loss = out["loss"]
            if not torch.isfinite(loss.detach()).all():
                raise FloatingPointError(
                    f"non-finite {name} loss ({float(loss.detach())}) at kimg {self.kimg:.3f}; training stopped. "
                    f"The last good checkpoint is {self.trainer.default_root_dir}/checkpoints/last.ckpt "
                    f"(untouched); lower the learning rate or r1_gamma, or use trainer.precision=32-true."
                )
            # Gradients are all-reduced once per phase, on its last round (NVlabs syncs once per phase too).
            with self._no_sync(last=real is chunks[-1]):
                self.manual_backward(loss / len(chunks))
            for k, v in out.items():
                if v.ndim == 0:
                    stats[k] = stats.get(k, 0) + v.detach().float() / len(chunks)
                else:
                    stats[k] = v if k not in stats else torch.cat([stats[k], v])
        for m in modules:
            sanitize_gradients(m)
        for opt in opts:
            opt.step()
        return stats

    def _no_sync(self, last: bool) -> Any:
        """Skip DDP's gradient all-reduce on every accumulation round but the last of a phase."""
        strategy = self.trainer.strategy
        if last or not isinstance(strategy, ParallelStrategy) or self.trainer.world_size == 1:
            return contextlib.nullcontext()
        return strategy.block_backward_sync()

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        real = batch
        if real.ndim != 4 or real.shape[-1] != self.resolution or real.shape[-2] != self.resolution:
            raise ValueError(
                f"batch of shape {tuple(real.shape)} does not match the generator's resolution "
                f"{self.resolution}: set dataset.resolution and the model preset to the same size"
            )
        opts = self.optimizers()
        opt_g, opt_d = opts[0], opts[1]
        opt_e = opts[2] if self.E is not None else None
        chunks = list(real.split(real.shape[0] // self.rounds))
        step = int(self.minibatches)
        G, D, E, aug = self.G, self.D, self.E, self.augment
        logs: dict[str, torch.Tensor] = {}

        e_on = E is not None and self.kimg >= self.encoder_start_kimg  # before start_kimg: a plain GAN
        joint = e_on and self.encoder_updates_g  # reconstruction terms also train G

        def g_main(x, z):
            out = self.loss.g_main(G, D, z, aug)
            if joint:
                enc = self.loss.encoder_terms(G, E, z, x)
                out = {
                    **out,
                    **{f"enc_{k}": v for k, v in enc.items() if k != "loss"},
                    "loss": out["loss"] + enc["loss"],
                }
            return out

        g_opts = [opt_g] + ([opt_e] if joint else [])
        g_mods = [G] + ([E] if joint else [])
        s = self._phase("Gmain", g_opts, g_mods, chunks, g_main)
        logs["train/loss_g"] = s["loss"]
        if e_on and not joint:  # E alone inverts the current G (G frozen in this phase)
            e = self._phase("Emain", [opt_e], [E], chunks, lambda x, z: self.loss.encoder_terms(G, E, z, x))
            s = {**s, **{f"enc_{k}": v for k, v in e.items()}}
        for k in ("enc_loss_w", "enc_l1", "enc_lpips"):
            if k in s:
                logs[f"train/{k[4:]}"] = s[k]
        if self.loss.cfg.g_reg_due(step):
            s = self._phase(
                "Greg", [opt_g], [G], chunks, lambda x, z: self.loss.g_reg(G, z, self._reduce_mean)
            )
            logs["train/pl"], logs["train/pl_mean"] = s["pl_penalty"], s["pl_mean"]
        s = self._phase("Dmain", [opt_d], [D], chunks, lambda x, z: self.loss.d_main(G, D, z, x, aug))
        logs["train/loss_d"] = s["loss"]
        logs["train/real_score"], logs["train/fake_score"] = s["real_score"], s["fake_score"]
        if self.ada is not None:
            self.ada.accumulate(s["real_logits"], self._reduce_sum)
        if self.loss.cfg.d_reg_due(step):
            s = self._phase("Dreg", [opt_d], [D], chunks, lambda x, z: self.loss.d_reg(D, x, aug))
            logs["train/r1"] = s["r1_penalty"]

        update_ema(
            self.G_ema, G, ema_beta(self.batch_size, int(self.cur_nimg), self.ema_kimg, self.ema_rampup)
        )
        self.cur_nimg += self.batch_size
        self.minibatches += 1
        if self.ada is not None:
            if self.ada.step(self.batch_size):
                self.augment.p.copy_(self.ada.p)
            logs["train/ada_p"] = self.ada.p.detach().clone()
            if not torch.isnan(self.ada.rt):
                logs["train/ada_rt"] = self.ada.rt.detach().float().clone()
        self._log_step(logs)
        if self.kimg >= self.total_kimg:
            self.trainer.should_stop = True

    def _log_step(self, logs: dict[str, torch.Tensor]) -> None:
        now = time.perf_counter()
        if self._t_last is not None:
            rate = self.batch_size / max(now - self._t_last, 1e-9)
            self._speed = rate if self._speed is None else 0.9 * self._speed + 0.1 * rate
        self._t_last = now
        bar = {"train/kimg": float(self.kimg), "train/ada_p": logs.pop("train/ada_p", None)}
        if self._speed:
            bar["train/img_per_s"], bar["train/s_per_kimg"] = self._speed, 1000 / self._speed
        bar["train/loss_g"], bar["train/loss_d"] = logs.pop("train/loss_g"), logs.pop("train/loss_d")
        self.log_dict(
            {k: v for k, v in bar.items() if v is not None}, prog_bar=True, on_step=True, on_epoch=False
        )
        # "step" sets the x-axis of these rows (Lightning's rule): minibatches, as for every logged value
        self.log_dict({**logs, "step": float(self.log_step)}, prog_bar=False, on_step=True, on_epoch=False)

    @property
    def log_step(self) -> int:
        """The x-axis of every logged value (losses, metrics, sample grids): minibatches trained so far."""
        return int(self.minibatches)

    # ------------------------------------------------------------------ optimisers
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        o = self.training_cfg.get("optim") or {}
        betas = tuple(o.get("betas", (0.0, 0.99)))
        eps = float(o.get("eps", 1e-8))
        auto_lr = 0.002 if self.resolution >= 1024 else 0.0025  # `auto` preset
        c = self.loss.cfg
        g_lr, g_betas = lazy_adam(
            _auto(o.get("g_lr"), auto_lr), betas, c.pl_interval if c.pl_weight > 0 else 0
        )
        d_lr, d_betas = lazy_adam(
            _auto(o.get("d_lr"), auto_lr), betas, c.r1_interval if c.r1_gamma > 0 else 0
        )
        opts = [
            torch.optim.Adam(self.G.parameters(), lr=g_lr, betas=g_betas, eps=eps),
            torch.optim.Adam(self.D.parameters(), lr=d_lr, betas=d_betas, eps=eps),
        ]
        if self.E is not None:
            e_lr = _auto((self.training_cfg.get("encoder") or {}).get("lr"), auto_lr)
            opts.append(torch.optim.Adam(self.E.parameters(), lr=e_lr, betas=betas, eps=eps))
        return opts

    # ------------------------------------------------------------------ checkpoints
    def _rng_state(self) -> dict[str, Any]:
        """Torch RNG state of every rank (gathered), plus this process's Python/NumPy state."""
        cpu = torch.get_rng_state()
        states = {"torch": cpu.unsqueeze(0)}
        if torch.cuda.is_available() and self.device.type == "cuda":
            states["cuda"] = torch.cuda.get_rng_state(self.device).unsqueeze(0)
        if self.trainer is not None and self.trainer.world_size > 1:
            states = {
                k: self.all_gather(v.to(self.device)).cpu().reshape(self.trainer.world_size, -1)
                for k, v in states.items()
            }
        np_state = np.random.get_state()
        states["numpy"] = {
            "key": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        }
        states["python"] = random.getstate()
        return states

    def _set_rng_state(self, states: dict[str, Any]) -> None:
        rank = self.trainer.global_rank if self.trainer is not None else 0
        if states["torch"].shape[0] <= rank:
            log.warning(
                "checkpoint holds RNG states for %d ranks, this is rank %d: re-seeding it instead",
                states["torch"].shape[0],
                rank,
            )
            torch.manual_seed(int(self.cur_nimg) + rank)
            return
        torch.set_rng_state(states["torch"][rank].to(torch.uint8).cpu())
        if "cuda" in states and torch.cuda.is_available() and self.device.type == "cuda":
            torch.cuda.set_rng_state(states["cuda"][rank].to(torch.uint8).cpu(), self.device)
        n = states["numpy"]
        np.random.set_state(
            ("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
        )
        py = states["python"]
        random.setstate((py[0], tuple(py[1]), py[2]))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["sdstylegan"] = {
            "format": CHECKPOINT_FORMAT,
            "model": self.model_cfg,
            "training": self.training_cfg,
            "encoder": self.use_encoder,
            "kimg": self.kimg,
            "minibatches": int(self.minibatches),
            "rng": self._rng_state(),
            "wandb_run_id": self.wandb_run_id,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = checkpoint.get("sdstylegan")
        if meta is None:
            raise ValueError(
                "checkpoint was not written by sdstylegan's StyleGAN2Module (no 'sdstylegan' entry)"
            )
        if meta["model"] != self.model_cfg:
            raise ValueError(
                "checkpoint's model config differs from the current one; resume with the same "
                "model preset and dataset.resolution (or start a new run)"
            )
        self.wandb_run_id = meta.get("wandb_run_id")
        self._set_rng_state(meta["rng"])
        dm = self.trainer.datamodule if self.trainer is not None else None
        if dm is not None and hasattr(dm, "start_at"):
            dm.start_at(int(meta["minibatches"]))
        log.info("resuming at kimg %.3f (minibatch %d)", meta["kimg"], meta["minibatches"])

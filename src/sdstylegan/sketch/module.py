"""SketchModule: the StyleGAN2 training module (`training.module`) turned into Sketch Your Own GAN's fine-tuning.

Same machinery as training — phases with gradient accumulation, G_ema, kimg counters, checkpoints holding
the model config, RNG states and data position, so a killed fine-tuning resumes exactly and
`load_generator` reads its checkpoints — with other networks and phases:

- `D` is D_image (a copy of the pretrained D); `D_sketch` another copy that sees 1-channel sketches.
- Only `sketch.params` train: `mapping` (G's mapping network; GANSketching's `--optim_param_g style`) or
  `w_shift` (one vector added to every w). Every other tensor of G stays bit-identical.
- With `w_shift`, G itself never changes; G_ema is G with the averaged shift folded into the biases of the
  synthesis network's affine layers (exact: they are linear in w), so G_ema stays a plain Generator that
  `load_generator` and `python -m sdstylegan.generate` use as is.
- The frozen sketcher F is no submodule: it is not trained and not stored in checkpoints.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from sdstylegan.models.layers import FullyConnected
from sdstylegan.sketch.loss import SketchDiscriminator, SketchLoss
from sdstylegan.training.ema import ema_beta, update_ema
from sdstylegan.training.loss import lazy_adam
from sdstylegan.training.module import StyleGAN2Module

TRAINABLE = ("mapping", "w_shift")


class ShiftedGenerator:
    """A view of G whose mapping adds `shift` to every w (for the losses; holds no weights of its own)."""

    def __init__(self, G: nn.Module, shift: torch.Tensor):
        self.G, self.shift = G, shift
        self.synthesis, self.z_dim = G.synthesis, G.z_dim

    def mapping(self, z: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.G.mapping(z, **kwargs) + self.shift.to(torch.float32)


@torch.no_grad()
def fold_w_shift(target: nn.Module, source: nn.Module, shift: torch.Tensor) -> None:
    """target ← source with `shift` added to w inside every synthesis affine layer: target(z) = source(w + shift)."""
    target.load_state_dict(source.state_dict())
    for m in target.synthesis.modules():
        fc = getattr(m, "affine", None)
        if isinstance(fc, FullyConnected) and fc.bias is not None:
            fc.bias.add_((fc.weight.float() * fc.weight_gain) @ shift.float() / fc.bias_gain)


class SketchModule(StyleGAN2Module):
    """G (only `params` trained), G_ema, D_image (`D`), D_sketch and a frozen sketcher F."""

    def __init__(
        self,
        model: dict[str, Any],
        training: dict[str, Any],
        sketcher: nn.Module,
    ):
        super().__init__(model, training, encoder=False)
        cfg = dict(training.get("sketch") or {})
        self.params = str(cfg.get("params", "mapping"))
        if self.params not in TRAINABLE:
            raise ValueError(f"sketch.params must be one of {list(TRAINABLE)}, got {self.params!r}")
        self.D_sketch = SketchDiscriminator(copy.deepcopy(self.D))
        object.__setattr__(self, "sketcher", sketcher)  # frozen; not a submodule, not in checkpoints
        self.w_shift: nn.Parameter | None = None
        if self.params == "w_shift":
            w_dim = int(self.G.mapping.w_dim)
            self.w_shift = nn.Parameter(torch.zeros(w_dim))
            self.register_buffer("w_shift_ema", torch.zeros(w_dim))
        for i, p in enumerate(self.trained_parameters()):  # θ₀ of the weight regularisation (saved, resumed)
            self.register_buffer(f"theta0_{i}", p.detach().clone())
        self.sketch_loss = SketchLoss(
            self.loss,
            sketcher,
            lambda_image=float(cfg.get("lambda_image", 0.7)),
            lambda_weight=float(cfg.get("lambda_weight", 0.0)),
            translation=float(cfg.get("translation", 0.125)),
            update_w_avg=self.params == "mapping",
        )

    # ------------------------------------------------------------------ parameters
    def trained_parameters(self) -> list[nn.Parameter]:
        """The tensors fine-tuning changes: G's mapping network, or the W shift."""
        return [self.w_shift] if self.w_shift is not None else list(self.G.mapping.parameters())

    def initial_parameters(self) -> list[torch.Tensor]:
        return [getattr(self, f"theta0_{i}") for i in range(len(self.trained_parameters()))]

    @torch.no_grad()
    def start_from_pretrained(self) -> None:
        """After the pretrained G, G_ema, D are loaded: G ← G_ema, D_sketch ← D, θ₀ ← the trained tensors."""
        self.G.load_state_dict(self.G_ema.state_dict())
        self.D_sketch.D.load_state_dict(self.D.state_dict())
        for p0, p in zip(self.initial_parameters(), self.trained_parameters(), strict=True):
            p0.copy_(p)

    def generator_view(self) -> Any:
        return self.G if self.w_shift is None else ShiftedGenerator(self.G, self.w_shift)

    def _require_grad(self, modules: list[nn.Module]) -> None:
        for m in (self.D, self.D_sketch):
            m.requires_grad_(any(m is x for x in modules))
        self.G.requires_grad_(False)
        train_g = any(m is self.G for m in modules)
        for p in self.trained_parameters():
            p.requires_grad_(train_g)

    # ------------------------------------------------------------------ step
    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        real, sketch = batch
        r = self.resolution
        if tuple(real.shape[1:]) != (3, r, r) or tuple(sketch.shape[1:]) != (1, r, r):
            raise ValueError(
                f"images {tuple(real.shape)} and sketches {tuple(sketch.shape)} must be [N, 3|1, {r}, {r}]"
            )
        opt_g, opt_image, opt_sketch = self.optimizers()
        both = torch.cat([real, sketch], dim=1)  # one tensor per round: RGB + sketch channel
        chunks = list(both.split(both.shape[0] // self.rounds))
        G, L, D_image, D_sketch = self.generator_view(), self.sketch_loss, self.D, self.D_sketch
        trained, initial = self.trained_parameters(), self.initial_parameters()
        logs: dict[str, torch.Tensor] = {}

        s = self._phase(
            "Gmain",
            [opt_g],
            [self.G],
            chunks,
            lambda x, z: L.g_main(G, D_image, D_sketch, z, trained, initial),
        )
        logs["train/loss_g"] = s["loss"]
        for k in ("loss_sketch", "loss_image", "weight_reg"):
            if k in s:
                logs[f"train/{k}"] = s[k]
        s = self._phase(
            "Dmain",
            [opt_image, opt_sketch],
            [D_image, D_sketch],
            chunks,
            lambda x, z: L.d_main(G, D_image, D_sketch, z, x[:, :3], x[:, 3:]),
        )
        logs["train/loss_d"] = s["loss"]
        for k in ("d_sketch", "d_image", "sketch_real_score", "sketch_fake_score"):
            logs[f"train/{k}"] = s[k]
        if self.loss.cfg.d_reg_due(int(self.minibatches)):
            s = self._phase(
                "Dreg",
                [opt_image, opt_sketch],
                [D_image, D_sketch],
                chunks,
                lambda x, z: L.d_reg(D_image, D_sketch, x[:, :3], x[:, 3:]),
            )
            logs["train/r1"], logs["train/r1_sketch"] = s["r1_image"], s["r1_sketch"]

        beta = ema_beta(self.batch_size, int(self.cur_nimg), self.ema_kimg, self.ema_rampup)
        if self.w_shift is None:
            update_ema(self.G_ema, self.G, beta)
        else:
            self.w_shift_ema.copy_(self.w_shift.detach().lerp(self.w_shift_ema, beta))
            fold_w_shift(self.G_ema, self.G, self.w_shift_ema)
        self.cur_nimg += self.batch_size
        self.minibatches += 1
        self._log_step(logs)
        if self.kimg >= self.total_kimg:
            self.trainer.should_stop = True

    # ------------------------------------------------------------------ optimisers
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Adam for the trained tensors of G, D_image and D_sketch (both D with the lazy-R1 correction)."""
        o = self.training_cfg.get("optim") or {}
        betas = tuple(o.get("betas", (0.0, 0.99)))
        eps = float(o.get("eps", 1e-8))
        c = self.loss.cfg
        d_lr, d_betas = lazy_adam(float(o.get("d_lr", 0.002)), betas, c.r1_interval if c.r1_gamma > 0 else 0)
        return [
            torch.optim.Adam(self.trained_parameters(), lr=float(o.get("g_lr", 0.002)), betas=betas, eps=eps),
            torch.optim.Adam(self.D.parameters(), lr=d_lr, betas=d_betas, eps=eps),
            torch.optim.Adam(self.D_sketch.parameters(), lr=d_lr, betas=d_betas, eps=eps),
        ]

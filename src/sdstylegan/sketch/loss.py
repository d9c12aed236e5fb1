"""Sketch Your Own GAN's losses by phase, on top of the StyleGAN2 loss (`training.loss`).

- Gmain: L = softplus(−D_sketch(T(F(G(z))))) + λ_image·softplus(−D_image(G(z))) + λ_weight·mean|θ − θ₀|,
  with style mixing as in training; F is the frozen photo→sketch network, T DiffAugment's translation.
- Dmain: both discriminators, non-saturating: D_sketch on T(F(G(z))) vs T(user sketches), D_image on G(z)
  vs the original training images.
- Dreg: R1 (γ/2·‖∇D‖², every `r1_interval` minibatches, times the interval) on both, on their real inputs.
The lazy-regularisation Adam correction for both discriminators is made where the optimisers are built
(`training.loss.lazy_adam`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sdstylegan.training.loss import StyleGAN2Loss


def translate(x: torch.Tensor, ratio: float = 0.125, fill: float = 1.0) -> torch.Tensor:
    """DiffAugment translation: shift each image by up to ±ratio of its size (whole pixels), `fill` behind.

    Differentiable with respect to `x`; random offsets from the global torch stream (saved in checkpoints).
    """
    if ratio <= 0:
        return x
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    yy = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row of each output pixel
    xx = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)).unsqueeze(1)
    idx = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    out = x.flatten(2).gather(2, idx).view_as(x)
    return torch.where(inside, out, torch.full_like(out, fill))


class SketchDiscriminator(nn.Module):
    """D_sketch: a copy of the pretrained (RGB) D that sees a 1-channel sketch repeated on R, G and B.

    Repeating the channel is the same as summing the pretrained fromRGB weights over colour, so D starts
    from everything it learned about shapes; no weight is dropped or re-initialised.
    """

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        return self.D(sketch.expand(-1, 3, -1, -1))


class SketchLoss:
    """Phases of sketch fine-tuning for a generator `G`, frozen sketcher `F`, D_image and D_sketch."""

    def __init__(
        self,
        base: StyleGAN2Loss,  # style mixing, R1 γ and interval, float32 mapping
        sketcher: nn.Module,
        lambda_image: float = 0.7,
        lambda_weight: float = 0.0,
        translation: float = 0.125,
        update_w_avg: bool = True,  # Dmain's samples update G's w_avg (off when the mapping is frozen)
    ):
        self.base, self.sketcher, self.update_w_avg = base, sketcher, update_w_avg
        self.lambda_image, self.lambda_weight, self.translation = lambda_image, lambda_weight, translation

    def sketch_logits(self, D_sketch: nn.Module, sketch: torch.Tensor) -> torch.Tensor:
        return D_sketch(translate(sketch, self.translation))

    def g_main(
        self,
        G: nn.Module,
        D_image: nn.Module,
        D_sketch: nn.Module,
        z: torch.Tensor,
        trained: list[torch.Tensor],
        initial: list[torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        img, _ = self.base.generate(G, z)
        sketch_logits = self.sketch_logits(D_sketch, self.sketcher(img))
        loss_sketch = F.softplus(-sketch_logits).mean()
        loss = loss_sketch
        out = {"loss_sketch": loss_sketch.detach()}
        if self.lambda_image > 0:
            loss_image = F.softplus(-D_image(img)).mean()
            loss = loss + self.lambda_image * loss_image
            out["loss_image"] = loss_image.detach()
        if self.lambda_weight > 0:
            reg = torch.cat([(p - p0).abs().flatten() for p, p0 in zip(trained, initial, strict=True)]).mean()
            loss = loss + self.lambda_weight * reg
            out["weight_reg"] = reg.detach()
        out["loss"] = loss
        return out

    def d_main(
        self,
        G: nn.Module,
        D_image: nn.Module,
        D_sketch: nn.Module,
        z: torch.Tensor,
        real: torch.Tensor,
        sketch: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake, _ = self.base.generate(G, z, update_emas=self.update_w_avg)
            fake_sketch = self.sketcher(fake)
        fake_s = self.sketch_logits(D_sketch, fake_sketch)
        real_s = self.sketch_logits(D_sketch, sketch)
        loss_sketch = F.softplus(fake_s).mean() + F.softplus(-real_s).mean()
        fake_i, real_i = D_image(fake), D_image(real)
        loss_image = F.softplus(fake_i).mean() + F.softplus(-real_i).mean()
        return {
            "loss": loss_sketch + loss_image,
            "d_sketch": loss_sketch.detach(),
            "d_image": loss_image.detach(),
            "sketch_real_score": real_s.detach().mean(),
            "sketch_fake_score": fake_s.detach().mean(),
        }

    def d_reg(
        self, D_image: nn.Module, D_sketch: nn.Module, real: torch.Tensor, sketch: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        image = self.base.d_reg(D_image, real, None)
        drawn = self.base.d_reg(D_sketch, sketch, None)
        return {
            "loss": image["loss"] + drawn["loss"],
            "r1_image": image["r1_penalty"],
            "r1_sketch": drawn["r1_penalty"],
        }

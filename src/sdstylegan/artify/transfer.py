"""Patch-matched style transfer (after Deep Painterly Harmonization): optimise the pixels of the result.

Loss = w_content·‖F₄(x) − F₄(content)‖² + w_style·Σ_l ‖G(F_l(x)) − G(M_l)‖² + w_hist·Σ_h ‖F_h(x) − remap‖²
+ w_tv·TV(x), where M_l are the style features rearranged by the conv4_1 patch matches (`losses`),
G a Gram matrix, remap the histogram-matched features. With `normalize_losses` each term is divided by
the larger of its values at the content image and at the rearranged style (the gap the optimisation has
to bridge), so the weights say how much each term matters, whatever the network's scale.
The start image is the matched style patches rearranged by position and upsampled to pixels (`init:
matched`), or the content, or noise. Optimisers: Adam (the artifier) and L-BFGS (the paper).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from sdstylegan.artify.losses import (
    gram,
    histogram_remap,
    match_field,
    propagate,
    rearrange,
    sorted_channels,
    total_variation,
)
from sdstylegan.artify.vgg import VGGFeatures

TERMS = ("content", "style", "histogram", "tv")


@dataclass
class TransferResult:
    image: torch.Tensor  # (1, 3, H, W) in [-1, 1]
    init: torch.Tensor  # the start image
    losses: list[dict[str, float]] = field(default_factory=list)  # weighted terms and total, per logged step
    seconds: float = 0.0
    match_similarity: float = 0.0  # mean cosine of the conv4_1 patch matches


class _Objective:
    """The weighted loss of one content/style pair; targets computed once."""

    def __init__(self, vgg, content, style, match_layer, content_layer, style_layers, hist_layers, weights):
        self.vgg, self.weights = vgg, {k: float(weights.get(k, 0.0)) for k in TERMS}
        self.content_layer, self.style_layers, self.hist_layers = (
            content_layer,
            tuple(style_layers),
            tuple(hist_layers),
        )
        self.layers = tuple(dict.fromkeys([content_layer, match_layer, *style_layers, *hist_layers]))
        with torch.no_grad():
            fc, fs = vgg(content, self.layers), vgg(style, self.layers)
            m_c, m_s = fc[match_layer], fs[match_layer]
            self.field, sim = match_field(m_c, m_s)
            self.similarity = float(sim.mean())

            def matched(shape_hw: tuple[int, int], src: torch.Tensor) -> torch.Tensor:
                pos = propagate(self.field, m_c.shape[-2:], m_s.shape[-1], shape_hw, src.shape[-2:])
                return rearrange(src, pos, shape_hw)

            self.matched = matched
            self.content_target = fc[content_layer]
            targets = {name: matched(fc[name].shape[-2:], fs[name]) for name in {*style_layers, *hist_layers}}
            self.grams = {name: gram(targets[name]) for name in style_layers}
            self.hist_targets = {name: sorted_channels(targets[name]) for name in hist_layers}
        self.scale = {k: 1.0 for k in TERMS}

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.vgg(x, self.layers)
        zero = x.new_zeros(())
        out = {
            "content": (f[self.content_layer] - self.content_target).square().mean(),
            "style": sum((((gram(f[n]) - self.grams[n]).square().mean()) for n in self.style_layers), zero),
            "histogram": sum(
                (
                    (f[n] - histogram_remap(f[n].detach(), self.hist_targets[n])).square().mean()
                    for n in self.hist_layers
                ),
                zero,
            ),
            "tv": total_variation(x),
        }
        return {k: v * self.weights[k] / self.scale[k] for k, v in out.items()}


def initial_image(
    init: str, content: torch.Tensor, style: torch.Tensor, objective: _Objective, seed: int
) -> torch.Tensor:
    """The start: `matched` (style pixels rearranged by the patch matches), `content`, or `noise`."""
    if init == "matched":
        return objective.matched(content.shape[-2:], style).clone()
    if init == "content":
        return content.clone()
    if init == "noise":
        g = torch.Generator().manual_seed(int(seed))
        return (torch.rand(content.shape, generator=g) * 2 - 1).to(content)
    raise ValueError(f"artify.transfer.init must be matched | content | noise, got {init!r}")


def transfer(
    vgg: VGGFeatures,
    content: torch.Tensor,  # (1, 3, H, W) in [-1, 1]
    style: torch.Tensor,  # (1, 3, Hs, Ws) in [-1, 1]
    weights: Mapping[str, float],  # content, style, histogram, tv
    match_layer: str = "conv4_1",
    content_layer: str = "conv4_1",
    style_layers: Sequence[str] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1"),
    hist_layers: Sequence[str] = ("conv1_1", "conv4_1"),
    optimizer: str = "adam",  # adam | lbfgs
    iterations: int = 300,
    lr: float = 0.01,  # Adam step on pixels in [-1, 1]; L-BFGS uses lr 1
    init: str = "matched",
    normalize_losses: bool = True,
    log_every: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> TransferResult:
    """Optimise the result image; returns it with the loss history (weighted terms, every `log_every` steps)."""
    if content.ndim != 4 or content.shape[:2] != (1, 3) or style.ndim != 4 or style.shape[:2] != (1, 3):
        raise ValueError(
            f"transfer: content and style must be (1, 3, H, W), got {tuple(content.shape)}, {tuple(style.shape)}"
        )
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"artify.transfer.optimizer must be adam | lbfgs, got {optimizer!r}")
    if int(iterations) < 1:
        raise ValueError(f"artify.transfer.iterations must be ≥ 1, got {iterations}")
    t0 = time.perf_counter()
    obj = _Objective(vgg, content, style, match_layer, content_layer, style_layers, hist_layers, weights)
    x0 = initial_image(init, content, style, obj, seed)
    if (
        normalize_losses
    ):  # unit of each term: the larger of its values at the content and at the matched style
        with torch.no_grad():
            ends = [obj.terms(content), obj.terms(obj.matched(content.shape[-2:], style))]
        for k in TERMS:
            gap = max(float(e[k]) for e in ends) / obj.weights[k] if obj.weights[k] else 0.0
            obj.scale[k] = gap if gap > 0 else 1.0
    x = x0.clone(memory_format=torch.contiguous_format).requires_grad_(True)
    history: list[dict[str, float]] = []

    def record(step: int, terms: dict[str, torch.Tensor]) -> None:
        row = {k: float(v.detach()) for k, v in terms.items()}
        history.append({"step": step, **row, "total": sum(row.values())})

    bar = tqdm(
        total=int(iterations), desc="artify transfer", unit="it", disable=not progress, dynamic_ncols=True
    )
    if optimizer == "adam":
        opt = torch.optim.Adam([x], lr=float(lr))
        for step in range(int(iterations)):
            opt.zero_grad(set_to_none=True)
            terms = obj.terms(x)
            sum(terms.values()).backward()
            if step % log_every == 0:
                record(step, terms)
            opt.step()
            with torch.no_grad():
                x.clamp_(-1, 1)
            bar.update(1)
    else:
        opt = torch.optim.LBFGS(
            [x], lr=1.0, max_iter=int(iterations), history_size=20, line_search_fn="strong_wolfe"
        )
        calls = [0]

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            terms = obj.terms(x)
            loss = sum(terms.values())
            loss.backward()
            if calls[0] % log_every == 0:
                record(calls[0], terms)
            calls[0] += 1
            bar.update(1)
            return loss

        opt.step(closure)
        with torch.no_grad():
            x.clamp_(-1, 1)
    bar.close()
    with torch.no_grad():
        record(int(iterations), obj.terms(x))
    return TransferResult(
        x.detach().clamp(-1, 1), x0.detach(), history, time.perf_counter() - t0, obj.similarity
    )

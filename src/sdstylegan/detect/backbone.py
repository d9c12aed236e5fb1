"""Token features for TokenCut: keys of a DINO ViT's last attention block, or raw pixel patches.

`ViTKeys` (the method): a timm ViT (DINO ViT-S/16 default; S/8, B/16, B/8 by `detector.arch`); the
keys of the last block's qkv projection, heads concatenated (384-d for ViT-S), CLS dropped. Any input
size works. For DINO weights (`*.dino` archs) the position embedding is resized exactly as DINO's own
`interpolate_pos_encoding` does (bicubic, scale factor (n + 0.1)/√N, no antialiasing; `dino_pos_embed`),
so keys equal those of the code TokenCut ran; other archs use timm's resampling (antialiased bicubic to
the target size), which differs from DINO's by up to ~0.1 at non-224 sizes.
`PixelTokens` (baseline, tests): each token is its patch's pixels minus the image's mean patch — a weak
hand-made feature, honest about what it is, never presented as DINO.

Both take ImageNet-normalised images whose sides are multiples of `patch_size` (see `preprocess`)
and return tokens (B, h·w, C) plus the grid (h, w).

Weights (`detector.weights`): a timm/hub name (downloaded to the cache on a machine with internet),
an http(s) URL (e.g. DINO's official `dino_deitsmall16_pretrain.pth`), or a local file — DINO's
official checkpoint (full training checkpoints too: `teacher` weights, `module.`/`backbone.`
prefixes, projection head dropped) or timm safetensors. `detector.pretrained=false` builds a random
STAND-IN (tests, offline demo) and says so in the log and in every output.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from sdstylegan.metrics.images import IMAGENET_MEAN, IMAGENET_STD
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.weights import create_timm_model, load_state_dict

log = get_logger(__name__)

DINO_URLS = {  # official DINO releases (Caron et al. 2021), for the error hint
    "vit_small_patch16_224.dino": "https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth",
    "vit_small_patch8_224.dino": "https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth",
    "vit_base_patch16_224.dino": "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
    "vit_base_patch8_224.dino": "https://dl.fbaipublicfiles.com/dino/dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth",
}


# ---------------------------------------------------------------------------- images


def resize_longer_side(img: Image.Image, max_side: int | None) -> tuple[Image.Image, float]:
    """Shrink so the longer side is at most `max_side` (never enlarge); returns the image and new/old scale."""
    w, h = img.size
    if not max_side or max(w, h) <= max_side:
        return img, 1.0
    s = max_side / max(w, h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return img.resize(size, Image.Resampling.BICUBIC), size[0] / w


def preprocess(img: Image.Image, patch_size: int, max_side: int | None = None) -> tuple[torch.Tensor, float]:
    """RGB image → normalised float CHW, zero-padded right/bottom to multiples of `patch_size`.

    Padding happens after normalisation (zeros = the mean colour), as in the published code. Returns the
    tensor and the scale from original to network pixels (box_in_original = box_in_network / scale).
    """
    img = img.convert("RGB") if img.mode != "RGB" else img
    img, scale = resize_longer_side(img, max_side)
    a = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255.0
    a = (a - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    _, h, w = a.shape
    ph, pw = math.ceil(h / patch_size) * patch_size, math.ceil(w / patch_size) * patch_size
    out = torch.zeros(3, ph, pw)
    out[:, :h, :w] = a
    return out, scale


def patch_box_to_pixels(
    box: tuple[int, int, int, int], patch_size: int, scale: float, orig_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in patch units → original pixels, clipped to the image (padding lies outside it).

    Ends are exclusive; the start is floored and the end ceiled so the box never shrinks when scale < 1.
    """
    w, h = orig_size
    x0, y0, x1, y1 = (v * patch_size / scale for v in box)
    x0, y0 = min(max(int(math.floor(x0 + 1e-6)), 0), w - 1), min(max(int(math.floor(y0 + 1e-6)), 0), h - 1)
    x1, y1 = min(int(math.ceil(x1 - 1e-6)), w), min(int(math.ceil(y1 - 1e-6)), h)
    return (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


# ---------------------------------------------------------------------------- weights


def dino_to_timm(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Map DINO's official checkpoint names onto timm's ViT names.

    DINO's backbone files already use timm-style names (`blocks.N.attn.qkv.weight`, ...); its training
    checkpoints nest them under `teacher`/`student` with `module.` and `backbone.` prefixes and add the
    projection head (`head.*`), which TokenCut does not use.
    """
    for key in ("teacher", "model", "state_dict"):
        if key in state and isinstance(state[key], Mapping):
            state = state[key]
            break
    out = {}
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            continue
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix) :]
        if k.startswith("head.") or k.startswith("head_"):
            continue
        out[k] = v
    return out


def build_vit(arch: str, weights: str | None, pretrained: bool = True, **model_kwargs: Any) -> nn.Module:
    """The timm ViT `arch` with weights from `weights` (file / URL / timm name) or a random STAND-IN."""
    kwargs = dict(num_classes=0, dynamic_img_size=True, **model_kwargs)
    hint = (
        f"For {arch}, download {DINO_URLS[arch]} (or the safetensors of huggingface.co/timm/{arch})."
        if arch in DINO_URLS
        else ""
    )
    if not pretrained:
        return create_timm_model(arch, config_key="detector.weights", pretrained=False, **kwargs)
    source = str(weights) if weights else arch
    is_file_or_url = (
        Path(source).expanduser().is_file()
        or source.startswith(("http://", "https://"))
        or source.endswith((".pth", ".pt", ".bin", ".safetensors"))
    )
    if not is_file_or_url:
        if source.startswith(
            "hf-hub:"
        ):  # a Hugging Face hub model, e.g. hf-hub:timm/vit_small_patch16_224.dino
            return create_timm_model(
                source, config_key="detector.weights", pretrained=True, hint=hint, **kwargs
            )
        if source != arch:
            raise ValueError(
                f"detector.weights={source!r} is a model name different from detector.arch={arch!r}; "
                f"set detector.arch to it, or detector.weights to a file"
            )
        return create_timm_model(arch, config_key="detector.weights", pretrained=True, hint=hint, **kwargs)
    import timm

    model = timm.create_model(arch, pretrained=False, **kwargs)
    # DINO's main_dino.py checkpoints hold `args` (an argparse.Namespace of plain values) beside the weights.
    state = dino_to_timm(
        load_state_dict(source, config_key="detector.weights", hint=hint, safe_types=(argparse.Namespace,))
    )
    pos = state.get("pos_embed")
    if pos is not None and pos.shape != model.pos_embed.shape:
        from timm.layers import resample_abs_pos_embed

        grid = model.patch_embed.grid_size
        state["pos_embed"] = resample_abs_pos_embed(
            pos, list(grid), num_prefix_tokens=model.num_prefix_tokens
        )
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise ValueError(
            f"detector.weights={source}: {len(missing)} weights missing for {arch}, e.g. {missing[:3]} "
            f"— is it a checkpoint of this architecture?"
        )
    if unexpected:
        log.warning(
            "detector.weights=%s: ignored %d unexpected keys, e.g. %s",
            source,
            len(unexpected),
            unexpected[:3],
        )
    log.info("detector: %s weights from %s", arch, source)
    return model


# ---------------------------------------------------------------------------- position embedding


def dino_pos_embed(vit: nn.Module, t: torch.Tensor) -> torch.Tensor:
    """Prepend CLS and add the position embedding to patch tokens `t` (B, h, w, C), the way DINO does.

    DINO (vision_transformer.py, `interpolate_pos_encoding`) keeps the stored √N×√N grid when the input
    is square with N patches, else resizes it with `F.interpolate(mode="bicubic")` by scale factors
    ((h + 0.1)/√N, (w + 0.1)/√N) — the 0.1 guards against rounding down (DINO issue #8) — no antialias.
    """
    b, h, w, c = t.shape
    pos = vit.pos_embed
    n = pos.shape[1] - 1
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"DINO position embedding needs a square grid, got {n} patch positions")
    patch_pos = pos[:, 1:]
    if not (h == w and h * w == n):
        grid = patch_pos.reshape(1, side, side, c).permute(0, 3, 1, 2)
        grid = nn.functional.interpolate(
            grid, scale_factor=((h + 0.1) / side, (w + 0.1) / side), mode="bicubic"
        )
        if grid.shape[-2:] != (h, w):
            raise RuntimeError(
                f"DINO position-embedding interpolation gave {tuple(grid.shape[-2:])}, not {(h, w)}"
            )
        patch_pos = grid.permute(0, 2, 3, 1).reshape(1, h * w, c)
    cls = vit.cls_token.expand(b, -1, -1) + pos[:, :1]
    return torch.cat([cls, t.reshape(b, h * w, c) + patch_pos], dim=1)


# ---------------------------------------------------------------------------- token extractors


class ViTKeys(nn.Module):
    """Keys of the last attention block of a timm ViT, heads concatenated, CLS (and registers) dropped."""

    def __init__(
        self,
        arch: str = "vit_small_patch16_224.dino",
        weights: str | None = None,
        pretrained: bool = True,
        model_kwargs: Mapping[str, Any] | None = None,
        pos_interpolation: str = "auto",
    ):
        super().__init__()
        if pos_interpolation not in ("auto", "dino", "timm"):
            raise ValueError(
                f"detector.backbone.pos_interpolation must be auto, dino or timm, got {pos_interpolation!r}"
            )
        self.vit = build_vit(arch, weights, pretrained, **dict(model_kwargs or {}))
        for name in ("patch_embed", "blocks", "_pos_embed"):
            if not hasattr(self.vit, name):
                raise TypeError(f"detector.arch={arch} is not a timm VisionTransformer (no {name})")
        if not hasattr(self.vit.blocks[-1], "attn") or not hasattr(self.vit.blocks[-1].attn, "qkv"):
            raise TypeError(f"detector.arch={arch}: the last block has no fused attn.qkv projection")
        self.patch_size = int(self.vit.patch_embed.patch_size[0])
        # auto: DINO's own interpolation for DINO weights (what TokenCut ran), timm's for everything else
        if pos_interpolation == "auto":
            pos_interpolation = "dino" if arch.split(".")[-1] == "dino" else "timm"
        dino_ok = (
            getattr(self.vit, "cls_token", None) is not None
            and getattr(self.vit, "reg_token", None) is None
            and not getattr(self.vit, "no_embed_class", False)
            and self.vit.pos_embed is not None
        )
        if pos_interpolation == "dino" and not dino_ok:
            raise ValueError(
                f"detector.arch={arch}: DINO position interpolation needs a ViT with a CLS token, "
                f"no registers and a class position; use pos_interpolation=timm"
            )
        self.pos_interpolation = pos_interpolation
        self.standin = not pretrained
        self.name = arch
        self.vit.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        vit = self.vit
        h, w = x.shape[-2] // self.patch_size, x.shape[-1] // self.patch_size
        t = vit.patch_embed(x)  # (B, h, w, C) with dynamic_img_size
        t = dino_pos_embed(vit, t) if self.pos_interpolation == "dino" else vit._pos_embed(t)
        t = vit.norm_pre(vit.patch_drop(t))
        for blk in vit.blocks[:-1]:
            t = blk(t)
        last = vit.blocks[-1]
        qkv = last.attn.qkv(last.norm1(t))  # (B, T, 3·C); layout (3, heads, head_dim) as in DINO and timm
        c = qkv.shape[-1] // 3
        keys = qkv[:, vit.num_prefix_tokens :, c : 2 * c]
        return keys, (h, w)


class PixelTokens(nn.Module):
    """Hand-made tokens: each patch's normalised pixels minus the image's mean patch (no learned weights).

    A baseline for tests and flat synthetic scenes: it separates an object whose colour differs from a
    plain surrounding and nothing more (CorLoc 0.10 on 150 cluttered demo images, where a centred box
    scores 0). Results carry the name `pixels`, never DINO's.
    """

    def __init__(self, patch_size: int = 8):
        super().__init__()
        if patch_size < 1:
            raise ValueError(f"detector.backbone.patch_size must be ≥ 1, got {patch_size}")
        self.patch_size = int(patch_size)
        self.standin = False
        self.name = "pixels"

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        p = self.patch_size
        b, c, hh, ww = x.shape
        h, w = hh // p, ww // p
        t = x.reshape(b, c, h, p, w, p).permute(0, 2, 4, 1, 3, 5).reshape(b, h * w, c * p * p)
        return t - t.mean(dim=1, keepdim=True), (h, w)

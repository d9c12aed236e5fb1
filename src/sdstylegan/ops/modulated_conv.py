"""Modulated convolution (StyleGAN2, Karras et al. 2020, eq. 1–3): per-sample style scaling of the input
channels, demodulation to unit output variance, optional FIR up/down, noise fused into the epilogue.

Two equivalent schedules:
  fused:     build one weight per sample and run a grouped conv (groups = N) — best for inference;
  non-fused: scale activations by the styles, share the weight, rescale outputs by the demodulation
             coefficients with the noise added in the same addcmul — best for training (cuDNN-friendly).
Bias, activation, gain and clamp follow in bias_act (one fused kernel on CUDA).
"""

from __future__ import annotations

import torch

from sdstylegan.ops.conv2d_resample import conv2d_resample


def modulated_conv2d(
    x: torch.Tensor,  # [N, I, H, W] input activations
    weight: torch.Tensor,  # [O, I, k, k] shared weight (already scaled by its equalised-lr gain)
    styles: torch.Tensor,  # [N, I] per-sample input scales
    noise: torch.Tensor | None = None,  # [N or 1, 1 or O, H', W'] added to the output
    up: int = 1,
    down: int = 1,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    fused_modconv: bool = True,
    impl: str = "auto",
) -> torch.Tensor:
    """Style-modulated (and by default demodulated) conv of x; returns [N, O, H', W']."""
    n = x.shape[0]
    out_c, in_c, kh, kw = weight.shape
    if styles.shape != (n, in_c):
        raise ValueError(f"styles must have shape [{n}, {in_c}], got {tuple(styles.shape)}")
    if x.shape[1] != in_c:
        raise ValueError(f"x has {x.shape[1]} channels, the weight expects {in_c}")

    # In fp16, scale weight and styles to max-abs 1 first: the demodulated result is unchanged, but the
    # intermediate products no longer overflow (the trick StyleGAN2-ADA uses for mixed precision).
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (
            1 / (in_c * kh * kw) ** 0.5 / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    dcoefs = None
    if demodulate or fused_modconv:
        w = weight[None] * styles.reshape(n, 1, in_c, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(n, in_c, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, down=down, impl=impl)
        if dcoefs is not None and noise is not None:
            return torch.addcmul(noise.to(x.dtype), x, dcoefs.to(x.dtype).reshape(n, -1, 1, 1))
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
        elif noise is not None:
            x = x + noise.to(x.dtype)
        return x

    if dcoefs is not None:
        w = w * dcoefs.reshape(n, out_c, 1, 1, 1)
    x = x.reshape(1, n * in_c, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(n * out_c, in_c, kh, kw).to(x.dtype), resample_filter, up, down, n, impl)
    x = x.reshape(n, out_c, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x

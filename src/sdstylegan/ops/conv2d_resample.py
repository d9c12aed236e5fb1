"""2-D convolution fused with FIR up/downsampling by 2 (or any integer), as the StyleGAN2 layers use it.

Every conv here is 'same' sized (padding k // 2) for odd square kernels k; then:
  up > 1:   transposed conv with stride `up` (4× fewer FLOPs than convolving the upsampled image), then an
            upfirdn2d FIR pass whose padding aligns the result with upsample2d(x) followed by the conv,
  down > 1: the FIR pass first (with the conv's padding folded in), then a strided conv,
so outputs are H·up × W·up or H/down × W/down. Convolutions are cuDNN's; only the FIR pass is ours.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sdstylegan.ops.upfirdn2d import filter_size, upfirdn2d


def conv2d_resample(
    x: torch.Tensor,  # [N, groups·I, H, W]
    w: torch.Tensor,  # [O, I, k, k]; O divisible by groups
    f: torch.Tensor | None = None,  # FIR filter from setup_filter (None → box filter of size 1)
    up: int = 1,
    down: int = 1,
    groups: int = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """'Same' conv of x with w, combined with FIR upsampling by `up` or downsampling by `down`."""
    out_c, in_c, kh, kw = w.shape
    if kh != kw or kh % 2 != 1:
        raise ValueError(f"conv2d_resample needs odd square kernels, got {kh}×{kw}")
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample: up and down at the same time are not supported")
    k = kh
    fw, fh = filter_size(f)
    if up > 1:
        # Transposed conv = zero insertion (no trailing zeros) + full padding k-1 + conv with flipped taps.
        w_t = w.flip([2, 3]).reshape(groups, out_c // groups, in_c, k, k).transpose(1, 2)
        x = F.conv_transpose2d(x, w_t.reshape(groups * in_c, out_c // groups, k, k), stride=up, groups=groups)
        # Total padding of the reference (upsample2d, then 'same' conv), minus what the transposed conv did.
        q0x = (fw + up - 1) // 2 + k // 2 - (k - 1)
        q1x = (fw - up) // 2 + k // 2 + (up - 1) - (k - 1)
        q0y = (fh + up - 1) // 2 + k // 2 - (k - 1)
        q1y = (fh - up) // 2 + k // 2 + (up - 1) - (k - 1)
        return upfirdn2d(x, f, padding=(q0x, q1x, q0y, q1y), gain=up * up, impl=impl)
    if down > 1:
        p0x, p1x = (fw - down + 1) // 2 + k // 2, (fw - down) // 2 + k // 2
        p0y, p1y = (fh - down + 1) // 2 + k // 2, (fh - down) // 2 + k // 2
        if k == 1:  # 1×1 conv commutes with the filter: downsample first, convolve fewer pixels
            x = upfirdn2d(x, f, down=down, padding=(p0x, p1x, p0y, p1y), impl=impl)
            return F.conv2d(x, w, groups=groups)
        x = upfirdn2d(x, f, padding=(p0x, p1x, p0y, p1y), impl=impl)
        return F.conv2d(x, w, stride=down, groups=groups)
    return F.conv2d(x, w, padding=k // 2, groups=groups)

"""upfirdn2d: upsample by zero insertion, pad (or crop), FIR filter, downsample — StyleGAN2-ADA semantics.

`upfirdn2d(x, f, up, down, padding, flip_filter, gain)` on NCHW tensors:
  1. insert up-1 zeros after every sample (length H·up),
  2. pad with zeros, negative padding crops; padding = int | (px, py) | (x0, x1, y0, y1),
  3. correlate with the filter flipped (i.e. a true convolution with f), or with f as is when flip_filter,
     scaled by gain (a 1-D f is separable and applied along both axes, gain**0.5 per axis),
  4. keep every down-th sample starting at 0.
The reference is plain PyTorch (differentiable to any order); the CUDA kernel (csrc/upfirdn2d_kernel.cu)
is wrapped in an autograd.Function whose backward is upfirdn2d itself with the adjoint parameters,
so gradients of any order stay on the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from sdstylegan.ops.build import cuda_extension_for

Pair = tuple[int, int]
Pad4 = tuple[int, int, int, int]


def _pair(v: int | Sequence[int], name: str) -> Pair:
    if isinstance(v, int):
        out = (v, v)
    else:
        out = tuple(int(i) for i in v)
        if len(out) != 2:
            raise ValueError(f"{name} must be an int or (x, y), got {v!r}")
    if min(out) < 1:
        raise ValueError(f"{name} must be >= 1, got {v!r}")
    return out  # type: ignore[return-value]


def parse_padding(padding: int | Sequence[int]) -> Pad4:
    """int → all sides; (px, py) → (px, px, py, py); (x0, x1, y0, y1) as is."""
    if isinstance(padding, int):
        return (padding,) * 4  # type: ignore[return-value]
    p = [int(v) for v in padding]
    if len(p) == 2:
        return (p[0], p[0], p[1], p[1])
    if len(p) == 4:
        return (p[0], p[1], p[2], p[3])
    raise ValueError(f"padding must be an int, (px, py) or (x0, x1, y0, y1), got {padding!r}")


def filter_size(f: torch.Tensor | None) -> Pair:
    """(width, height) of a filter made by setup_filter (None → 1×1)."""
    if f is None:
        return 1, 1
    if f.ndim == 1:
        return f.shape[0], f.shape[0]
    return f.shape[1], f.shape[0]


def setup_filter(
    f: Sequence[float] | torch.Tensor | None,
    device: torch.device | str = "cpu",
    normalize: bool = True,  # scale so that the taps sum to 1 (then times gain)
    flip_filter: bool = False,  # flip the taps once here instead of at every call
    gain: float = 1.0,  # overall gain; a 1-D filter gets gain**0.5 since it is applied twice
    separable: bool | None = None,  # None: keep 1-D filters of >= 8 taps separable, else make 2-D
) -> torch.Tensor:
    """float32 filter tensor for upfirdn2d from a list of taps (1-D → outer product unless separable)."""
    f = torch.ones(1) if f is None else torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"filter must be 1-D or 2-D and non-empty, got shape {tuple(f.shape)}")
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if separable and f.ndim != 1:
        raise ValueError("separable=True needs a 1-D filter")
    if normalize:
        if f.sum() == 0:
            raise ValueError("cannot normalize a filter whose taps sum to 0; pass normalize=False")
        f = f / f.sum()  # a separable 1-D filter is applied twice, so its 2-D equivalent also sums to 1
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


# ----------------------------------------------------------------------------- reference


def _upfirdn2d_ref_2d(
    x: torch.Tensor, f: torch.Tensor, up: Pair, down: Pair, pad: Pad4, flip: bool, gain: float
):
    n, c, h, w = x.shape
    upx, upy = up
    px0, px1, py0, py1 = pad
    # 1. zero insertion: each sample followed by up-1 zeros.
    if upx > 1 or upy > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(n, c, h * upy, w * upx)
    # 2. zero padding, then cropping for negative amounts.
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    fh, fw = f.shape
    if x.shape[2] < fh or x.shape[3] < fw:
        raise ValueError(
            f"upfirdn2d: padded input {tuple(x.shape[2:])} is smaller than the filter {(fh, fw)}"
        )
    # 3. depthwise correlation; flipping the taps turns it into a convolution with f.
    wgt = f.to(x.dtype) * gain
    if not flip:
        wgt = wgt.flip([0, 1])
    x = F.conv2d(x, wgt[None, None].expand(c, 1, fh, fw), groups=c)
    # 4. decimation.
    return x[:, :, :: down[1], :: down[0]]


# ----------------------------------------------------------------------------- CUDA path


def _adjoint_padding(in_hw: Pair, out_hw: Pair, f_hw: Pair, up: Pair, down: Pair, pad: Pad4) -> Pad4:
    """Padding of the upfirdn2d that computes the input gradient (derived in the module docstring's terms:
    transpose of decimate → zero insertion, of correlation → correlation with flipped taps, of pad → crop)."""
    (ih, iw), (oh, ow), (fh, fw) = in_hw, out_hw, f_hw
    px0, _, py0, _ = pad
    return (
        fw - 1 - px0,
        iw * up[0] + px0 - ow * down[0],
        fh - 1 - py0,
        ih * up[1] + py0 - oh * down[1],
    )


class _Upfirdn2dCuda(torch.autograd.Function):
    """2-D filter on the CUDA kernel; backward = the adjoint upfirdn2d, itself this Function."""

    @staticmethod
    def forward(ctx, x, f, ext, up, down, pad, flip, gain):  # noqa: D102
        y = ext.upfirdn2d(
            x.contiguous(), f.contiguous(), up[0], up[1], down[0], down[1], *pad, flip, float(gain)
        )
        ctx.save_for_backward(f)
        ctx.meta = (ext, tuple(x.shape[2:]), tuple(y.shape[2:]), up, down, pad, flip, gain)
        return y

    @staticmethod
    def backward(ctx, dy):  # noqa: D102
        (f,) = ctx.saved_tensors
        ext, in_hw, out_hw, up, down, pad, flip, gain = ctx.meta
        dx = None
        if ctx.needs_input_grad[0]:
            adj = _adjoint_padding(in_hw, out_hw, tuple(f.shape), up, down, pad)
            dx = _Upfirdn2dCuda.apply(dy, f, ext, down, up, adj, not flip, gain)
        return dx, None, None, None, None, None, None, None


# ----------------------------------------------------------------------------- public API


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of NCHW images (see the module docstring)."""
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects NCHW input, got shape {tuple(x.shape)}")
    if f is None:
        f = torch.ones(1, 1, dtype=torch.float32, device=x.device)
    if f.ndim not in (1, 2):
        raise ValueError(f"filter must be 1-D or 2-D, got shape {tuple(f.shape)}")
    up_, down_, pad = _pair(up, "up"), _pair(down, "down"), parse_padding(padding)
    ext = None if f.requires_grad else cuda_extension_for(x, impl)
    if ext is None:
        run = _upfirdn2d_ref_2d
    else:
        f = f.to(device=x.device, dtype=torch.float32)

        def run(x, f, up, down, pad, flip, gain):
            return _Upfirdn2dCuda.apply(x, f, ext, up, down, pad, flip, gain)

    if f.ndim == 2:
        return run(x, f, up_, down_, pad, flip_filter, gain)
    # Separable: horizontal pass then vertical pass, each with half of the gain exponent.
    g = gain**0.5
    x = run(x, f[None, :], (up_[0], 1), (down_[0], 1), (pad[0], pad[1], 0, 0), flip_filter, g)
    return run(x, f[:, None], (1, up_[1]), (1, down_[1]), (0, 0, pad[2], pad[3]), flip_filter, g)


def filter2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> torch.Tensor:
    """FIR filter keeping the size (plus `padding`)."""
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    p = (px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2)
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | Sequence[int] = 2,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample by `up` with FIR interpolation; output size = input·up (+ padding); DC gain preserved."""
    upx, upy = _pair(up, "up")
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    p = (
        px0 + (fw + upx - 1) // 2,
        px1 + (fw - upx) // 2,
        py0 + (fh + upy - 1) // 2,
        py1 + (fh - upy) // 2,
    )
    return upfirdn2d(
        x, f, up=(upx, upy), padding=p, flip_filter=flip_filter, gain=gain * upx * upy, impl=impl
    )


def downsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    down: int | Sequence[int] = 2,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> torch.Tensor:
    """Anti-aliased downsample by `down`; output size = input / down (+ padding)."""
    downx, downy = _pair(down, "down")
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    p = (
        px0 + (fw - downx + 1) // 2,
        px1 + (fw - downx) // 2,
        py0 + (fh - downy + 1) // 2,
        py1 + (fh - downy) // 2,
    )
    return upfirdn2d(x, f, down=(downx, downy), padding=p, flip_filter=flip_filter, gain=gain, impl=impl)

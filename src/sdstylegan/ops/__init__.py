"""Custom ops with StyleGAN2-ADA semantics: upfirdn2d (+ filter helpers), bias_act, modulated conv.

Public API (see ../shared/DESIGN.md):
    upfirdn2d(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1, impl='auto')
    setup_filter(f, device='cpu', normalize=True, flip_filter=False, gain=1, separable=None)
    bias_act(x, b=None, dim=1, act='linear', alpha=None, gain=None, clamp=None, impl='auto')
impl: 'ref' (pure PyTorch), 'cuda' (kernel, error if unavailable) or 'auto' (kernel for CUDA tensors when it
builds, else the reference with one warning). SDSTYLEGAN_OPS=ref forces the reference. Importing this
package compiles nothing; the kernels build on first CUDA use (sdstylegan.ops.build).
"""

from sdstylegan.ops.bias_act import ACTIVATIONS, bias_act
from sdstylegan.ops.build import OpsBuildError, build_extension
from sdstylegan.ops.conv2d_resample import conv2d_resample
from sdstylegan.ops.modulated_conv import modulated_conv2d
from sdstylegan.ops.upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

__all__ = [
    "ACTIVATIONS",
    "OpsBuildError",
    "bias_act",
    "build_extension",
    "conv2d_resample",
    "downsample2d",
    "filter2d",
    "modulated_conv2d",
    "setup_filter",
    "upfirdn2d",
    "upsample2d",
]

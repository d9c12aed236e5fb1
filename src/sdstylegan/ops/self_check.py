"""First-use check of the compiled CUDA kernels against the PyTorch reference, on small random inputs.

A kernel that compiles but computes something else (a wrong architecture flag, a driver or compiler bug,
an edited .cu file) would otherwise train silently into a wrong model. `build.extension_or_fallback`
runs `kernel_problems` once per process on the first CUDA device used; any disagreement warns once and
makes `impl='auto'` use the reference (an explicit `impl='cuda'` raises instead).
"""

from __future__ import annotations

from types import ModuleType

import torch

from sdstylegan.ops.bias_act import ACTIVATIONS, _bias_act_ref, _BiasActCuda
from sdstylegan.ops.upfirdn2d import _upfirdn2d_ref_2d, _Upfirdn2dCuda, setup_filter

TOLERANCE = 1e-4  # float32: the kernels and the reference differ by summation order only (~1e-6)


def kernel_problems(ext: ModuleType, device: torch.device | str, seed: int = 0) -> list[str]:
    """One line per kernel case whose output differs from the reference by more than `TOLERANCE`."""
    gen = torch.Generator().manual_seed(seed)
    problems = []

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen).to(device)

    x, b = rand(2, 5, 4, 3), rand(5)
    for act, clamp in (("linear", -1.0), ("lrelu", -1.0), ("lrelu", 0.5)):
        spec = ACTIVATIONS[act]
        want = _bias_act_ref(x, b, 1, spec, spec.alpha, spec.gain, clamp)
        got = _BiasActCuda.apply(x.contiguous(), b.contiguous(), (ext, 1, spec, spec.alpha, spec.gain, clamp))
        problems += _compare(f"bias_act act={act} clamp={clamp:g}", got, want)
    f = setup_filter([1, 3, 3, 1], device=device)
    img = rand(2, 3, 8, 7)
    for up, down, pad in (((2, 2), (1, 1), (2, 1, 2, 1)), ((1, 1), (2, 2), (1, 1, 1, 1))):
        want = _upfirdn2d_ref_2d(img, f, up, down, pad, False, 1.0)
        got = _Upfirdn2dCuda.apply(img, f, ext, up, down, pad, False, 1.0)
        problems += _compare(f"upfirdn2d up={up[0]} down={down[0]}", got, want)
    return problems


def _compare(case: str, got: torch.Tensor, want: torch.Tensor) -> list[str]:
    if got.shape != want.shape:
        return [f"{case}: shape {tuple(got.shape)}, reference {tuple(want.shape)}"]
    err = float((got.float() - want.float()).abs().max()) if got.numel() else 0.0
    if not err <= TOLERANCE:  # also catches NaN
        return [f"{case}: max |Δ| = {err:.3g} against the reference (tolerance {TOLERANCE:g})"]
    return []

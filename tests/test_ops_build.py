"""Lazy build and dispatch of the CUDA ops: nothing compiles on import or for CPU tensors, SDSTYLEGAN_OPS
overrides, one warning with the reason and build log when the kernels cannot be had, and (slow) a real
compile + link of ops/csrc with nvcc on a machine without a GPU."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils import cpp_extension

from sdstylegan.ops import bias_act, build, setup_filter, upfirdn2d


@pytest.fixture
def fresh_state(monkeypatch, tmp_path):
    """A process that has not tried to build yet, building into a temp folder."""
    monkeypatch.setattr(build, "_state", {"ext": None, "error": None, "warned": False, "problems": None})
    monkeypatch.setenv("SDSTYLEGAN_OPS_BUILD_DIR", str(tmp_path / "ops_build"))
    monkeypatch.delenv("SDSTYLEGAN_OPS", raising=False)
    return tmp_path / "ops_build"


def test_cpu_calls_never_build(fresh_state, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("a CPU call tried to compile the CUDA ops")

    monkeypatch.setattr(build, "build_extension", forbidden)
    x = torch.randn(1, 2, 8, 8)
    upfirdn2d(x, setup_filter([1, 3, 3, 1]), up=2, padding=(2, 1, 2, 1))
    bias_act(x, torch.zeros(2), act="lrelu")
    assert build._state["ext"] is None and build._state["error"] is None
    assert not fresh_state.exists()


def test_env_override(monkeypatch):
    monkeypatch.setenv("SDSTYLEGAN_OPS", "ref")
    assert build.resolve_impl("cuda") == "ref" and build.resolve_impl("auto") == "ref"
    monkeypatch.setenv("SDSTYLEGAN_OPS", "cuda")
    assert build.resolve_impl("auto") == "cuda" and build.resolve_impl("ref") == "ref"
    monkeypatch.setenv("SDSTYLEGAN_OPS", "fast")
    with pytest.raises(ValueError, match="SDSTYLEGAN_OPS"):
        build.resolve_impl("auto")
    monkeypatch.delenv("SDSTYLEGAN_OPS")
    with pytest.raises(ValueError, match="impl must be one of"):
        build.resolve_impl("triton")


def test_cuda_impl_on_cpu_tensor_is_an_error_but_env_cuda_keeps_cpu_working(fresh_state, monkeypatch):
    with pytest.raises(ValueError, match="needs a CUDA tensor"):
        bias_act(torch.zeros(2, 2), impl="cuda")
    monkeypatch.setenv(
        "SDSTYLEGAN_OPS", "cuda"
    )  # strict about CUDA tensors, CPU tensors still use the reference
    torch.testing.assert_close(bias_act(torch.ones(2, 2), act="relu", gain=1.0), torch.ones(2, 2))
    assert build._state["error"] is None and not fresh_state.exists()


def test_missing_toolkit_warns_once_with_reason_and_log(fresh_state, monkeypatch):
    monkeypatch.setattr(cpp_extension, "CUDA_HOME", None)  # as on a machine without nvcc
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert build.extension_or_fallback("auto") is None
        assert build.extension_or_fallback("auto") is None
    ours = [w for w in caught if "sdstylegan ops" in str(w.message)]
    assert len(ours) == 1
    message = str(ours[0].message)
    assert "no CUDA toolkit" in message and "build.log" in message
    log_files = list(fresh_state.glob("*/build.log"))
    assert len(log_files) == 1 and "no CUDA toolkit" in log_files[0].read_text()
    with pytest.raises(build.OpsBuildError, match="no CUDA toolkit"):
        build.extension_or_fallback("cuda")


@pytest.mark.slow
def test_cuda_sources_compile_and_link(tmp_path, monkeypatch):
    """Builds ops/csrc with nvcc (no GPU needed: arch list from TORCH_CUDA_ARCH_LIST, default 8.0;9.0)."""
    if cpp_extension.CUDA_HOME is None:
        pytest.skip("no CUDA toolkit (nvcc) on this machine")
    ext = build.build_extension(build_dir=tmp_path / "build")
    assert callable(ext.upfirdn2d) and callable(ext.bias_act)
    assert list((tmp_path / "build").glob("*.so"))


# ----------------------------------------------------------------------------- kernel arithmetic on the CPU


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    """The kernels' per-element code compiled for the CPU (csrc/host_check.cpp, host compiler only)."""
    return build.build_host_check(tmp_path_factory.mktemp("host_check"))


@pytest.mark.slow
def test_kernel_upfirdn2d_code_matches_direct_definition(host_kernels):
    from test_ops_upfirdn2d import CASES, direct_upfirdn2d

    from sdstylegan.ops.upfirdn2d import _pair, _Upfirdn2dCuda, parse_padding

    for taps, _, up, down, padding, flip, gain in CASES:
        f = setup_filter(taps, normalize=False, separable=False)
        x = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)
        args = (_pair(up, "up"), _pair(down, "down"), parse_padding(padding), flip, gain)
        y = _Upfirdn2dCuda.apply(x, f, host_kernels, *args)
        want = direct_upfirdn2d(x.detach().numpy(), f.numpy(), *args[:3], flip, gain)
        torch.testing.assert_close(y.detach(), torch.from_numpy(want))
        # Backward through the same code with the adjoint parameters equals autograd of the reference.
        dy = torch.randn_like(y)
        (g,) = torch.autograd.grad(y, x, dy)
        y_ref = upfirdn2d(x, f, up=up, down=down, padding=padding, flip_filter=flip, gain=gain, impl="ref")
        (g_ref,) = torch.autograd.grad(y_ref, x, dy)
        torch.testing.assert_close(g, g_ref)


@pytest.mark.slow
@pytest.mark.parametrize(
    "act", ["linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish"]
)
@pytest.mark.parametrize("clamp", [None, 0.6])
def test_kernel_bias_act_code_matches_reference_to_second_order(host_kernels, act, clamp):
    from sdstylegan.ops.bias_act import ACTIVATIONS, _BiasActCuda

    spec = ACTIVATIONS[act]
    gen = torch.Generator().manual_seed(4)
    x = (torch.randn(3, 4, 5, dtype=torch.float64, generator=gen) * 2 + 0.05).requires_grad_()
    b = torch.randn(4, dtype=torch.float64, generator=gen).requires_grad_()
    meta = (host_kernels, 1, spec, spec.alpha, 1.3, -1.0 if clamp is None else clamp)
    results = []
    for y in (_BiasActCuda.apply(x, b, meta), bias_act(x, b, act=act, gain=1.3, clamp=clamp, impl="ref")):
        gx, gb = torch.autograd.grad(y, (x, b), torch.full_like(y, 0.4), create_graph=True)
        second = gx.pow(3).sum() + gb.square().sum()
        ggx = ggb = None
        if second.requires_grad:  # linear without clamp: the reference's gradient is a constant
            ggx, ggb = torch.autograd.grad(second, (x, b), allow_unused=True)
        ggx = torch.zeros_like(x) if ggx is None else ggx
        ggb = torch.zeros_like(b) if ggb is None else ggb
        results.append((y, gx, gb, ggx, ggb))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


class StandInExtension:
    """A stand-in for the compiled module with the same entry points, computing on the CPU; `wrong` plants a
    bug of the kind a bad build could have (a bias added twice, a filter tap dropped)."""

    def __init__(self, wrong: bool):
        self.wrong = wrong

    def bias_act(self, x, b, xref, yref, dim, grad, code, alpha, gain, clamp):
        from sdstylegan.ops.bias_act import ACTIVATIONS, _bias_act_ref

        spec = next(a for a in ACTIVATIONS.values() if a.code == code)
        y = _bias_act_ref(x, b if b.numel() else None, dim, spec, alpha, gain, clamp)
        return y + (b.reshape(1, -1, 1, 1) if self.wrong else 0)

    def upfirdn2d(self, x, f, upx, upy, downx, downy, px0, px1, py0, py1, flip, gain):
        from sdstylegan.ops.upfirdn2d import _upfirdn2d_ref_2d

        f = f[:, :-1] if self.wrong and f.shape[1] > 1 else f
        return _upfirdn2d_ref_2d(x, f, (upx, upy), (downx, downy), (px0, px1, py0, py1), flip, gain)


def test_a_correct_extension_passes_the_first_use_check_and_is_used(fresh_state):
    ext = StandInExtension(wrong=False)
    build._state["ext"] = ext
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all
        assert build.extension_or_fallback("auto", "cpu") is ext
    assert build._state["problems"] == []


def test_a_wrong_extension_warns_once_and_auto_falls_back_to_the_reference(fresh_state):
    build._state["ext"] = StandInExtension(wrong=True)
    with pytest.warns(RuntimeWarning, match="disagree with the reference: bias_act act=linear") as rec:
        assert build.extension_or_fallback("auto", "cpu") is None
    assert any("upfirdn2d up=2" in p for p in build._state["problems"])
    assert len(rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call is silent
        assert build.extension_or_fallback("auto", "cpu") is None
    with pytest.raises(build.OpsBuildError, match="disagree"):  # asked for the kernels explicitly
        build.extension_or_fallback("cuda", "cpu")


@pytest.mark.gpu
def test_the_real_kernels_pass_the_first_use_check():
    from sdstylegan.ops.self_check import kernel_problems

    assert kernel_problems(build.build_extension(), "cuda") == []

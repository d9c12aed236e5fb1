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
    monkeypatch.setattr(build, "_state", {"ext": None, "error": None, "warned": False})
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


def test_cuda_impl_on_cpu_tensor_is_an_error(monkeypatch):
    monkeypatch.delenv("SDSTYLEGAN_OPS", raising=False)
    with pytest.raises(ValueError, match="needs a CUDA tensor"):
        bias_act(torch.zeros(2, 2), impl="cuda")


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

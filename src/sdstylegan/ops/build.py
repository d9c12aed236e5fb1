"""Lazy build and dispatch of the custom CUDA kernels (ops/csrc) with a pure-PyTorch fallback.

Nothing here runs at import time. The extension is compiled with torch.utils.cpp_extension on the
first CUDA call that wants it, cached in a folder keyed by a hash of the sources (CUDA_HOME and
TORCH_CUDA_ARCH_LIST are honoured by PyTorch's builder). `impl='auto'` falls back to the reference
with ONE warning naming the reason and the build log; `SDSTYLEGAN_OPS=ref` forces the reference
everywhere, `SDSTYLEGAN_OPS=cuda` makes a failed build an error. On first use the kernels are compared
with the reference on small random inputs (`ops.self_check`); a disagreement is a fallback like a
failed build.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from types import ModuleType

import torch

from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

CSRC = Path(__file__).resolve().parent / "csrc"
SOURCES = ("ops.cpp", "upfirdn2d_kernel.cu", "bias_act_kernel.cu")
HEADERS = ("sds_hd.h", "upfirdn2d_core.h", "bias_act_core.h")
IMPLS = ("auto", "ref", "cuda")
# Architectures compiled for when no GPU is visible to detect one (compile-only machines).
DEFAULT_ARCH_LIST = "8.0;9.0"


class OpsBuildError(RuntimeError):
    """The CUDA extension could not be compiled or loaded; the message names the build log."""


# Module-level cache of the one compiled extension (a process-wide resource, like an import).
_state: dict[str, object] = {"ext": None, "error": None, "warned": False, "problems": None}


def _source_hash() -> str:
    h = hashlib.sha256()
    for name in SOURCES + HEADERS:
        h.update((CSRC / name).read_bytes())
    return h.hexdigest()[:12]


def default_build_dir() -> Path:
    """`$SDSTYLEGAN_OPS_BUILD_DIR`, else PyTorch's extension cache (TORCH_EXTENSIONS_DIR honoured); one
    subfolder per source hash, so edited sources never load a stale build."""
    root = os.environ.get("SDSTYLEGAN_OPS_BUILD_DIR")
    if not root:
        from torch.utils.cpp_extension import get_default_build_root

        root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    return Path(root) / f"sdstylegan_ops_{_source_hash()}"


def build_extension(build_dir: str | Path | None = None, verbose: bool = False) -> ModuleType:
    """Compile (or load the cached build of) the CUDA extension; raises OpsBuildError with the log path.

    Works on a machine with nvcc but no GPU: the target architectures then come from
    TORCH_CUDA_ARCH_LIST, defaulting to DEFAULT_ARCH_LIST.
    """
    from torch.utils import cpp_extension

    build_dir = Path(build_dir) if build_dir is not None else default_build_dir()
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = build_dir / "build.log"
    if cpp_extension.CUDA_HOME is None:
        msg = "no CUDA toolkit found (set CUDA_HOME or put nvcc on PATH)"
        log_path.write_text(msg + "\n")
        raise OpsBuildError(f"{msg}; build log: {log_path}")
    if not (Path(cpp_extension.CUDA_HOME) / "include" / "cuda_runtime.h").is_file():
        # e.g. nvcc reached through a wrapper script in /usr/local/bin makes PyTorch guess CUDA_HOME=/usr/local
        msg = f"CUDA_HOME={cpp_extension.CUDA_HOME} has no include/cuda_runtime.h; set CUDA_HOME to the toolkit root"
        log_path.write_text(msg + "\n")
        raise OpsBuildError(f"{msg}; build log: {log_path}")
    # No GPU to detect the architecture from: compile for DEFAULT_ARCH_LIST unless the user chose. The
    # variable is set for the duration of the build only.
    set_arch = not torch.cuda.is_available() and not os.environ.get("TORCH_CUDA_ARCH_LIST")
    if set_arch:
        os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_ARCH_LIST
    try:
        ext = cpp_extension.load(
            name=f"sdstylegan_ops_{_source_hash()}",
            sources=[str(CSRC / s) for s in SOURCES],
            build_directory=str(build_dir),
            extra_cflags=["-O3"],
            extra_cuda_cflags=["-O3", "--use_fast_math"],
            verbose=verbose,
        )
    except Exception as err:  # compiler errors arrive as RuntimeError/OSError/ImportError with the output
        log_path.write_text(f"{type(err).__name__}: {err}\n")
        raise OpsBuildError(
            f"building the CUDA ops failed ({type(err).__name__}); build log: {log_path}"
        ) from err
    finally:
        if set_arch:
            os.environ.pop("TORCH_CUDA_ARCH_LIST", None)
    log_path.write_text(f"built OK in {build_dir}\n")
    return ext


def build_host_check(build_dir: str | Path, verbose: bool = False) -> ModuleType:
    """CPU-only build (host compiler, no nvcc) of the kernels' per-element code (csrc/host_check.cpp), with
    the CUDA entry points' signatures: lets tests check the kernel arithmetic without a GPU."""
    from torch.utils import cpp_extension

    Path(build_dir).mkdir(parents=True, exist_ok=True)
    return cpp_extension.load(
        name=f"sdstylegan_ops_host_{_source_hash()}",
        sources=[str(CSRC / "host_check.cpp")],
        build_directory=str(build_dir),
        extra_cflags=["-O1"],
        verbose=verbose,
    )


def _extension() -> ModuleType | None:
    if _state["ext"] is None and _state["error"] is None:
        try:
            _state["ext"] = build_extension()
            log.info("sdstylegan CUDA ops ready")
        except OpsBuildError as err:
            _state["error"] = str(err)
    return _state["ext"]  # type: ignore[return-value]


def resolve_impl(impl: str) -> str:
    """Check `impl` and apply the SDSTYLEGAN_OPS override ('ref' wins over everything)."""
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    env = os.environ.get("SDSTYLEGAN_OPS", "").strip().lower()
    if env and env not in IMPLS:
        raise ValueError(f"SDSTYLEGAN_OPS must be one of {IMPLS}, got {env!r}")
    if env == "ref":
        return "ref"
    if env == "cuda" and impl == "auto":
        return "cuda"
    return impl


def extension_or_fallback(impl: str, device: torch.device | str = "cuda") -> ModuleType | None:
    """The compiled extension, built and checked against the reference on `device` on first use; None
    (after one warning) when 'auto' cannot have it or its kernels disagree with the reference."""
    ext = _extension()
    if ext is not None and _state["problems"] is None:
        from sdstylegan.ops.self_check import kernel_problems

        _state["problems"] = kernel_problems(ext, device)
        if _state["problems"]:
            _state["error"] = "the CUDA kernels disagree with the reference: " + "; ".join(_state["problems"])
            log.error("sdstylegan ops: %s", _state["error"])
    if ext is None or _state["problems"]:
        if impl == "cuda":
            raise OpsBuildError(str(_state["error"]))
        if not _state["warned"]:
            _state["warned"] = True
            warnings.warn(
                f"sdstylegan ops: using the PyTorch reference instead of the CUDA kernels: {_state['error']}",
                RuntimeWarning,
                stacklevel=4,
            )
        return None
    return ext


def cuda_extension_for(x: torch.Tensor, impl: str) -> ModuleType | None:
    """The compiled extension when `x` should go through a CUDA kernel, else None (use the reference)."""
    resolved = resolve_impl(impl)
    if resolved == "ref":
        return None
    if not x.is_cuda:
        # An explicit impl='cuda' on a CPU tensor is a mistake; SDSTYLEGAN_OPS=cuda only concerns CUDA tensors.
        if impl == "cuda":
            raise ValueError(f"impl='cuda' needs a CUDA tensor, got one on {x.device}")
        return None
    return extension_or_fallback(resolved, x.device)

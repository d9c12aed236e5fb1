"""Read NVlabs (StyleGAN2-ADA / StyleGAN3 / SDIP) network pickles as data, never running their code.

An NVlabs snapshot (`network-snapshot-*.pkl`, SDIP's released generators) is a plain pickle of
`dict(G=..., D=..., G_ema=..., augment_pipe=..., training_set_kwargs=...)`. Every network in it is a
`torch_utils.persistence` object: unpickling calls `persistence._reconstruct_persistent_obj(meta)`,
which `exec`s the module source stored in `meta["module_src"]` and builds the class from it — any
code in that source runs. Here a restricted unpickler answers every global the stream names from an
allowlist, and the persistence reconstructor is replaced by `PersistentStub`, which keeps the class
name, the constructor kwargs and the state (parameters, buffers, sub-modules) and never looks at the
source. Tensor storages are nested `torch.save` payloads; they are read with `weights_only=True`.
Anything else (`os.system`, `builtins.eval`, an unknown class) is refused with an error naming it.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import io
import os
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:  # numpy ≥ 2
    from numpy._core import multiarray as _npm
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _npm


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """The pickle names a global outside the allowlist (possibly code execution); nothing was called."""


@dataclass
class PersistentStub:
    """What `torch_utils.persistence` would have rebuilt, as data: class name, init kwargs and state."""

    class_name: str
    state: dict[str, Any]
    version: int | None = None
    module_src_chars: int = 0  # length of the stored (never executed) source, for messages

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return _plain(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    def children(self) -> dict[str, Any]:
        return dict(self.state.get("_modules") or {})


class _PlainDict(dict):
    """Stands in for `dnnlib.EasyDict` (a dict with attribute access): plain dict behaviour only."""


def _reconstruct_persistent(meta: dict[str, Any]) -> PersistentStub:
    """Replacement for `torch_utils.persistence._reconstruct_persistent_obj`: no source is executed."""
    if (
        not isinstance(meta, dict)
        or meta.get("type") != "class"
        or not isinstance(meta.get("class_name"), str)
    ):
        raise UnsafePickleError("persistent object without a class name: not an NVlabs network pickle")
    state = meta.get("state") or {}
    if not isinstance(state, dict):
        raise UnsafePickleError(f"persistent object {meta['class_name']} has a non-dict state")
    src = meta.get("module_src")
    return PersistentStub(
        meta["class_name"], dict(state), meta.get("version"), len(src) if isinstance(src, str) else 0
    )


def _load_storage_bytes(b: bytes) -> Any:
    """`torch.storage._load_from_bytes` with the restricted (weights_only) loader."""
    return torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)


def _rebuild_parameter(
    data: torch.Tensor, requires_grad: bool, backward_hooks: Any, *state: Any
) -> torch.Tensor:
    """Parameters come back as plain tensors (hooks and Python state are dropped)."""
    return data


def _copyreg_reconstructor(cls: type, base: type, state: Any) -> Any:
    if cls in (dict, OrderedDict, _PlainDict) and base in (dict, object):
        return cls(state or {})
    raise UnsafePickleError(f"copyreg reconstruction of {cls!r} is not allowed")


# (module, name) → the object the unpickler may use for it. Nothing outside this table is resolved.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "object"): object,
    ("copyreg", "_reconstructor"): _copyreg_reconstructor,
    ("_codecs", "encode"): codecs.encode,  # protocol 2 writes bytes as encode(str, "latin1")
    ("dnnlib.util", "EasyDict"): _PlainDict,
    ("dnnlib", "EasyDict"): _PlainDict,
    ("torch", "device"): torch.device,
    ("torch", "Size"): torch.Size,
}
# numpy scalars, dtypes and arrays of plain numbers (e.g. NVlabs layers keep `act_gain = np.sqrt(2)`).
# Both module names: pickles written under numpy 1.x say numpy.core, under 2.x numpy._core.
for _np in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_np, "scalar")] = _npm.scalar
    _ALLOWED[(_np, "_reconstruct")] = _npm._reconstruct
_ALLOWED[("numpy", "dtype")] = np.dtype
_ALLOWED[("numpy", "ndarray")] = np.ndarray
for _dt in ("float16", "float32", "float64", "bfloat16", "int64", "int32", "uint8", "bool"):
    _ALLOWED[("torch", _dt)] = getattr(torch, _dt)


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` that resolves only the globals of `_ALLOWED` and refuses persistent ids."""

    def find_class(self, module: str, name: str) -> Any:
        # Protocols < 3 write Python 2 names (__builtin__.set, copy_reg._reconstructor): map them first.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        obj = _ALLOWED.get((module, name))
        if obj is None:
            raise UnsafePickleError(
                f"the pickle asks for {module}.{name}, which an NVlabs network pickle does not need; "
                f"refused (nothing was executed)"
            )
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"unexpected persistent id {pid!r} (a torch.save file? load it with torch.load)"
        )


def read_nvlabs_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """The snapshot dict of an NVlabs pickle, networks as `PersistentStub`s; refuses anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as f:
        try:
            data = RestrictedUnpickler(f).load()
        except UnsafePickleError as e:
            raise UnsafePickleError(f"{path}: {e}") from None
        except Exception as e:  # truncated, not a pickle, storage bytes refused by weights_only …
            raise ValueError(f"{path}: not a readable NVlabs network pickle ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict) or not any(isinstance(v, PersistentStub) for v in data.values()):
        raise ValueError(
            f"{path}: not an NVlabs network snapshot (expected a dict holding G/D/G_ema networks)"
        )
    return data


def stub_state_dict(stub: PersistentStub, prefix: str = "") -> OrderedDict[str, torch.Tensor]:
    """Parameters and buffers of `stub` and its sub-modules, named as `Module.state_dict()` would name them."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for group in ("_parameters", "_buffers"):
        for name, t in (stub.state.get(group) or {}).items():
            if t is not None:
                if not isinstance(t, torch.Tensor):
                    raise ValueError(f"{stub.class_name}.{name} is a {type(t).__name__}, not a tensor")
                out[prefix + name] = t
    non_persistent = stub.state.get("_non_persistent_buffers_set") or set()
    for name in non_persistent:
        out.pop(prefix + name, None)
    for name, child in stub.children().items():
        if child is None:
            continue
        if not isinstance(child, PersistentStub):
            raise ValueError(
                f"sub-module {prefix}{name} of {stub.class_name} is a {type(child).__name__}, "
                f"not an NVlabs persistent network"
            )
        out.update(stub_state_dict(child, f"{prefix}{name}."))
    return out


def _plain(value: Any) -> Any:
    """EasyDicts and OrderedDicts → dicts, tuples kept, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value

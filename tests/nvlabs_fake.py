"""Write NVlabs-style network pickles without NVlabs' code, for the importer tests.

`torch_utils.persistence` pickles each network as `_reconstruct_persistent_obj(meta)` with meta =
{type: 'class', version: 6, module_src: <the module's source>, class_name, state: the module's __dict__}.
`write_snapshot` builds that byte stream from NVlabs-layout state dicts (`export_nvlabs`), with fake
`torch_utils.persistence` / `dnnlib.util` modules registered only while pickling. `module_src` is whatever
the test passes — e.g. code that writes a file, to prove the importer never executes it.
"""

from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

BUFFERS = {"resample_filter", "noise_const", "w_avg"}


def _reconstruct_persistent_obj(meta):  # never called: the importer replaces it
    raise AssertionError("the importer must not call the persistence reconstructor")


class EasyDict(dict):
    """Stands for dnnlib.util.EasyDict in the written stream."""


class Persistent:
    """Pickles as torch_utils.persistence does."""

    def __init__(self, class_name: str, module_src: str):
        self.class_name, self.module_src = class_name, module_src
        self.state: dict[str, Any] = {
            "training": False,
            "_parameters": OrderedDict(),
            "_buffers": OrderedDict(),
            "_non_persistent_buffers_set": set(),
            "_modules": OrderedDict(),
        }

    def __reduce__(self):
        meta = dict(
            type="class", version=6, module_src=self.module_src, class_name=self.class_name, state=self.state
        )
        return (_reconstruct_persistent_obj, (meta,))


def tree(state: dict[str, torch.Tensor], root_class: str, init_kwargs: dict, module_src: str) -> Persistent:
    """Nested persistent objects holding `state` (NVlabs names) under a root of class `root_class`."""
    root = Persistent(root_class, module_src)
    root.state["_init_args"] = ()
    root.state["_init_kwargs"] = EasyDict(init_kwargs)
    root.state["act_gain"] = __import__("numpy").sqrt(2)  # NVlabs layers keep numpy scalars like this
    for key, value in state.items():
        *path, leaf = key.split(".")
        node = root
        for part in path:
            node = node.state["_modules"].setdefault(part, Persistent("Layer", module_src))
        if leaf in BUFFERS:
            node.state["_buffers"][leaf] = value.clone()
        else:
            node.state["_parameters"][leaf] = torch.nn.Parameter(value.clone())
    return root


def write_snapshot(
    path: Path, nets: dict[str, Persistent | None], extra: dict | None = None, protocol: int = 4
) -> None:
    """pickle.dump(dict(G=..., D=..., G_ema=..., training_set_kwargs=...)) as NVlabs' training loop does."""
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = EasyDict
    EasyDict.__module__ = "dnnlib.util"
    saved = {
        k: sys.modules.get(k) for k in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")
    }
    sys.modules.update(
        {
            "torch_utils": types.ModuleType("torch_utils"),
            "torch_utils.persistence": persistence,
            "dnnlib": types.ModuleType("dnnlib"),
            "dnnlib.util": util,
        }
    )
    try:
        data = dict(nets) | {
            "augment_pipe": None,
            "training_set_kwargs": EasyDict(path="dogs.zip", resolution=32),
        }
        data.update(extra or {})
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=protocol)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v

"""NVlabs StyleGAN2-ADA networks ↔ ours: constructor kwargs, parameter names, weight layout; import and export.

Our Generator/Discriminator have exactly NVlabs' parameters (`training/networks.py` of stylegan2-ada-pytorch,
`networks_stylegan2.py` of stylegan3); only names and one layout differ:
- G: `mapping.fc{i}` ↔ `mapping.layers.{i}`, `synthesis.b{res}` ↔ `synthesis.blocks.b{res}`; the weights of the
  upsampling convolutions (`conv0` of every synthesis block) are stored spatially flipped relative to ours
  (NVlabs runs them as a transposed convolution with `flip_weight=False`).
- D: `b{res}` ↔ `blocks.b{res}`, `b4` ↔ `epilogue`; NVlabs' block-level `resample_filter` buffers (the
  fixed [1, 3, 3, 1] filter, also held by each layer) have no counterpart here.
Checked against NVlabs' own code: images equal to 2e-6 and D logits exactly after conversion
(`experiments/nvlabs_interop_<date>.md`).

    nets = load_nvlabs_pickle("network-snapshot-001000.pkl")   # never executes the pickle's code
    nets.G_ema(z, noise_mode="const")
    state, kwargs = export_nvlabs(G)                             # NVlabs names, for their load_state_dict
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

from sdstylegan.interop.nvlabs_pickle import PersistentStub, read_nvlabs_pickle, stub_state_dict
from sdstylegan.models.discriminator import Discriminator
from sdstylegan.models.generator import Generator

# NVlabs defaults (training/networks.py) for kwargs a pickle may leave out.
NV_MAPPING_DEFAULTS = {
    "num_layers": 8,
    "lr_multiplier": 0.01,
    "w_avg_beta": 0.995,
    "activation": "lrelu",
    "embed_features": None,
    "layer_features": None,
}
NV_SYNTHESIS_DEFAULTS = {
    "channel_base": 32768,
    "channel_max": 512,
    "num_fp16_res": 0,
    "conv_clamp": None,
    "architecture": "skip",
    "resample_filter": [1, 3, 3, 1],
    "use_noise": True,
}
NV_D_DEFAULTS = {
    "architecture": "resnet",
    "channel_base": 32768,
    "channel_max": 512,
    "num_fp16_res": 0,
    "conv_clamp": None,
    "cmap_dim": None,
}


class UnsupportedNetworkError(ValueError):
    """An NVlabs network this project cannot represent (conditional, other architecture, …)."""


# ---------------------------------------------------------------------------- names and layout


def g_key_from_nvlabs(key: str) -> str:
    key = re.sub(r"^mapping\.fc(\d+)\.", r"mapping.layers.\1.", key)
    return re.sub(r"^synthesis\.b(\d+)\.", r"synthesis.blocks.b\1.", key)


def g_key_to_nvlabs(key: str) -> str:
    key = re.sub(r"^mapping\.layers\.(\d+)\.", r"mapping.fc\1.", key)
    return re.sub(r"^synthesis\.blocks\.b(\d+)\.", r"synthesis.b\1.", key)


def d_key_from_nvlabs(key: str) -> str:
    return "epilogue." + key[3:] if key.startswith("b4.") else re.sub(r"^b(\d+)\.", r"blocks.b\1.", key)


def d_key_to_nvlabs(key: str) -> str:
    return (
        "b4." + key[len("epilogue.") :]
        if key.startswith("epilogue.")
        else re.sub(r"^blocks\.b(\d+)\.", r"b\1.", key)
    )


def _is_up_conv(key: str) -> bool:
    """Synthesis `conv0.weight`: the upsampling layer of each block (b4 has none)."""
    return re.fullmatch(r"synthesis\.(blocks\.)?b\d+\.conv0\.weight", key) is not None


def generator_state_from_nvlabs(state: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """NVlabs G (or G_ema) state dict → ours."""
    out = OrderedDict()
    for k, v in state.items():
        out[g_key_from_nvlabs(k)] = v.flip([2, 3]) if _is_up_conv(k) else v
    return out


def generator_state_to_nvlabs(state: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Our G state dict → NVlabs names and layout."""
    out = OrderedDict()
    for k, v in state.items():
        out[g_key_to_nvlabs(k)] = v.flip([2, 3]).contiguous() if _is_up_conv(k) else v
    return out


def discriminator_state_from_nvlabs(state: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """NVlabs D state dict → ours (block-level filter buffers dropped: each layer holds the same filter)."""
    return OrderedDict(
        (d_key_from_nvlabs(k), v) for k, v in state.items() if not re.fullmatch(r"b\d+\.resample_filter", k)
    )


def discriminator_state_to_nvlabs(D: Discriminator) -> OrderedDict[str, torch.Tensor]:
    """Our D → NVlabs names, with the block-level filter buffers NVlabs' blocks register."""
    out = OrderedDict()
    for k, v in D.state_dict().items():
        m = re.match(r"blocks\.b(\d+)\.", k)
        if m and f"b{m.group(1)}.resample_filter" not in out:
            out[f"b{m.group(1)}.resample_filter"] = D.blocks[f"b{m.group(1)}"].conv0.resample_filter.clone()
        out[d_key_to_nvlabs(k)] = v
    return out


# ---------------------------------------------------------------------------- constructor kwargs


def generator_kwargs_from_nvlabs(kw: dict[str, Any]) -> dict[str, Any]:
    """NVlabs Generator init kwargs → our Generator's (refusing what ours cannot represent)."""
    if kw.get("c_dim", 0):
        raise UnsupportedNetworkError(
            f"conditional generator (c_dim={kw['c_dim']}): only c_dim = 0 is supported"
        )
    mapping = NV_MAPPING_DEFAULTS | dict(kw.get("mapping_kwargs") or {})
    # stylegan2-ada passes synthesis_kwargs as one dict; stylegan3's networks_stylegan2 takes them as **kwargs
    syn_given = dict(kw.get("synthesis_kwargs") or {}) | {
        k: v for k, v in kw.items() if k in NV_SYNTHESIS_DEFAULTS
    }
    syn = NV_SYNTHESIS_DEFAULTS | syn_given
    if syn["architecture"] != "skip":
        raise UnsupportedNetworkError(
            f"synthesis architecture {syn['architecture']!r}: only 'skip' (config F) is supported"
        )
    if mapping["activation"] != "lrelu":
        raise UnsupportedNetworkError(
            f"mapping activation {mapping['activation']!r}: only 'lrelu' is supported"
        )
    if mapping["layer_features"] not in (None, kw["w_dim"]):
        raise UnsupportedNetworkError(
            f"mapping layer_features={mapping['layer_features']} ≠ w_dim: not supported"
        )
    return dict(
        z_dim=int(kw["z_dim"]),
        w_dim=int(kw["w_dim"]),
        img_resolution=int(kw["img_resolution"]),
        img_channels=int(kw["img_channels"]),
        mapping_layers=int(mapping["num_layers"]),
        mapping_lr_multiplier=float(mapping["lr_multiplier"]),
        w_avg_beta=float(mapping["w_avg_beta"]) if mapping["w_avg_beta"] is not None else 0.995,
        channel_base=int(syn["channel_base"]),
        channel_max=int(syn["channel_max"]),
        num_fp16_res=int(syn["num_fp16_res"]),
        conv_clamp=syn["conv_clamp"],
        resample_filter=tuple(syn["resample_filter"]),
        use_noise=bool(syn["use_noise"]),
    )


def generator_kwargs_to_nvlabs(G: Generator) -> dict[str, Any]:
    """Init kwargs for NVlabs' `training.networks.Generator` equivalent to our G."""
    k = G.init_kwargs
    return dict(
        z_dim=k["z_dim"],
        c_dim=0,
        w_dim=k["w_dim"],
        img_resolution=k["img_resolution"],
        img_channels=k["img_channels"],
        mapping_kwargs=dict(
            num_layers=k["mapping_layers"],
            lr_multiplier=k["mapping_lr_multiplier"],
            w_avg_beta=k["w_avg_beta"],
        ),
        synthesis_kwargs=dict(
            channel_base=k["channel_base"],
            channel_max=k["channel_max"],
            num_fp16_res=k["num_fp16_res"],
            conv_clamp=k["conv_clamp"],
            architecture="skip",
            resample_filter=list(k["resample_filter"]),
            use_noise=k["use_noise"],
        ),
    )


def discriminator_kwargs_from_nvlabs(kw: dict[str, Any]) -> dict[str, Any]:
    """NVlabs Discriminator init kwargs → ours."""
    if kw.get("c_dim", 0):
        raise UnsupportedNetworkError(
            f"conditional discriminator (c_dim={kw['c_dim']}): only c_dim = 0 is supported"
        )
    d = NV_D_DEFAULTS | {k: v for k, v in kw.items() if k in NV_D_DEFAULTS}
    if d["architecture"] != "resnet":
        raise UnsupportedNetworkError(
            f"discriminator architecture {d['architecture']!r}: only 'resnet' is supported"
        )
    block = dict(kw.get("block_kwargs") or {})
    epilogue = dict(kw.get("epilogue_kwargs") or {})
    return dict(
        img_resolution=int(kw["img_resolution"]),
        img_channels=int(kw["img_channels"]),
        channel_base=int(d["channel_base"]),
        channel_max=int(d["channel_max"]),
        num_fp16_res=int(d["num_fp16_res"]),
        conv_clamp=d["conv_clamp"],
        mbstd_group_size=int(epilogue.get("mbstd_group_size", 4) or 0),
        mbstd_num_channels=int(epilogue.get("mbstd_num_channels", 1)),
        resample_filter=tuple(block.get("resample_filter", (1, 3, 3, 1))),
    )


def discriminator_kwargs_to_nvlabs(D: Discriminator) -> dict[str, Any]:
    """Init kwargs for NVlabs' `training.networks.Discriminator` equivalent to our D."""
    k = D.init_kwargs
    return dict(
        c_dim=0,
        img_resolution=k["img_resolution"],
        img_channels=k["img_channels"],
        architecture="resnet",
        channel_base=k["channel_base"],
        channel_max=k["channel_max"],
        num_fp16_res=k["num_fp16_res"],
        conv_clamp=k["conv_clamp"],
        block_kwargs=dict(resample_filter=list(k["resample_filter"])),
        epilogue_kwargs=dict(
            mbstd_group_size=k["mbstd_group_size"], mbstd_num_channels=k["mbstd_num_channels"]
        ),
    )


# ---------------------------------------------------------------------------- import / export


@dataclass
class NVlabsNetworks:
    """Networks of an NVlabs snapshot rebuilt as ours (eval mode, no gradients); absent ones are None."""

    G_ema: Generator | None
    G: Generator | None
    D: Discriminator | None
    training_set_kwargs: dict[str, Any] = field(default_factory=dict)


def _load(net: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> torch.nn.Module:
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UnsupportedNetworkError(
            f"{what}: {len(missing)} weights missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}) after conversion"
        )
    return net.eval().requires_grad_(False)


def generator_from_stub(stub: PersistentStub, what: str = "G") -> Generator:
    if stub.class_name != "Generator":
        raise UnsupportedNetworkError(f"{what} is a {stub.class_name}, expected an NVlabs Generator")
    G = Generator(**generator_kwargs_from_nvlabs(stub.init_kwargs))
    return _load(G, generator_state_from_nvlabs(stub_state_dict(stub)), what)


def discriminator_from_stub(stub: PersistentStub, what: str = "D") -> Discriminator:
    if stub.class_name != "Discriminator":
        raise UnsupportedNetworkError(f"{what} is a {stub.class_name}, expected an NVlabs Discriminator")
    D = Discriminator(**discriminator_kwargs_from_nvlabs(stub.init_kwargs))
    return _load(D, discriminator_state_from_nvlabs(stub_state_dict(stub)), what)


def load_nvlabs_pickle(
    path: str | os.PathLike, which: tuple[str, ...] = ("G_ema", "G", "D")
) -> NVlabsNetworks:
    """Our networks from an NVlabs/SDIP `.pkl` (read as data: its stored source code is never executed)."""
    data = read_nvlabs_pickle(path)
    nets: dict[str, Any] = {}
    for name in ("G_ema", "G", "D"):
        stub = data.get(name)
        if name not in which or stub is None:
            nets[name] = None
        elif not isinstance(stub, PersistentStub):
            raise ValueError(f"{path}: '{name}' is a {type(stub).__name__}, not a network")
        else:
            build = discriminator_from_stub if name == "D" else generator_from_stub
            nets[name] = build(stub, f"{path}: {name}")
    if nets["G_ema"] is None and nets["G"] is None and ("G_ema" in which or "G" in which):
        raise ValueError(f"{path}: holds no G_ema or G")
    tsk = data.get("training_set_kwargs")
    return NVlabsNetworks(nets["G_ema"], nets["G"], nets["D"], dict(tsk) if isinstance(tsk, dict) else {})


def export_nvlabs(net: Generator | Discriminator) -> tuple[OrderedDict[str, torch.Tensor], dict[str, Any]]:
    """(state dict in NVlabs' names and layout, NVlabs constructor kwargs) for our G or D."""
    if isinstance(net, Generator):
        return generator_state_to_nvlabs(net.state_dict()), generator_kwargs_to_nvlabs(net)
    if isinstance(net, Discriminator):
        return discriminator_state_to_nvlabs(net), discriminator_kwargs_to_nvlabs(net)
    raise TypeError(f"export_nvlabs takes a Generator or Discriminator, got {type(net).__name__}")


def generator_from_nvlabs_state(state: dict[str, torch.Tensor], kwargs: dict[str, Any]) -> Generator:
    """Our G from an NVlabs-layout state dict and NVlabs Generator kwargs (e.g. what `export_nvlabs` wrote)."""
    return _load(Generator(**generator_kwargs_from_nvlabs(kwargs)), generator_state_from_nvlabs(state), "G")

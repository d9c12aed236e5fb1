"""Export a network of ours in NVlabs' layout: a plain state dict NVlabs' own classes load, no pickled code.

    python -m sdstylegan.interop.export outputs/yerba_mate --which G_ema --out mate_G_ema.pt
    python -m sdstylegan.interop.export path/to/last.ckpt --which D --out mate_D.pt

Writes `<out>` (`torch.save` of the state dict, NVlabs parameter names and weight layout) and `<out>.json`
(the `training.networks.Generator` / `Discriminator` constructor kwargs). In a stylegan2-ada-pytorch checkout:

    G = training.networks.Generator(**json.load(open("mate_G_ema.pt.json"))["init_kwargs"])
    G.load_state_dict(torch.load("mate_G_ema.pt"))
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from sdstylegan.interop.nvlabs_networks import export_nvlabs
from sdstylegan.training.checkpoint import find_checkpoint, load_network
from sdstylegan.utils.io import atomic_open

NVLABS_CLASS = {
    "G_ema": "training.networks.Generator",
    "G": "training.networks.Generator",
    "D": "training.networks.Discriminator",
}


def export_file(source: str | Path, which: str, out: str | Path) -> Path:
    """Export network `which` of a checkpoint / run directory / NVlabs pickle to `out` (+ `out`.json)."""
    if which not in NVLABS_CLASS:
        raise ValueError(f"--which must be one of {list(NVLABS_CLASS)}, got {which!r}")
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose another --out")
    net = load_network(find_checkpoint(source).checkpoint, which=which)
    state, kwargs = export_nvlabs(net)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "wb") as f:
        torch.save(state, f)
    meta = {"class": NVLABS_CLASS[which], "init_kwargs": kwargs, "source": str(source), "which": which}
    with atomic_open(out.with_name(out.name + ".json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sdstylegan.interop.export",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    p.add_argument("source", help="run directory, checkpoint file or NVlabs .pkl")
    p.add_argument("--which", default="G_ema", choices=sorted(NVLABS_CLASS))
    p.add_argument(
        "--out", required=True, help="output .pt (a .json with the constructor kwargs goes beside it)"
    )
    args = p.parse_args(argv)
    try:
        out = export_file(args.source, args.which, args.out)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.which} of {args.source} → {out} (+ {out.name}.json), NVlabs layout")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Check the NVlabs importer/exporter against NVlabs' own code (needs a local stylegan2-ada-pytorch checkout).

    python experiments/check_nvlabs_interop.py --nvlabs-repo /path/to/stylegan2-ada-pytorch

For several architectures (tiny, StyleGAN2-ADA `auto` at 64², config F at 64² with fp16 layers and clamping)
it builds G and D with NVlabs' `training.networks`, randomises every weight, writes a snapshot with their
pickling (`torch_utils.persistence`), then
1. imports it with `load_nvlabs_pickle` (which never runs the pickle's code) and compares G_ema images
   (fixed z, noise_mode='const') and D logits with NVlabs' forward;
2. exports our imported G/D with `export_nvlabs` and loads that into fresh NVlabs networks with
   `load_state_dict(strict=True)`, comparing again.
NVlabs' code runs here only to produce references; it is never imported by sdstylegan.
"""

from __future__ import annotations

import argparse
import copy
import pickle
import sys
import tempfile
from pathlib import Path

import torch

ARCHS = {
    "tiny_32": dict(res=32, z=16, w=16, map=2, base=256, cmax=16, fp16=0, clamp=None),
    "auto_64": dict(res=64, z=512, w=512, map=2, base=16384, cmax=512, fp16=4, clamp=256),
    "configF_64": dict(res=64, z=512, w=512, map=8, base=32768, cmax=512, fp16=4, clamp=256),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nvlabs-repo", required=True)
    args = p.parse_args()
    sys.path.insert(0, str(Path(args.nvlabs_repo).resolve()))
    import dnnlib  # NVlabs
    from training import networks  # NVlabs

    from sdstylegan.interop.nvlabs_networks import export_nvlabs, load_nvlabs_pickle

    print(
        "| architecture | G_ema import max abs Δ | D import max abs Δ | G export→NVlabs Δ | D export→NVlabs Δ |"
    )
    print("|---|---|---|---|---|")
    for name, a in ARCHS.items():
        torch.manual_seed(0)
        gk = dict(
            z_dim=a["z"],
            c_dim=0,
            w_dim=a["w"],
            img_resolution=a["res"],
            img_channels=3,
            mapping_kwargs=dict(num_layers=a["map"]),
            synthesis_kwargs=dict(
                channel_base=a["base"], channel_max=a["cmax"], num_fp16_res=a["fp16"], conv_clamp=a["clamp"]
            ),
        )
        dk = dict(
            c_dim=0,
            img_resolution=a["res"],
            img_channels=3,
            channel_base=a["base"],
            channel_max=a["cmax"],
            num_fp16_res=a["fp16"],
            conv_clamp=a["clamp"],
            epilogue_kwargs=dict(mbstd_group_size=4),
        )
        G = networks.Generator(**gk).eval()
        D = networks.Discriminator(**dk).eval()
        with torch.no_grad():
            for q in list(G.parameters()) + list(D.parameters()):
                q.copy_(torch.randn_like(q) * 0.5)
            G.mapping.w_avg.normal_()
        snap = dict(
            G=G,
            D=D,
            G_ema=copy.deepcopy(G),
            augment_pipe=None,
            training_set_kwargs=dnnlib.EasyDict(path="data.zip", resolution=a["res"]),
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "network-snapshot.pkl"
            with open(path, "wb") as f:
                pickle.dump(snap, f)
            ours = load_nvlabs_pickle(path)
        z = torch.randn(4, a["z"])
        x = torch.randn(4, 3, a["res"], a["res"])
        with torch.no_grad():
            # NVlabs runs its fp16 layers in fp16 even on the CPU (very slow there); ours runs fp32 off-GPU.
            ref_img, ref_d = G(z, None, noise_mode="const", force_fp32=True), D(x, None, force_fp32=True)
            dg = (ours.G_ema(z, noise_mode="const") - ref_img).abs().max().item()
            dd = (ours.D(x) - ref_d).abs().max().item()
            G2, D2 = networks.Generator(**gk).eval(), networks.Discriminator(**dk).eval()
            G2.load_state_dict(export_nvlabs(ours.G_ema)[0], strict=True)
            D2.load_state_dict(export_nvlabs(ours.D)[0], strict=True)
            eg = (G2(z, None, noise_mode="const", force_fp32=True) - ref_img).abs().max().item()
            ed = (D2(x, None, force_fp32=True) - ref_d).abs().max().item()
        print(f"| {name} | {dg:.2e} | {dd:.2e} | {eg:.2e} | {ed:.2e} |", flush=True)


if __name__ == "__main__":
    main()

"""Images from a trained generator: one PNG per seed, optionally a grid, with global or multi-modal truncation.

    python -m sdstylegan.generate outputs/yerba_mate --seeds 0-63 --psi 0.7 --grid
    python -m sdstylegan.generate outputs/yerba_mate --seeds 0-31 --truncation multimodal --psi 0.5
    python -m sdstylegan.generate path/to/last.ckpt --seeds 1,5,9 --truncation none --outdir mates/

The first argument is a run directory (the latest training checkpoint it holds: `train`, else
`train_raw`) or a checkpoint file. z of seed s is `numpy.random.RandomState(s).randn(z_dim)` (the
convention of StyleGAN2-ADA's generate script), so a seed names the same latent there and here.
Truncation: `mean` pulls w towards the tracked w_avg; `multimodal` towards the cluster centre of the
`cluster` stage (`<run>/cluster/centres.pt` or `--centres`) nearest by LPIPS (`--distance lpips`, the
paper's choice; LPIPS from the run's `metrics.lpips`) or in W (`--distance w`); `none` = ψ ignored.
Files: `<outdir>/seed<s>.png` (written atomically; existing files are overwritten only with --force).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from sdstylegan.distill.truncation import broadcast_ws, multimodal_truncate, render
from sdstylegan.training.checkpoint import find_checkpoint, load_generator
from sdstylegan.utils.pictures import image_grid, save_png
from sdstylegan.utils.safe_build import LPIPS_TARGETS, build_trusted

TRUNCATIONS = ("mean", "multimodal", "none")
NOISE_MODES = ("const", "random", "none")


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' → [0, 1, 2, 3, 7, 10, 11] (order kept, duplicates dropped); seeds are ≥ 0."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None:
            raise ValueError(f"--seeds: {part!r} is not a seed (N) or a range (A-B) of non-negative integers")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if b < a:
            raise ValueError(f"--seeds: range {part!r} ends before it starts")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise ValueError("--seeds: no seed given")
    return list(dict.fromkeys(seeds))


def seed_latents(seeds: list[int], z_dim: int) -> torch.Tensor:
    """z [N, z_dim] with z_s = RandomState(s).randn(z_dim) (StyleGAN2-ADA's convention)."""
    return torch.from_numpy(np.stack([np.random.RandomState(s).randn(z_dim) for s in seeds])).float()


def load_centres(path: Path) -> torch.Tensor:
    """Cluster centres [K, w_dim] saved by the cluster stage."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no cluster centres; run the cluster stage first or pass --centres")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or "centres" not in saved:
        raise ValueError(f"{path}: not a centres file of the cluster stage (no 'centres' entry)")
    return saved["centres"].float()


def build_lpips(run_dir: Path | None) -> torch.nn.Module:
    """The run's `metrics.lpips` (its saved config.yaml), for choosing centres perceptually."""
    cfg_path = run_dir / "config.yaml" if run_dir is not None else None
    if cfg_path is None or not cfg_path.is_file():
        raise FileNotFoundError(
            "--distance lpips needs the run's config.yaml (for metrics.lpips); "
            "pass the run directory, or use --distance w"
        )
    node = OmegaConf.to_container(OmegaConf.load(cfg_path).metrics.lpips, resolve=True)
    # A saved config is data: only the LPIPS constructor may be built from it (utils.safe_build).
    return build_trusted(node, LPIPS_TARGETS, origin=str(cfg_path), where="metrics.lpips")


@torch.no_grad()
def generate(
    G: torch.nn.Module,
    seeds: list[int],
    psi: float = 1.0,
    truncation: str = "mean",
    noise_mode: str = "const",
    centres: torch.Tensor | None = None,
    distance: str = "lpips",
    lpips: torch.nn.Module | None = None,
    batch: int = 16,
    lpips_resolution: int | None = 256,
) -> torch.Tensor:
    """Images [N, C, R, R] in [-1, 1] for `seeds` (see the module docstring for the options)."""
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
    if psi < 0:
        raise ValueError(f"psi must be ≥ 0, got {psi}")
    device = next(G.parameters()).device
    z = seed_latents(seeds, G.z_dim).to(device)
    if truncation == "multimodal":
        if centres is None:
            raise ValueError("truncation='multimodal' needs the cluster centres")
        centres = centres.to(device)
        centre_images = render(G, centres, batch) if distance == "lpips" else None
        ws = multimodal_truncate(
            G,
            G.mapping(z),
            centres,
            psi,
            distance,
            lpips,
            centre_images,
            batch,
            lpips_resolution=lpips_resolution,
        )
    else:
        ws = G.mapping(z, truncation_psi=psi if truncation == "mean" else 1.0)
    out = []
    for k, wb in enumerate(broadcast_ws(G, ws).split(batch)):
        # Random noise is reproducible too: drawn from the first seed of the batch, the caller's RNG untouched.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seeds[k * batch])
            out.append(G.synthesis(wb, noise_mode=noise_mode).float().clamp(-1, 1).cpu())
    return torch.cat(out)


def render_latents(G: torch.nn.Module, path: Path, args: argparse.Namespace) -> int:
    """`--latents`: one PNG per stored latent ([N, num_ws, w_dim]); ψ truncates towards w_avg (`mean`)."""
    if args.truncation == "multimodal":
        raise ValueError("--latents renders with --truncation mean or none")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such latents file")
    saved = np.load(path, allow_pickle=False)
    if "w" not in saved:
        raise ValueError(f"{path}: no 'w' array (not a projected_w.npz)")
    ws = torch.from_numpy(saved["w"]).float().to(args.device)
    ws = ws.unsqueeze(1).expand(-1, G.num_ws, -1) if ws.ndim == 2 else ws
    if ws.ndim != 3 or ws.shape[1:] != (G.num_ws, G.w_dim):
        raise ValueError(
            f"{path}: latents of shape {tuple(ws.shape)} do not fit this generator "
            f"(num_ws={G.num_ws}, w_dim={G.w_dim})"
        )
    names = (
        [str(n) for n in saved["names"]] if "names" in saved else [f"latent{i:04d}" for i in range(len(ws))]
    )
    if args.truncation == "mean" and args.psi != 1:
        ws = G.mapping.w_avg.to(ws) + args.psi * (ws - G.mapping.w_avg.to(ws))
    outdir = Path(args.outdir) if args.outdir else path.parent / f"rendered_{args.truncation}_psi{args.psi:g}"
    targets = [outdir / f"{n}.png" for n in names]
    existing = [t for t in targets if t.exists()]
    if existing and not args.force:
        raise FileExistsError(f"{len(existing)} image(s) already in {outdir}; --force overwrites them")
    images = render(G, ws, args.batch).cpu()
    for img, target in zip(images, targets):
        save_png(image_grid(img[None], cols=1), target)
    if args.grid:
        save_png(image_grid(images), outdir / "grid.png")
    print(f"{len(names)} latents from {path} rendered in {outdir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sdstylegan.generate",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    p.add_argument("source", help="run directory (outputs/<experiment>) or checkpoint file")
    p.add_argument("--seeds", default="0-15", help="e.g. 0-63 or 1,5,9 (default 0-15)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation ψ: 0 = the centre, 1 = no truncation")
    p.add_argument("--truncation", choices=TRUNCATIONS, default="mean")
    p.add_argument(
        "--centres", help="centres.pt for --truncation multimodal (default <run>/cluster/centres.pt)"
    )
    p.add_argument(
        "--distance", choices=("lpips", "w"), default="lpips", help="how the nearest centre is chosen"
    )
    p.add_argument("--noise-mode", choices=NOISE_MODES, default="const")
    p.add_argument("--which", choices=("G_ema", "G"), default="G_ema")
    p.add_argument("--outdir", help="default <run>/generated/<truncation>_psi<ψ> or next to the checkpoint")
    p.add_argument("--grid", action="store_true", help="also write grid.png of all images")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--force", action="store_true", help="overwrite existing images")
    p.add_argument(
        "--latents", help="render stored latents (projected_w.npz of sdstylegan.project) instead of seeds"
    )
    args = p.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
        src = find_checkpoint(args.source)
        G = load_generator(src.checkpoint, which=args.which, map_location=args.device)
        if args.latents:
            return render_latents(G, Path(args.latents), args)
        centres, lpips = None, None
        if args.truncation == "multimodal":
            if args.centres is None and src.run_dir is None:
                raise ValueError("--truncation multimodal: pass --centres or a run directory")
            centres = load_centres(
                Path(args.centres) if args.centres else src.run_dir / "cluster" / "centres.pt"
            )
            if args.distance == "lpips":
                lpips = build_lpips(src.run_dir).to(args.device)
        base = src.run_dir / "generated" if src.run_dir else src.checkpoint.parent / "generated"
        outdir = Path(args.outdir) if args.outdir else base / f"{args.truncation}_psi{args.psi:g}"
        targets = [outdir / f"seed{s:04d}.png" for s in seeds]
        existing = [t for t in targets if t.exists()]
        if existing and not args.force:
            raise FileExistsError(
                f"{len(existing)} image(s) already in {outdir} (e.g. {existing[0].name}); "
                f"--force overwrites them, --outdir writes elsewhere"
            )
        images = generate(
            G, seeds, args.psi, args.truncation, args.noise_mode, centres, args.distance, lpips, args.batch
        )
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for img, target in zip(images, targets):
        save_png(image_grid(img[None], cols=1), target)
    if args.grid:
        save_png(image_grid(images), outdir / "grid.png")
    print(
        f"{len(seeds)} images from {src.checkpoint} ({args.which}, truncation={args.truncation}, ψ={args.psi:g}) "
        f"in {outdir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Invert photos into a generator: latents (NVlabs `projected_w.npz` layout), reconstructions, a before/after grid.

    python -m sdstylegan.project outputs/yerba_mate photos/*.jpg --space wplus --method encoder+projector
    python -m sdstylegan.project network-snapshot.pkl mate.jpg --space w --method projector --steps 1000
    python -m sdstylegan.project outputs/yerba_mate photos/*.jpg --resume outputs/yerba_mate/projected/projected_w.npz

Methods (sdstylegan.invert): `projector` (NVlabs' optimisation, batched, W or W+), `encoder` (the SDIP encoder
of the run's train_raw checkpoint) and `encoder+projector` (the encoder's latents refined). Images are
validated (broken files are skipped with a reason), centre-cropped and Lanczos-resized to the generator's
resolution. Writes `<outdir>/projected_w.npz` (`w`: [N, num_ws, w_dim], `names`, `space`, `method`),
`<name>.png` reconstructions and `before_after.png`; existing files are kept unless `--force`.
`python -m sdstylegan.generate <source> --latents <outdir>/projected_w.npz` renders stored latents again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sdstylegan.data.images import LoadedImage, load_image_file, square_resize
from sdstylegan.generate import build_lpips
from sdstylegan.invert.inversion import METHODS, invert
from sdstylegan.invert.projector import SPACES
from sdstylegan.metrics.lpips import LPIPS
from sdstylegan.training.checkpoint import find_checkpoint, load_generator, load_network
from sdstylegan.utils.pictures import image_grid, save_png


def load_targets(paths: list[str], resolution: int) -> tuple[torch.Tensor, list[str], list[str]]:
    """[-1, 1] images of the readable files, their names, and '<path>: <reason>' for the others."""
    images, names, skipped = [], [], []
    for p in paths:
        res = load_image_file(p)
        if not isinstance(res, LoadedImage):
            skipped.append(f"{p}: {res.reason} ({res.detail})")
            continue
        a = np.asarray(square_resize(res.image, resolution), dtype=np.float32)
        images.append(torch.from_numpy(a).permute(2, 0, 1) / 127.5 - 1)
        names.append(Path(p).stem)
    if len(set(names)) != len(names):
        names = [f"{i:04d}_{n}" for i, n in enumerate(names)]
    return (torch.stack(images) if images else torch.empty(0)), names, skipped


def _encoder(source: Path, run_dir: Path | None) -> torch.nn.Module:
    for ckpt in [source, *([run_dir / "train_raw" / "checkpoints" / "last.ckpt"] if run_dir else [])]:
        if ckpt.suffix != ".pkl" and ckpt.is_file():
            try:
                return load_network(ckpt, which="E")
            except ValueError:
                continue
    raise ValueError(
        "the encoder methods need an SDIP encoder E: pass a run directory with a train_raw stage "
        "or a train_raw checkpoint (an NVlabs .pkl has none)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sdstylegan.project",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    p.add_argument("source", help="run directory, checkpoint or NVlabs .pkl")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--space", choices=SPACES, default="w")
    p.add_argument("--method", choices=METHODS, default="projector")
    p.add_argument("--steps", type=int, default=1000, help="projector steps (NVlabs: 1000)")
    p.add_argument("--refine-steps", type=int, default=200, help="steps refining the encoder's latents")
    p.add_argument("--resume", help="projected_w.npz to start the projector from")
    p.add_argument(
        "--lpips",
        choices=("run", "vgg", "alex", "standin"),
        default="run",
        help="run: the run's metrics.lpips; vgg/alex: real weights; standin: random (tests only)",
    )
    p.add_argument("--outdir", help="default <run>/projected or next to the source")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    args = p.parse_args(argv)
    try:
        src = find_checkpoint(args.source)
        G = load_generator(src.checkpoint, map_location=args.device)
        outdir = Path(args.outdir) if args.outdir else (src.run_dir or src.checkpoint.parent) / "projected"
        npz = outdir / "projected_w.npz"
        if npz.exists() and not args.force:
            raise FileExistsError(f"{npz} exists; --force overwrites it, --outdir writes elsewhere")
        targets, names, skipped = load_targets(args.images, G.img_resolution)
        for line in skipped:
            print(f"skipped {line}", file=sys.stderr)
        if not names:
            raise ValueError("none of the images could be read")
        if args.lpips == "run":
            lpips = build_lpips(src.run_dir) if src.run_dir else LPIPS("vgg", pretrained=True)
        else:
            lpips = LPIPS(
                "vgg" if args.lpips == "standin" else args.lpips, pretrained=args.lpips != "standin"
            )
        lpips = lpips.to(args.device).eval().requires_grad_(False)
        E = _encoder(src.checkpoint, src.run_dir).to(args.device) if args.method != "projector" else None
        init = None
        if args.resume:
            saved = np.load(args.resume)
            init = torch.from_numpy(saved["w"]).float()
            if args.space == "w":
                init = init[:, 0]
        steps = args.steps if args.method == "projector" else args.refine_steps
        bar = tqdm(total=steps if args.method != "encoder" else 0, unit="step", desc=args.method)
        t0 = time.perf_counter()

        def tick(step: int, dist: float) -> None:
            bar.update(1)
            bar.set_postfix(
                lpips=f"{dist:.4f}", img_per_s=f"{len(names) * (step + 1) / (time.perf_counter() - t0):.1f}"
            )

        res = invert(
            G,
            targets.to(args.device),
            args.method,
            args.space,
            distance=lpips,
            E=E,
            steps=args.steps,
            refine_steps=args.refine_steps,
            init_ws=init,
            seed=args.seed,
            progress=tick,
        )
        bar.close()
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    outdir.mkdir(parents=True, exist_ok=True)
    ws = res.ws if res.ws.ndim == 3 else res.ws.unsqueeze(1).expand(-1, G.num_ws, -1)
    np.savez(
        npz,
        w=ws.cpu().numpy(),
        names=np.array(names),
        space=args.space,
        method=args.method,
        lpips=res.lpips.cpu().numpy(),
        mse=res.mse.cpu().numpy(),
    )
    for name, img in zip(names, res.images):
        save_png(image_grid(img[None].cpu(), cols=1), outdir / f"{name}.png")
    pairs = torch.stack([targets.cpu(), res.images.cpu()], dim=1).flatten(0, 1)  # target, reconstruction, …
    save_png(image_grid(pairs, cols=2), outdir / "before_after.png")
    label = "lpips_standin" if getattr(lpips, "is_standin", False) else "lpips"
    print(
        f"{len(names)} images → {npz} ({args.method}, {args.space}); mean {label} {res.lpips.mean():.4f}, "
        f"mse {res.mse.mean():.4f}, {res.seconds_per_image:.2f} s/image"
        + (f"; skipped {len(skipped)}" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line of artify: index a folder of art, then give content images the style of their best match.

    python -m sdstylegan.artify index --collection wikiart/ --out art.index
    python -m sdstylegan.artify transfer photo.jpg mate.png --index art.index --out artified/
    python -m sdstylegan.artify transfer outputs/yerba_mate --index art.index --seeds 0-7 --psi 0.7
    python -m sdstylegan.artify index --collection demo_art/ --out demo.index --config standin

Options after the paths are Hydra overrides of the `artify` config group (`conf/artify/`), e.g.
`artify.vgg.weights=/models/vgg19-dcbb9e9d.pth artify.transfer.optimizer=lbfgs`. `index` is resumable:
run it again after a kill (or with --max-images) and it continues. `transfer` takes image files, or a
run directory / checkpoint (its generator renders the content, one image per seed). Output: per content
image a folder with triptych.png, result.png and top5.json (`_standin` in the names with a stand-in VGG).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig


def conf_dir() -> Path:
    import sdstylegan

    path = Path(sdstylegan.__file__).resolve().parents[2] / "conf"
    if not (path / "artify" / "default.yaml").is_file():
        raise FileNotFoundError(
            f"{path}: the project's conf/ (with artify/) was not found; use pip install -e"
        )
    return path


def compose(config: str, overrides: list[str]) -> DictConfig:
    """The project config with the `artify` group (`default` or `standin`) and the overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
        return hydra_compose(config_name="config", overrides=[f"+artify={config}", *overrides])


def _split(items: list[str]) -> tuple[list[str], list[str]]:
    """Positional words → (paths, Hydra overrides `key=value`)."""
    over = [a for a in items if "=" in a and not Path(a).exists()]
    return [a for a in items if a not in over], over


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sdstylegan.artify",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("index", help="features of a folder of art images (resumable)")
    pi.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. artify.index.resolution=224")
    pi.add_argument("--collection", required=True, type=Path, help="folder of art images (any size)")
    pi.add_argument("--out", required=True, type=Path, help="index folder (created, or extended)")
    pi.add_argument("--max-images", type=int, help="index at most this many new files, then stop")
    pt = sub.add_parser("transfer", help="retrieve the best-matching artwork and transfer its style")
    pt.add_argument(
        "content", nargs="*", help="image files, run directories or checkpoints (+ Hydra overrides)"
    )
    pt.add_argument("--index", required=True, type=Path, help="index folder made by `index`")
    pt.add_argument("--out", type=Path, default=Path("artified"), help="output folder (default ./artified)")
    pt.add_argument("--seeds", help="seeds of generated content (default artify.generate.seeds)")
    pt.add_argument(
        "--psi", type=float, help="truncation ψ of generated content (default artify.generate.psi)"
    )
    for q in (pi, pt):
        q.add_argument("--config", default="default", help="artify config: default | standin")
        q.add_argument("--quiet", action="store_true", help="no progress bars")
    args, extra = p.parse_known_args(argv)
    unknown = [a for a in extra if a.startswith("-")]
    if unknown:
        p.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[%(name)s][%(levelname)s] %(message)s")
    from sdstylegan.artify.content import ContentError, load_contents
    from sdstylegan.artify.index import IndexMismatchError
    from sdstylegan.artify.run import run_index, run_transfer
    from sdstylegan.generate import parse_seeds
    from sdstylegan.utils.weights import WeightsNotFoundError

    words = (args.overrides if args.command == "index" else args.content) + extra
    paths, overrides = _split(words)
    try:
        acfg = compose(args.config, overrides).artify
        if args.command == "index":
            if paths:
                raise ValueError(f"index: unexpected arguments {paths} (overrides look like key=value)")
            if args.max_images is not None and args.max_images < 1:
                raise ValueError("--max-images must be ≥ 1")
            summary = run_index(acfg, args.collection, args.out, args.max_images, progress=not args.quiet)
            print(json.dumps({k: summary[k] for k in ("indexed", "skipped", "shards", "complete")}))
            return 0
        seeds = parse_seeds(args.seeds or str(acfg.generate.seeds))
        psi = float(args.psi if args.psi is not None else acfg.generate.psi)
        contents = load_contents(paths, int(acfg.transfer.resolution), seeds, psi, str(acfg.device))
        reports = run_transfer(acfg, contents, args.index, args.out, progress=not args.quiet)
    except (ContentError, IndexMismatchError, WeightsNotFoundError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in reports:
        best = r["styles"][0]
        print(f"{r['name']}: {best['key']} (score {best['score']:.2f}) → {r['files']['triptych']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

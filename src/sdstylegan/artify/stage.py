"""The `artify` pipeline stage: index `artify.collection`, then give the run's generated samples its styles.

Inputs: the art folder `artify.collection` (required); content from `artify.content` (image files) or else
the run's generator — `artify.checkpoint`, else the `train` (or `train_raw`) stage's checkpoint — one sample
per `artify.generate.seeds`. The index lives in `artify.index_dir` (shared between runs) or
`<run_dir>/artify/index`; re-running continues it. Needs the config group: `+artify=default` (or
`standin`). Outputs in `<run_dir>/artify/<content>/`, returned as {"index", "contents", "best"}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from sdstylegan.artify.content import generated, load_contents
from sdstylegan.generate import parse_seeds
from sdstylegan.pipeline.context import MissingInputError, StageContext


def group(cfg: DictConfig) -> DictConfig:
    acfg = cfg.get("artify")
    if acfg is None:
        raise ValueError("stage artify needs its config group: add +artify=default (or +artify=standin)")
    if not acfg.get("collection"):
        raise ValueError("stage artify: set artify.collection=/path/to/art (a folder of art images)")
    return acfg


def needs(cfg: DictConfig) -> list[str]:
    """The network the stage builds (pipeline preflight): the VGG, so missing weights stop the run at start."""
    group(cfg)
    return ["artify.vgg"]


def run_artify(ctx: StageContext) -> dict[str, Any]:
    """Stage `artify`: see the module docstring."""
    from sdstylegan.artify.run import run_index, run_transfer

    acfg = group(ctx.cfg)
    index_dir = Path(str(acfg.index_dir)).expanduser() if acfg.get("index_dir") else ctx.stage_dir / "index"
    run_index(acfg, Path(str(acfg.collection)).expanduser(), index_dir)
    seeds, resolution = parse_seeds(str(acfg.generate.seeds)), int(acfg.transfer.resolution)
    if acfg.get("content"):
        contents = load_contents([str(c) for c in acfg.content], resolution, seeds, float(acfg.generate.psi))
    else:
        if acfg.get("checkpoint"):
            source = Path(str(acfg.checkpoint)).expanduser()
        else:
            try:
                source = ctx.path(ctx.latest("checkpoint", "train_raw", "train"))
            except MissingInputError as e:
                raise MissingInputError(
                    f"stage artify: no content: {e}; or set artify.content / artify.checkpoint"
                ) from e
        contents = generated(source, seeds, float(acfg.generate.psi), resolution, str(acfg.device))
    reports = run_transfer(acfg, contents, index_dir, ctx.stage_dir)
    return {
        "index": ctx.relative(index_dir),
        "contents": [ctx.relative(ctx.stage_dir / r["name"]) for r in reports],
        "best": {r["name"]: r["styles"][0]["key"] for r in reports},
    }

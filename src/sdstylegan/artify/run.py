"""The two artify jobs from a config node (`conf/artify/*.yaml`): index a collection; retrieve and transfer.

`run_index` builds or extends the index and its ANN stage; `run_transfer` retrieves the top-k styles of
each content image (two-stage search, or the exact brute force with `search.exact`), transfers the best
one and writes `outputs.save_outputs`. The VGG must be the one the index was built with (its identity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from sdstylegan.artify.content import Content, ContentError
from sdstylegan.artify.index import build_index, image_tensor, index_summary
from sdstylegan.artify.outputs import save_outputs
from sdstylegan.artify.search import ArtIndex, build_ann, exact_search, load_ann, two_stage_search
from sdstylegan.artify.transfer import transfer
from sdstylegan.artify.vgg import VGGFeatures
from sdstylegan.data.images import ImageProblem
from sdstylegan.utils.io import write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def build_vgg(acfg: DictConfig) -> VGGFeatures:
    """The configured VGG, cut after the deepest layer either job needs."""
    t = acfg.transfer
    layers = (
        str(acfg.index.layer),
        str(t.match_layer),
        str(t.content_layer),
        *t.style_layers,
        *t.hist_layers,
    )
    return VGGFeatures(
        arch=str(acfg.vgg.arch),
        weights=acfg.vgg.weights,
        pretrained=bool(acfg.vgg.pretrained),
        layers=tuple(dict.fromkeys(layers)),
        width=float(acfg.vgg.width),
        seed=int(acfg.vgg.seed),
    ).to(str(acfg.device))


def run_index(
    acfg: DictConfig, collection: Path, out: Path, max_images: int | None = None, progress: bool = True
) -> dict[str, Any]:
    """Index (or extend) `out` from `collection`, then (re)build the ANN stage; returns the summary."""
    vgg = build_vgg(acfg)
    i = acfg.index
    run = build_index(
        collection,
        out,
        vgg,
        layer=str(i.layer),
        resolution=int(i.resolution),
        shard_size=int(i.shard_size),
        batch_size=int(i.batch_size),
        max_images=max_images,
        max_bytes=int(i.max_bytes) if i.max_bytes else None,
        device=str(acfg.device),
        progress=progress,
    )
    summary = {**index_summary(out), "this_run": run, "complete": max_images is None}
    if summary["indexed"]:
        summary["ann"] = build_ann(ArtIndex(out), str(i.ann))
    write_json(out / "index.json", summary)
    return summary


def run_transfer(
    acfg: DictConfig, contents: list[Content], index_dir: Path, out: Path, progress: bool = True
) -> list[dict[str, Any]]:
    """Retrieve and transfer for every content image; returns one report per content (also in top5*.json)."""
    vgg = build_vgg(acfg)
    index = ArtIndex(index_dir)
    if index.meta["vgg"] != vgg.identity:
        raise ValueError(
            f"--index {index_dir} was built with VGG {index.meta['vgg']}, the config gives {vgg.identity}; "
            f"use the same artify.vgg settings (or --config) as for the index"
        )
    s, t = acfg.search, acfg.transfer
    if not s.exact:
        load_ann(index, str(acfg.index.ann))
    device = str(acfg.device)
    reports = []
    for c in contents:
        with torch.no_grad():
            small = torch.nn.functional.interpolate(
                c.image, size=(index.resolution,) * 2, mode="bicubic", antialias=True
            )
            fmap = vgg(small.clamp(-1, 1).to(device), (index.layer,))[index.layer].float().cpu()
        hits = (
            exact_search(index, fmap, int(s.top_k))
            if s.exact
            else two_stage_search(index, fmap, int(s.shortlist), int(s.top_k))
        )
        style = image_tensor(hits[0].path, int(t.resolution))
        if isinstance(style, ImageProblem):
            raise ContentError(
                f"retrieved style {hits[0].path}: {style.reason}: {style.detail} (moved or changed since indexing?)"
            )
        content = (
            c.image
            if c.image.shape[-1] == int(t.resolution)
            else torch.nn.functional.interpolate(
                c.image, size=(int(t.resolution),) * 2, mode="bicubic", antialias=True
            ).clamp(-1, 1)
        )
        res = transfer(
            vgg,
            content.to(device),
            style[None].to(device),
            dict(t.weights),
            match_layer=str(t.match_layer),
            content_layer=str(t.content_layer),
            style_layers=tuple(t.style_layers),
            hist_layers=tuple(t.hist_layers),
            optimizer=str(t.optimizer),
            iterations=int(t.iterations),
            lr=float(t.lr),
            init=str(t.init),
            normalize_losses=bool(t.normalize_losses),
            log_every=int(t.log_every),
            seed=int(t.seed),
            progress=progress,
        )
        report = {
            "content": c.source,
            "styles": [h.as_dict() for h in hits],
            "search": "exact" if s.exact else f"two-stage (ANN {acfg.index.ann}, shortlist {s.shortlist})",
            "vgg": vgg.identity,
            "match_similarity": res.match_similarity,
            "transfer_seconds": res.seconds,
            "optimizer": str(t.optimizer),
            "iterations": int(t.iterations),
            "losses": res.losses,
        }
        files = save_outputs(out / c.name, content, style[None], res.image.cpu(), report, vgg.is_standin)
        log.info(
            "artify: %s → %s (score %.2f) in %.1f s: %s",
            c.name,
            hits[0].key,
            hits[0].score,
            res.seconds,
            files["triptych"],
        )
        reports.append({**report, "files": files, "name": c.name})
    return reports

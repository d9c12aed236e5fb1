"""CorLoc: the fraction of images whose predicted box has IoU ≥ 0.5 with at least one ground-truth box.

Used after the crop stage on the demo ground truth, and from the command line on a local copy of
PASCAL VOC07 / VOC12 trainval or COCO20k, to check the published ViT-S/16 numbers (TokenCut, Wang et
al. 2022: 68.8 / 72.1 / 58.8):

    python -m sdstylegan.detect.corloc voc --root /data/VOCdevkit/VOC2007 --out voc07.json
    python -m sdstylegan.detect.corloc voc --root /data/VOCdevkit/VOC2012
    python -m sdstylegan.detect.corloc coco20k --root /data/coco/train2014 \\
        --annotations instances_train2014.json --filenames coco_20k_filenames.txt

Conventions (those of the LOST/TokenCut evaluation): VOC boxes are 1-based inclusive pixel indices,
read as (xmin − 1, ymin − 1, xmax, ymax) with exclusive ends; every object counts (difficult and
truncated ones too, unless `--remove-hard`); COCO boxes [x, y, w, h] → (x, y, x + w, y + h), crowd
regions skipped. Images are used at full size (`--max-side 0`), as published; every image with at
least one ground-truth box counts, an image the detector cannot read counts as a miss.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdstylegan.data.boxes import Box, box_iou


@dataclass
class CorLocResult:
    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else float("nan")


def corloc(
    preds: Mapping[Hashable, Sequence[float] | None],
    gts: Mapping[Hashable, Sequence[Sequence[float]]],
    iou_threshold: float = 0.5,
) -> CorLocResult:
    """CorLoc over the images of `gts` that have at least one box; a missing prediction is a miss."""
    hits = total = 0
    for key, boxes in gts.items():
        if not boxes:
            continue
        total += 1
        p = preds.get(key)
        if p is not None and any(box_iou(p, g) >= iou_threshold for g in boxes):
            hits += 1
    return CorLocResult(hits, total)


# ---------------------------------------------------------------------------- datasets


def read_voc(
    root: str | Path, image_set: str = "trainval", remove_hard: bool = False
) -> list[tuple[Path, list[Box]]]:
    """(image path, boxes) for `ImageSets/Main/<image_set>.txt` of a VOC folder (VOCdevkit/VOC2007)."""
    root = Path(root)
    listing = root / "ImageSets" / "Main" / f"{image_set}.txt"
    if not listing.is_file():
        raise FileNotFoundError(
            f"{listing} not found: --root must be a VOC year folder, e.g. VOCdevkit/VOC2007"
        )
    items = []
    for name in listing.read_text().split():
        tree = ET.parse(root / "Annotations" / f"{name}.xml")
        boxes = []
        for obj in tree.getroot().iter("object"):
            hard = (
                obj.findtext("difficult", "0").strip() == "1" or obj.findtext("truncated", "0").strip() == "1"
            )
            if remove_hard and hard:
                continue
            bb = obj.find("bndbox")
            x0, y0, x1, y1 = (int(float(bb.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax"))
            boxes.append((x0 - 1, y0 - 1, x1, y1))
        items.append((root / "JPEGImages" / f"{name}.jpg", boxes))
    return items


def read_coco20k(
    images_dir: str | Path, annotations: str | Path, filenames: str | Path
) -> list[tuple[Path, list[Box]]]:
    """(image path, boxes) for the COCO20k subset: file names listed in `filenames`, boxes from `annotations`."""
    with open(annotations, encoding="utf-8") as f:
        coco = json.load(f)
    wanted = [Path(line.strip()).name for line in Path(filenames).read_text().splitlines() if line.strip()]
    by_name = {im["file_name"]: im["id"] for im in coco["images"]}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise ValueError(f"{len(missing)} COCO20k files are not in {annotations}, e.g. {missing[:3]}")
    boxes: dict[int, list[Box]] = {}
    for a in coco["annotations"]:
        if a.get("iscrowd", 0):
            continue
        x, y, w, h = a["bbox"]
        boxes.setdefault(a["image_id"], []).append((x, y, x + w, y + h))
    return [(Path(images_dir) / n, boxes.get(by_name[n], [])) for n in wanted]


# ---------------------------------------------------------------------------- evaluation


def evaluate(
    items: Sequence[tuple[Path, list[Box]]],
    detector: Any,
    max_side: int | None = None,
    batch_size: int = 1,
    num_workers: int = 2,
    limit: int | None = None,
) -> CorLocResult:
    """Run `detector` (a TokenCutDetector, on its device) over `items` and score CorLoc."""
    from sdstylegan.detect.detector import Detection

    items = list(items)[:limit] if limit else list(items)
    found = detector.detect([p for p, _ in items], max_side, batch_size, num_workers)
    preds = {det.index: det.box for det in found if isinstance(det, Detection)}
    return corloc(preds, {i: boxes for i, (_, boxes) in enumerate(items)})


def _build(args: argparse.Namespace) -> Any:
    import torch

    from sdstylegan.detect.backbone import PixelTokens, ViTKeys
    from sdstylegan.detect.detector import TokenCutDetector

    if args.backbone == "pixels":
        backbone = PixelTokens(args.patch_size)
    else:
        backbone = ViTKeys(args.arch, args.weights or args.arch, pretrained=not args.standin)
    det = TokenCutDetector(backbone, tau=args.tau, eps=args.eps, solver=args.solver)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return det.to(device)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m sdstylegan.detect.corloc", description=__doc__.split("\n")[0])
    p.add_argument("dataset", choices=["voc", "coco20k"])
    p.add_argument("--root", required=True, help="VOC year folder (VOCdevkit/VOC2007) or COCO image folder")
    p.add_argument("--set", default="trainval", help="VOC image set (ImageSets/Main/<set>.txt)")
    p.add_argument("--annotations", help="COCO instances JSON (coco20k)")
    p.add_argument("--filenames", help="COCO20k file list (coco20k)")
    p.add_argument("--remove-hard", action="store_true", help="VOC: skip difficult and truncated objects")
    p.add_argument("--backbone", choices=["vit", "pixels"], default="vit")
    p.add_argument("--arch", default="vit_small_patch16_224.dino")
    p.add_argument("--weights", default=None, help="timm name, URL or local file (default: --arch)")
    p.add_argument(
        "--standin", action="store_true", help="random ViT weights (pipeline check only; labelled _standin)"
    )
    p.add_argument("--patch-size", type=int, default=8, help="patch size of --backbone pixels")
    p.add_argument("--tau", type=float, default=0.2)
    p.add_argument("--eps", type=float, default=1e-5)
    p.add_argument("--solver", default="auto")
    p.add_argument(
        "--max-side", type=int, default=0, help="resize the longer side (0 = full size, as published)"
    )
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--device", default=None)
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--out", default=None, help="write the result as JSON here")
    args = p.parse_args(argv)
    if args.dataset == "voc":
        items = read_voc(args.root, args.set, args.remove_hard)
        name = f"{Path(args.root).name} {args.set}"
    else:
        if not (args.annotations and args.filenames):
            p.error("coco20k needs --annotations and --filenames")
        items = read_coco20k(args.root, args.annotations, args.filenames)
        name = "COCO20k"
    det = _build(args)
    res = evaluate(items, det, args.max_side or None, args.batch_size, args.num_workers, args.limit)
    label = "pixels" if args.backbone == "pixels" else args.arch
    key = "corloc_standin" if (args.standin and args.backbone == "vit") else "corloc"
    protocol = (
        "full size, as published (TokenCut)"
        if not args.max_side
        else f"longer side resized to {args.max_side} px — not the published protocol"
    )
    out = {
        "dataset": name,
        key: res.value,
        "hits": res.hits,
        "images": res.total,
        "backbone": label,
        "tau": args.tau,
        "max_side": args.max_side or None,
        "protocol": protocol,
    }
    print(
        f"{key} on {name}: {100 * res.value:.1f} % ({res.hits}/{res.total}) with {label}, {protocol}"
        + (" — STAND-IN weights, meaningless" if key.endswith("_standin") else "")
    )
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])

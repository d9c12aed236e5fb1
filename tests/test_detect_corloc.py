"""CorLoc: the score, VOC XML and COCO20k readers, and the command line on a tiny VOC-style folder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from sdstylegan.detect.corloc import corloc, main, read_coco20k, read_voc


def test_corloc_counts_images_with_objects():
    gts = {"a": [(0, 0, 10, 10)], "b": [(0, 0, 10, 10), (20, 20, 40, 40)], "c": [(0, 0, 10, 10)], "d": []}
    preds = {"a": (0, 0, 10, 12), "b": (21, 21, 40, 40), "c": (5, 5, 15, 15), "d": (0, 0, 1, 1)}
    res = corloc(preds, gts)
    assert (res.hits, res.total) == (2, 3)  # c: IoU 25/175 misses; d has no object and does not count
    assert corloc({}, gts).hits == 0
    assert math.isnan(corloc({}, {}).value)


def voc_xml(name: str, objects: list[tuple[int, int, int, int, int]]) -> str:
    objs = "".join(
        f"<object><name>gourd</name><truncated>0</truncated><difficult>{d}</difficult>"
        f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for x0, y0, x1, y1, d in objects
    )
    return f"<annotation><filename>{name}.jpg</filename>{objs}</annotation>"


def make_voc(root, images: dict[str, tuple[tuple[int, int, int, int], list]]) -> None:
    """A VOC year folder: JPEG scenes (flat grey, one red rectangle at the first box) and XML annotations."""
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    for name, (red, objects) in images.items():
        a = np.full((64, 96, 3), 128, np.uint8)
        x0, y0, x1, y1 = red
        a[y0:y1, x0:x1] = (230, 30, 30)
        Image.fromarray(a).save(root / "JPEGImages" / f"{name}.jpg", quality=98)
        (root / "Annotations" / f"{name}.xml").write_text(voc_xml(name, objects))
    (root / "ImageSets/Main/trainval.txt").write_text("\n".join(images) + "\n")


def test_read_voc_converts_one_based_inclusive_boxes(tmp_path):
    make_voc(tmp_path, {"000001": ((0, 0, 8, 8), [(1, 1, 8, 8, 0), (10, 10, 20, 20, 1)])})
    ((path, boxes),) = read_voc(tmp_path)
    assert path.name == "000001.jpg" and boxes == [(0, 0, 8, 8), (9, 9, 20, 20)]
    ((_, hard_removed),) = read_voc(tmp_path, remove_hard=True)
    assert hard_removed == [(0, 0, 8, 8)]
    with pytest.raises(FileNotFoundError, match="VOC year folder"):
        read_voc(tmp_path / "Annotations")


def test_read_coco20k_takes_listed_images_and_skips_crowds(tmp_path):
    ann = {
        "images": [
            {"id": 1, "file_name": "COCO_train2014_000000000009.jpg"},
            {"id": 2, "file_name": "COCO_train2014_000000000025.jpg"},
        ],
        "annotations": [
            {"image_id": 1, "bbox": [10, 20, 30, 40], "iscrowd": 0},
            {"image_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1},
        ],
    }
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    (tmp_path / "list.txt").write_text("train2014/COCO_train2014_000000000009.jpg\n")
    ((path, boxes),) = read_coco20k(tmp_path / "img", tmp_path / "ann.json", tmp_path / "list.txt")
    assert path == tmp_path / "img" / "COCO_train2014_000000000009.jpg" and boxes == [(10, 20, 40, 60)]
    (tmp_path / "list.txt").write_text("COCO_train2014_000000999999.jpg\n")
    with pytest.raises(ValueError, match="not in"):
        read_coco20k(tmp_path / "img", tmp_path / "ann.json", tmp_path / "list.txt")


def test_cli_scores_a_voc_folder(tmp_path, capsys):
    # Image 1: the annotation matches the red rectangle (1-based); image 2: it points elsewhere.
    make_voc(
        tmp_path / "VOC2007",
        {
            "000001": ((24, 16, 56, 40), [(25, 17, 56, 40, 0)]),
            "000002": ((8, 8, 32, 32), [(60, 30, 90, 60, 0)]),
        },
    )
    out = main(
        [
            "voc",
            "--root",
            str(tmp_path / "VOC2007"),
            "--backbone",
            "pixels",
            "--patch-size",
            "8",
            "--num-workers",
            "0",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "r.json"),
        ]
    )
    assert out["corloc"] == 0.5 and (out["hits"], out["images"]) == (1, 2)
    assert json.loads((tmp_path / "r.json").read_text())["corloc"] == 0.5
    assert "corloc on VOC2007 trainval: 50.0 % (1/2)" in capsys.readouterr().out
    assert out["max_side"] is None and out["protocol"].startswith(
        "full size"
    )  # TokenCut's protocol by default


def test_cli_labels_standin_results(tmp_path, capsys):
    make_voc(tmp_path / "VOC2012", {"a": ((24, 16, 56, 40), [(25, 17, 56, 40, 0)])})
    out = main(
        [
            "voc",
            "--root",
            str(tmp_path / "VOC2012"),
            "--standin",
            "--num-workers",
            "0",
            "--device",
            "cpu",
            "--max-side",
            "64",
        ]
    )
    assert "corloc_standin" in out and "corloc" not in out
    assert (
        out["protocol"].startswith("longer side resized to 64 px") and "not the published" in out["protocol"]
    )
    assert "STAND-IN" in capsys.readouterr().out

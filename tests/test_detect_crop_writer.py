"""CropWriter: crops cut on a thread pool equal the single-threaded ones, rows in order, errors surface."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
from PIL import Image
from torch.utils.data import DataLoader

from sdstylegan.data.manifest import ManifestRecord
from sdstylegan.detect.backbone import PixelTokens
from sdstylegan.detect.crop import CropPolicy
from sdstylegan.detect.crop_writer import CropWriter, crop_rel_path, resolve_threads
from sdstylegan.detect.detector import DetectionDataset, TokenCutDetector, collate_detections


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[Path, list[ManifestRecord]]:
    """14 flat scenes, each with a red rectangle somewhere, one unreadable file among them."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    recs = []
    for i in range(14):
        w, h = int(rng.integers(64, 129)), int(rng.integers(64, 129))
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        a = np.full((h, w, 3), 128, np.uint8)
        a[y0 : y0 + h // 3, x0 : x0 + w // 3] = (230, 30, 30)
        name = f"img/{i:02d}.png"
        (root / "img").mkdir(exist_ok=True)
        if i == 5:
            (root / name).write_bytes(b"\x89PNG broken")
        else:
            Image.fromarray(a).save(root / name)
        recs.append(
            ManifestRecord(id=f"{i:02d}" * 32, source=f"http://x/{i}.png", orig_path=name, orig_size=[w, h])
        )
    return root, recs


def predict(root: Path, recs: list[ManifestRecord], stage_dir: Path, threads: int) -> CropWriter:
    detector = TokenCutDetector(PixelTokens(patch_size=8))
    todo = list(range(len(recs)))
    writer = CropWriter(
        stage_dir, todo, recs, root, CropPolicy(margin=0.1), 32, num_pictures=4, patch_size=8, threads=threads
    )
    ds = DetectionDataset([r.image_path(root) for r in recs], 8, None)
    loader = DataLoader(ds, batch_size=3, collate_fn=collate_detections)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=[writer],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.predict(detector, dataloaders=loader, return_predictions=False)
    return writer


def test_threads_give_the_same_rows_and_crops_in_order(photos, tmp_path):
    root, recs = photos
    one = predict(root, recs, tmp_path / "one", threads=1)
    many = predict(root, recs, tmp_path / "many", threads=3)
    rows = [(tmp_path / d / "predictions" / "rank0.jsonl").read_text() for d in ("one", "many")]
    assert rows[0] == rows[1]
    parsed = [json.loads(line) for line in rows[0].splitlines()]
    assert [r["index"] for r in parsed] == list(range(14))  # submission order, one line each
    assert parsed[5]["status"] == "not_image"
    ok = [r for r in parsed if r["status"] == "ok"]
    assert len(ok) >= 10
    for r in ok:
        rel = crop_rel_path(recs[r["index"]].id)
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "many" / rel).read_bytes()
    assert len(one.overlays) == len(many.overlays) == 4
    assert many._pool is None and many._file is None  # shut down and closed


def test_an_error_in_a_crop_thread_stops_the_run(photos, tmp_path):
    root, recs = photos
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "crops").write_text("a file where the crop folders go")
    with pytest.raises((NotADirectoryError, FileExistsError)):
        predict(root, recs, stage, threads=2)
    lines = (stage / "predictions" / "rank0.jsonl").read_text().splitlines()
    assert all(
        json.loads(line)["status"] != "ok" for line in lines
    )  # no row claims a crop that was not written


def test_threads_must_be_positive(photos, tmp_path):
    root, recs = photos
    for bad in (0, -2, "many", 1.5):
        with pytest.raises(ValueError, match="crop_threads"):
            CropWriter(tmp_path, [], recs, root, CropPolicy(), 32, 0, 8, threads=bad)
    assert 1 <= resolve_threads("auto") <= 8 and resolve_threads(3) == resolve_threads("3") == 3

"""TokenCutDetector: boxes in original pixels for odd images, and predict through a real Lightning Trainer."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader

from sdstylegan.detect.backbone import PixelTokens, ViTKeys
from sdstylegan.detect.detector import Detection, DetectionDataset, TokenCutDetector, collate_detections


def scene(size: tuple[int, int], box: tuple[int, int, int, int], mode: str = "RGB") -> Image.Image:
    """A flat grey picture with one saturated rectangle: pixel tokens single it out exactly."""
    w, h = size
    a = np.full((h, w, 3), 128, np.uint8)
    x0, y0, x1, y1 = box
    a[y0:y1, x0:x1] = (230, 30, 30)
    img = Image.fromarray(a)
    return img.convert(mode) if mode != "RGB" else img


def pixel_detector() -> TokenCutDetector:
    return TokenCutDetector(PixelTokens(8))


def test_patch_aligned_object_is_found_exactly():
    det = pixel_detector().detect([scene((96, 64), (24, 16, 56, 40))], max_side=None)[0]
    assert isinstance(det, Detection) and det.degenerate is None
    assert det.box == (24, 16, 56, 40) and det.box_patches == (3, 2, 7, 5)


def test_grayscale_image_works():
    det = pixel_detector().detect([scene((64, 64), (8, 8, 32, 24), mode="L")], max_side=None)[0]
    assert det.box == (8, 8, 32, 24)


def test_resized_large_image_maps_back_to_original_pixels():
    # 4000×3000 with max_side 480: scale 0.12, one 8-px patch ≈ 67 original pixels.
    box = (1000, 1000, 2000, 1800)
    det = pixel_detector().detect([scene((4000, 3000), box)], max_side=480)[0]
    assert det.orig_size == (4000, 3000) and abs(det.scale - 0.12) < 1e-9
    assert all(abs(a - b) <= 8 / 0.12 for a, b in zip(det.box, box))


def test_large_jpeg_file_decoded_at_reduced_scale_maps_to_full_size_pixels(tmp_path):
    box = (1000, 1000, 2000, 1800)
    path = tmp_path / "big.jpg"
    scene((4000, 3000), box).save(path, quality=95)
    ds = DetectionDataset([path], patch_size=8, max_side=480)
    item = ds[0]
    assert item["orig_size"] == (4000, 3000) and abs(item["scale"] - 0.12) < 1e-9
    det = pixel_detector().detect([path], max_side=480)[0]
    in_memory = pixel_detector().detect([scene((4000, 3000), box)], max_side=480)[0]
    assert det.orig_size == (4000, 3000)
    assert all(abs(a - b) <= 8 / 0.12 for a, b in zip(det.box, in_memory.box))


def test_image_smaller_than_a_patch_gives_the_whole_frame():
    det = pixel_detector().detect([scene((5, 4), (1, 1, 3, 3))], max_side=None)[0]
    assert det.degenerate is not None and det.box == (0, 0, 5, 4)


def test_unreadable_file_is_reported_not_raised(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    good = tmp_path / "good.png"
    scene((64, 64), (16, 16, 40, 48)).save(good)
    out = pixel_detector().detect([bad, good], max_side=None)
    assert isinstance(out[0], dict) and out[0]["error"].startswith("not_image")
    assert out[1].box == (16, 16, 40, 48)


def test_mixed_sizes_in_one_batch_keep_their_order():
    imgs = [
        scene((64, 48), (8, 8, 24, 24)),
        scene((96, 96), (40, 40, 72, 64)),
        scene((64, 48), (32, 16, 56, 40)),
    ]
    out = pixel_detector().detect(imgs, max_side=None, batch_size=3)
    assert [d.index for d in out] == [0, 1, 2]
    assert [d.box for d in out] == [(8, 8, 24, 24), (40, 40, 72, 64), (32, 16, 56, 40)]


def test_trainer_predict_runs_the_vit_detector():
    torch.manual_seed(0)
    det = TokenCutDetector(
        ViTKeys(pretrained=False, model_kwargs={"depth": 1, "embed_dim": 48, "num_heads": 2})
    )
    assert det.standin
    imgs = [scene((80, 64), (16, 16, 48, 48)), scene((50, 70), (0, 0, 20, 20))]
    loader = DataLoader(
        DetectionDataset(imgs, det.patch_size, 480), batch_size=2, collate_fn=collate_detections
    )
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (batch,) = trainer.predict(det, dataloaders=loader)
    assert [d.orig_size for d in batch] == [(80, 64), (50, 70)]
    for d in batch:  # random weights: any box, but a valid one inside the image
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= d.orig_size[0] and 0 <= y0 < y1 <= d.orig_size[1]
        assert d.mask.shape == (-(-d.orig_size[1] // 16), -(-d.orig_size[0] // 16))

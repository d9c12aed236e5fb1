"""Token extractors: preprocessing (resize, padding), box mapping, ViT keys, DINO/timm weight files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from sdstylegan.detect.backbone import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PixelTokens,
    ViTKeys,
    build_vit,
    dino_to_timm,
    patch_box_to_pixels,
    preprocess,
)
from sdstylegan.utils.weights import WeightsNotFoundError

TINY = {"depth": 2, "embed_dim": 48, "num_heads": 3}  # a 2-block ViT with the real layout


def test_preprocess_pads_with_zeros_after_normalisation():
    img = Image.new("RGB", (37, 20), (255, 0, 128))
    x, scale = preprocess(img, patch_size=16)
    assert x.shape == (3, 32, 48) and scale == 1.0
    expect = (torch.tensor([1.0, 0.0, 128 / 255]) - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(x[:, :20, :37], expect[:, None, None].expand(3, 20, 37))
    assert (x[:, 20:, :] == 0).all() and (x[:, :, 37:] == 0).all()


def test_preprocess_shrinks_the_longer_side_only():
    x, scale = preprocess(Image.new("RGB", (1000, 600)), patch_size=16, max_side=480)
    assert scale == pytest.approx(0.48) and x.shape == (3, 288, 480)
    x, scale = preprocess(Image.new("RGB", (200, 120)), patch_size=16, max_side=480)
    assert scale == 1.0 and x.shape == (3, 128, 208)  # never enlarged


def test_preprocess_accepts_grayscale_and_tiny_images():
    x, _ = preprocess(Image.new("L", (5, 3), 200), patch_size=8)
    assert x.shape == (3, 8, 8)
    assert torch.allclose(x[0, :3, :5], torch.full((3, 5), (200 / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0]))


def test_patch_box_to_pixels_scales_and_clips_to_the_image():
    # 10 patches of 16 px at scale 0.5 → 320 px, clipped to a 300-px-wide original.
    assert patch_box_to_pixels((2, 1, 10, 4), 16, 0.5, (300, 200)) == (64, 32, 300, 128)
    # no resize: padding patches beyond the image are cut off
    assert patch_box_to_pixels((0, 0, 3, 3), 16, 1.0, (40, 33)) == (0, 0, 40, 33)
    # the box never becomes empty
    x0, y0, x1, y1 = patch_box_to_pixels((0, 0, 1, 1), 16, 1.0, (5, 5))
    assert (x0, y0, x1, y1) == (0, 0, 5, 5)


def test_vit_keys_match_the_qkv_projection_inside_timm_forward():
    m = ViTKeys("vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY)
    x = torch.randn(2, 3, 48, 80)  # not 224²: position embeddings are interpolated
    keys, grid = m(x)
    assert grid == (3, 5) and keys.shape == (2, 15, 48)
    captured = {}
    hook = m.vit.blocks[-1].attn.qkv.register_forward_hook(lambda mod, i, o: captured.setdefault("qkv", o))
    with torch.no_grad():
        m.vit.forward_features(x)
    hook.remove()
    qkv = captured["qkv"].reshape(2, 16, 3, 3, 16).permute(2, 0, 3, 1, 4)  # (3, B, heads, T, head_dim)
    k = qkv[1].transpose(1, 2).reshape(2, 16, 48)[:, 1:]  # heads concatenated, CLS dropped
    torch.testing.assert_close(keys, k)


def test_standin_is_logged_loudly(caplog):
    with caplog.at_level(logging.WARNING):
        m = ViTKeys("vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY)
    assert m.standin and "STAND-IN" in caplog.text


def _dino_style_checkpoint(model: torch.nn.Module) -> dict:
    """A DINO training checkpoint: teacher weights under module.backbone., plus a projection head."""
    teacher = {f"module.backbone.{k}": v.clone() for k, v in model.state_dict().items()}
    teacher["module.head.mlp.0.weight"] = torch.randn(8, 48)
    return {"teacher": teacher, "student": {}, "epoch": 100}


def test_dino_official_checkpoint_loads_into_timm(tmp_path):
    src = build_vit("vit_small_patch16_224.dino", None, pretrained=False, **TINY)
    path = tmp_path / "dino_deitsmall16_pretrain_full_checkpoint.pth"
    torch.save(_dino_style_checkpoint(src), path)
    loaded = build_vit("vit_small_patch16_224.dino", str(path), pretrained=True, **TINY)
    for (k, a), b in zip(src.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert set(dino_to_timm(_dino_style_checkpoint(src))) == set(src.state_dict())


def test_timm_safetensors_file_loads(tmp_path):
    from safetensors.torch import save_file

    src = build_vit("vit_small_patch8_224.dino", None, pretrained=False, **TINY)
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    m = ViTKeys("vit_small_patch8_224.dino", str(path), pretrained=True, model_kwargs=TINY)
    assert m.patch_size == 8 and not m.standin
    assert torch.equal(m.vit.pos_embed, src.pos_embed)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="missing"):
        build_vit("vit_small_patch16_224.dino", str(path), pretrained=True, **TINY)


def test_missing_weights_name_the_config_key(tmp_path, monkeypatch):
    with pytest.raises(WeightsNotFoundError, match="detector.weights"):
        build_vit("vit_small_patch16_224.dino", str(tmp_path / "absent.pth"), pretrained=True, **TINY)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no internet here: fail fast
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # and nothing cached
    with pytest.raises(WeightsNotFoundError, match="detector.weights.*dino_deitsmall16_pretrain"):
        build_vit("vit_small_patch16_224.dino", None, pretrained=True, **TINY)
    with pytest.raises(WeightsNotFoundError, match="detector.weights"):
        build_vit("vit_small_patch16_224.dino", "hf-hub:timm/vit_small_patch16_224.dino", pretrained=True, **TINY)
    with pytest.raises(ValueError, match="different from detector.arch"):
        build_vit("vit_small_patch16_224.dino", "vit_base_patch16_224.dino", pretrained=True, **TINY)


def test_pixel_tokens_are_centred_patches():
    x = torch.zeros(1, 3, 16, 24)
    x[:, :, :8, :8] = 1.0
    t, grid = PixelTokens(8)(x)
    assert grid == (2, 3) and t.shape == (1, 6, 192)
    np.testing.assert_allclose(t.sum(dim=1).numpy(), 0, atol=1e-6)
    assert t[0, 0].mean() > 0 > t[0, 1].mean()

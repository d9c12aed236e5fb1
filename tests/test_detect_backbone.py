"""Token extractors: preprocessing (resize, padding), box mapping, ViT keys, DINO/timm weight files."""

from __future__ import annotations

import argparse
import logging
import math

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
    m = ViTKeys("vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY, pos_interpolation="timm")
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


def _dino_reference_keys(vit: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Keys as DINO's own code computes them (vision_transformer.py, prepare_tokens), written out here.

    Patch embedding, CLS, then the position embedding resized by `interpolate_pos_encoding`: bicubic,
    scale factors ((H/p + 0.1)/√N, (W/p + 0.1)/√N), no antialiasing; kept as stored for square N-patch inputs.
    """
    p = vit.patch_embed.patch_size[0]
    b, _, H, W = x.shape
    tokens = vit.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, h·w, C), conv with stride p
    tokens = torch.cat([vit.cls_token.expand(b, -1, -1), tokens], dim=1)
    n = vit.pos_embed.shape[1] - 1
    s = math.sqrt(n)
    if tokens.shape[1] - 1 == n and H == W:
        pos = vit.pos_embed
    else:
        dim = tokens.shape[-1]
        grid = vit.pos_embed[:, 1:].reshape(1, int(s), int(s), dim).permute(0, 3, 1, 2)
        h0, w0 = H // p + 0.1, W // p + 0.1
        grid = torch.nn.functional.interpolate(grid, scale_factor=(h0 / s, w0 / s), mode="bicubic")
        assert grid.shape[-2:] == (int(h0), int(w0))
        pos = torch.cat([vit.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, dim)], dim=1)
    t = tokens + pos
    for blk in vit.blocks[:-1]:
        t = blk(t)
    last = vit.blocks[-1]
    c = t.shape[-1]
    return last.attn.qkv(last.norm1(t))[:, 1:, c : 2 * c]


@pytest.mark.parametrize("hw", [(48, 80), (80, 48), (224, 160), (96, 240), (336, 208)])
def test_vit_keys_equal_dinos_reference_interpolation_at_non_square_sizes(hw):
    torch.manual_seed(0)
    m = ViTKeys("vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY)
    assert m.pos_interpolation == "dino"  # auto picks DINO's own for DINO archs
    with torch.no_grad():  # a smooth-ish embedding, like trained ones, so the two resamplers differ clearly
        m.vit.pos_embed[:, 1:] = (
            torch.randn(1, 48, 14, 14).cumsum(-1).cumsum(-2).flatten(2).transpose(1, 2) / 10
        )
    x = torch.randn(1, 3, *hw)
    keys, grid = m(x)
    with torch.no_grad():
        ref = _dino_reference_keys(m.vit, x)
    assert grid == (hw[0] // 16, hw[1] // 16)
    assert (keys - ref).abs().max().item() < 1e-4
    timm_m = ViTKeys(
        "vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY, pos_interpolation="timm"
    )
    timm_m.load_state_dict(m.state_dict())
    assert (
        timm_m(x)[0] - ref
    ).abs().max().item() > 1e-3  # timm's resampling is not DINO's: the test can fail


def test_square_224_input_keeps_the_stored_embedding():
    m = ViTKeys("vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(m(x)[0], _dino_reference_keys(m.vit, x), atol=1e-5, rtol=0)


def test_bad_pos_interpolation_is_refused():
    with pytest.raises(ValueError, match="pos_interpolation"):
        ViTKeys(
            "vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY, pos_interpolation="bilinear"
        )


def test_standin_is_logged_loudly(caplog):
    with caplog.at_level(logging.WARNING):
        m = ViTKeys("vit_small_patch16_224.dino", pretrained=False, model_kwargs=TINY)
    assert m.standin and "STAND-IN" in caplog.text


def _dino_style_checkpoint(model: torch.nn.Module) -> dict:
    """A DINO main_dino.py checkpoint: student/teacher under module.backbone. with projection heads,
    optimizer state, epoch, the argparse `args` and the loss centre."""
    teacher = {f"module.backbone.{k}": v.clone() for k, v in model.state_dict().items()}
    teacher["module.head.mlp.0.weight"] = torch.randn(8, 48)
    student = {k: v + 1 for k, v in teacher.items()}  # different weights: the teacher's must be taken
    params = [torch.nn.Parameter(v.clone()) for v in list(model.state_dict().values())[:3]]
    opt = torch.optim.AdamW(params)
    sum(p.sum() for p in params).backward()
    opt.step()
    args = argparse.Namespace(
        arch="vit_small",
        patch_size=16,
        out_dim=65536,
        lr=0.0005,
        epochs=100,
        output_dir="/checkpoint/dino",
        data_path="/imagenet/train",
        use_fp16=True,
        local_crops_scale=(0.05, 0.4),
        dist_url="env://",
    )
    return {
        "student": student,
        "teacher": teacher,
        "optimizer": opt.state_dict(),
        "epoch": 100,
        "args": args,
        "dino_loss": {"center": torch.zeros(1, 8)},
        "fp16_scaler": {"scale": 65536.0},
    }


def test_dino_official_checkpoint_loads_into_timm(tmp_path):
    src = build_vit("vit_small_patch16_224.dino", None, pretrained=False, **TINY)
    path = tmp_path / "dino_deitsmall16_pretrain_full_checkpoint.pth"
    torch.save(_dino_style_checkpoint(src), path)
    loaded = build_vit("vit_small_patch16_224.dino", str(path), pretrained=True, **TINY)
    for (k, a), b in zip(src.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert set(dino_to_timm(_dino_style_checkpoint(src))) == set(src.state_dict())


class _RunsCode:
    def __reduce__(self):  # unpickling this would run `touch`
        import os

        return (os.system, ("touch pwned_by_checkpoint",))


def test_dino_checkpoint_with_code_in_args_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = build_vit("vit_small_patch16_224.dino", None, pretrained=False, **TINY)
    ckpt = _dino_style_checkpoint(src)
    ckpt["args"].hook = _RunsCode()  # Namespace is allowed; what it holds still goes through weights_only
    torch.save(ckpt, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        build_vit("vit_small_patch16_224.dino", str(tmp_path / "evil.pth"), pretrained=True, **TINY)
    assert not (tmp_path / "pwned_by_checkpoint").exists()


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
        build_vit(
            "vit_small_patch16_224.dino", "hf-hub:timm/vit_small_patch16_224.dino", pretrained=True, **TINY
        )
    with pytest.raises(ValueError, match="different from detector.arch"):
        build_vit("vit_small_patch16_224.dino", "vit_base_patch16_224.dino", pretrained=True, **TINY)


def test_pixel_tokens_are_centred_patches():
    x = torch.zeros(1, 3, 16, 24)
    x[:, :, :8, :8] = 1.0
    t, grid = PixelTokens(8)(x)
    assert grid == (2, 3) and t.shape == (1, 6, 192)
    np.testing.assert_allclose(t.sum(dim=1).numpy(), 0, atol=1e-6)
    assert t[0, 0].mean() > 0 > t[0, 1].mean()

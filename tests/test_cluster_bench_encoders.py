"""cluster_bench.encoders: one interface; stand-ins labelled _standin; identities follow the weights."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.cluster_bench.encoders import DinoViTEncoder, InceptionEncoder, PixelEncoder, TimmEncoder
from sdstylegan.utils.weights import WeightsNotFoundError

TINY = {"depth": 1}


def images(n: int = 3, size: int = 24) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


def test_pixels_are_area_downsampled_unit_values():
    x = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    x[0, 0] = 255
    x[1, :, :4] = 255
    f = PixelEncoder(2)(x)
    assert f.shape == (2, 12) and f.dtype == torch.float32
    assert torch.allclose(f[0], torch.tensor([1.0] * 4 + [0.0] * 8))
    assert torch.allclose(f[1], torch.tensor([1, 1, 0, 0] * 3, dtype=torch.float32))
    assert PixelEncoder(2).label == "pixels" and not PixelEncoder(2).is_standin
    with pytest.raises(ValueError, match="size must be ≥ 1"):
        PixelEncoder(0)


def test_timm_standin_is_labelled_and_its_seed_alone_sets_the_weights():
    kw = dict(pretrained=False, img_size=28, model_kwargs=TINY)
    torch.manual_seed(123)  # the global stream does not matter: a stand-in is the same in every process
    a = TimmEncoder("dinov2", "vit_small_patch14_dinov2.lvd142m", **kw)
    torch.manual_seed(456)
    assert TimmEncoder("dinov2", "vit_small_patch14_dinov2.lvd142m", **kw).identity == a.identity
    b = TimmEncoder("dinov2", "vit_small_patch14_dinov2.lvd142m", seed=1, **kw)
    f = a(images())
    assert f.shape == (3, 384) and torch.isfinite(f).all()
    assert a.label == "dinov2_standin" and a.is_standin
    assert a.identity != b.identity and "in=28" in a.identity
    clip = TimmEncoder(
        "clip", "vit_base_patch16_clip_224.openai", pretrained=False, img_size=32, model_kwargs=TINY
    )
    assert clip(images(2)).shape == (2, 768) and clip.label == "clip_standin"
    assert clip.mean.flatten().tolist() == pytest.approx([0.48145466, 0.4578275, 0.40821073])  # CLIP's own


def test_dino_vit_reuses_the_detector_backbone_and_loads_a_weights_file(tmp_path):
    torch.manual_seed(0)
    a = DinoViTEncoder(pretrained=False, img_size=32, model_kwargs=TINY)
    assert a.label == "dino_vits16_standin" and a(images(2)).shape == (2, 384)
    path = tmp_path / "dino.pth"
    torch.save({"teacher": {f"backbone.{k}": v for k, v in a.net.state_dict().items()}}, path)  # DINO layout
    b = DinoViTEncoder(weights=str(path), pretrained=True, img_size=32, model_kwargs=TINY)
    assert not b.is_standin and b.label == "dino_vits16"
    assert torch.allclose(a(images(2)), b(images(2)), atol=1e-5)
    with pytest.raises(WeightsNotFoundError):
        DinoViTEncoder(weights=str(tmp_path / "missing.pth"), img_size=32, model_kwargs=TINY)


def test_inception_standin_small_is_labelled():
    enc = InceptionEncoder(pretrained=False, standin="small", standin_features=16)
    assert enc.label == "inception_standin" and enc(images(2)).shape == (2, 16)
    assert enc.identity.startswith("inception:standin_cnn")
    with pytest.raises(WeightsNotFoundError):
        InceptionEncoder(weights="/nonexistent/inception.pth")

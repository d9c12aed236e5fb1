"""DINO extractor: stand-in ViT, weights from a local file, preprocessing."""

import pytest
import torch

from sdstylegan.metrics.dino import DinoExtractor
from sdstylegan.utils.weights import WeightsNotFoundError

TINY = dict(model="vit_tiny_patch16_224", img_size=32)


def test_standin_vit_gives_cls_features_and_is_labelled():
    torch.manual_seed(0)
    ext = DinoExtractor(pretrained=False, **TINY)
    assert ext.is_standin and ext.label == "dino_standin" and ext.num_features == 192
    assert "vit_tiny_patch16_224" in ext.identity
    x = torch.randint(0, 256, (3, 3, 48, 48), dtype=torch.uint8)
    f = ext(x)
    assert f.shape == (3, 192) and torch.isfinite(f).all()
    assert torch.equal(f, ext(x))  # eval mode: deterministic
    # images differ → features differ (the resize and the network see the pixels)
    assert not torch.allclose(f[0], f[1])


def test_weights_from_a_local_file_reproduce_the_network(tmp_path):
    torch.manual_seed(1)
    src = DinoExtractor(pretrained=False, **TINY)
    path = tmp_path / "dino_tiny.pth"
    torch.save(src.net.state_dict(), path)
    loaded = DinoExtractor(weights=str(path), **TINY)
    assert not loaded.is_standin and loaded.identity == src.identity
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert torch.allclose(loaded(x), src(x), atol=1e-6)


def test_missing_weights_file_names_the_config_key(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="metrics.dino.weights"):
        DinoExtractor(weights=str(tmp_path / "none" / "dino.pth"), **TINY)

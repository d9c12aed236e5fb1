"""FeatureMapper: shapes in W and W+, a start at w_avg, the same features for [-1, 1] and uint8, save/load."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.cluster_bench.encoders import PixelEncoder
from sdstylegan.cluster_bench.mapper_net import FeatureMapper, load_mapper, save_mapper


def mapper(space: str = "w", enc: PixelEncoder | None = None) -> FeatureMapper:
    torch.manual_seed(0)
    enc = enc or PixelEncoder(size=4)
    return FeatureMapper(
        enc, enc.num_features, w_dim=6, num_ws=5, w_avg=torch.arange(6.0), space=space, hidden=16
    )


def images(n: int = 3) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_shapes_and_the_start_near_w_avg():
    x = images()
    m = mapper()
    m.set_statistics(m.features(images(10)))
    w = m(x)
    assert w.shape == (3, 6)
    assert (w - torch.arange(6.0)).abs().max() < 1.0  # small last layer: close to w_avg, not equal
    assert not torch.allclose(w[0], w[1])
    wp = mapper("wplus")(x)
    assert wp.shape == (3, 5, 6)


def test_features_of_float_images_equal_those_of_the_saved_png():
    m, x = mapper(), images()
    u8 = (x * 127.5 + 127.5).round().clamp(0, 255).to(torch.uint8)
    torch.testing.assert_close(m.features(x), m.encoder(u8))


def test_save_and_load_give_the_same_mapper_without_encoder_weights(tmp_path):
    m = mapper("wplus")
    m.set_statistics(m.features(images(10)))
    path = save_mapper(tmp_path / "mapper.pt", m, {"steps": 3})
    blob = torch.load(path, weights_only=True)
    assert not any(k.startswith("encoder.") for k in blob["state"]) and blob["meta"] == {"steps": 3}
    back = load_mapper(path, PixelEncoder(size=4))
    torch.testing.assert_close(back(images()), m(images()))
    with pytest.raises(ValueError, match="trained on encoder pixels\\(size=4"):
        load_mapper(path, PixelEncoder(size=2))


def test_bad_arguments():
    with pytest.raises(ValueError, match="space must be one of"):
        mapper("z")

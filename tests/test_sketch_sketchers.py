"""Photo → sketch networks: output shape and range, lines where the edges are, PhotoSketch's state-dict format."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.sketch.sketchers import PhotoSketch, PhotoSketchNet, XDoGSketcher
from sdstylegan.utils.weights import WeightsNotFoundError


def square_on_grey(n: int = 2, size: int = 32) -> torch.Tensor:
    """A dark square on a light background (RGB in [-1, 1])."""
    x = torch.full((n, 3, size, size), 0.6)
    x[:, :, 8:24, 8:24] = -0.8
    return x


def test_xdog_shape_range_and_lines_on_the_edges_only():
    F = XDoGSketcher()
    x = square_on_grey()
    s = F(x)
    assert s.shape == (2, 1, 32, 32) and s.dtype == torch.float32
    assert s.min() >= -1 and s.max() <= 1
    lines = s[0, 0] < 0
    assert lines.any()
    ys, xs = torch.nonzero(lines, as_tuple=True)
    # every line pixel lies within two pixels of the square's border, none in the flat regions
    border = torch.minimum((ys - 8).abs().minimum((ys - 23).abs()), (xs - 8).abs().minimum((xs - 23).abs()))
    assert int(border.max()) <= 2
    assert torch.all(s[0, 0, 14:18, 14:18] > 0.99) and torch.all(s[0, 0, :3, :3] > 0.99)
    assert torch.all(F(torch.zeros(1, 3, 16, 16)) > 0.99), "a flat image is blank paper"


def test_xdog_is_differentiable_with_respect_to_the_image():
    x = square_on_grey(1).requires_grad_(True)
    XDoGSketcher()(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert list(XDoGSketcher().parameters()) == [], "weight-free"


def test_xdog_refuses_bad_sigma():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        XDoGSketcher(sigma=0)
    with pytest.raises(ValueError, match="contrast must be > 0"):
        XDoGSketcher(contrast=0)


def test_xdog_contrast_normalised_draws_the_same_lines_at_any_global_contrast():
    """With `contrast`, lowering an image's contrast cannot remove lines (the shortcut G took in the demo)."""
    torch.manual_seed(0)
    x = 0.5 * square_on_grey(1) + 0.1 * torch.randn(1, 3, 32, 32)  # texture: faint lines contrast decides
    low = x.mean() + 0.4 * (x - x.mean())  # the same picture at 40 % of the contrast
    plain, normalised = XDoGSketcher(), XDoGSketcher(contrast=0.2)
    n_plain = [int((plain(v) < 0).sum()) for v in (x, low)]
    assert n_plain[1] < 0.8 * n_plain[0], f"plain XDoG loses lines at low contrast: {n_plain}"
    a, b = normalised(x), normalised(low)
    assert torch.allclose(a, b, atol=1e-4)
    assert (a < 0).sum() > 0


def photosketch_file(tmp_path, drop_counters: bool = True):
    """A PhotoSketch generator in the original layout (model.<i>…), as the released latest_net_G.pth."""
    torch.manual_seed(0)
    net = PhotoSketchNet()
    state = {
        k: v for k, v in net.state_dict().items() if not (drop_counters and k.endswith("num_batches_tracked"))
    }
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    return path, net


def test_photosketch_loads_the_original_layout_and_sketches_at_the_input_size(tmp_path):
    path, net = photosketch_file(tmp_path)
    keys = set(torch.load(path, weights_only=True))
    assert {"model.1.weight", "model.2.running_mean", "model.10.conv_block.1.weight", "model.26.bias"} <= keys
    assert "model.1.bias" not in keys and "model.10.conv_block.5.weight" in keys
    F = PhotoSketch(weights=path, input_size=64)
    assert not F.training and not any(p.requires_grad for p in F.parameters())
    x = square_on_grey(2, 32)
    s = F(x)
    assert s.shape == (2, 1, 32, 32)
    assert s.min() >= -1 and s.max() <= 1
    net.eval()
    with torch.no_grad():
        ref = net(torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False))
    assert torch.equal(F.net(torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear")), ref)
    F.train()
    assert not F.training, "batch norm keeps its running statistics"


def test_photosketch_errors_name_the_config_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="sketch.photosketch.weights is not set"):
        PhotoSketch(weights=None)
    with pytest.raises(WeightsNotFoundError, match="sketch.photosketch.weights=.*no such file"):
        PhotoSketch(weights=str(tmp_path / "missing.pth"))
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match="not a PhotoSketch ResnetGenerator state dict"):
        PhotoSketch(weights=other)

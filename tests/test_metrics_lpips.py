"""LPIPS: a distance (zero, symmetric, monotone in distortion), a loss (gradients), and its weights."""

import pytest
import torch

from sdstylegan.metrics.lpips import LPIPS, NETS
from sdstylegan.utils.weights import WeightsNotFoundError

SIZE = {"vgg": 16, "alex": 32}  # smallest inputs that reach each network's fifth tap


def images(n=3, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module", params=["vgg", "alex"])
def lpips(request):
    m = LPIPS(request.param, pretrained=False)
    m.size = SIZE[request.param]
    return m


def test_zero_for_identical_and_symmetric(lpips):
    x, y = images(size=lpips.size, seed=0), images(size=lpips.size, seed=1)
    assert torch.all(lpips(x, x) == 0)
    d_xy, d_yx = lpips(x, y), lpips(y, x)
    assert d_xy.shape == (3,) and torch.all(d_xy > 0)
    assert torch.allclose(d_xy, d_yx, rtol=1e-6)


def test_grows_with_distortion_strength(lpips):
    x = images(size=lpips.size, seed=2)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    d = torch.stack([lpips(x, (x + s * noise).clamp(-1, 1)) for s in (0.02, 0.05, 0.1, 0.2, 0.4)])
    assert torch.all(d[1:] > d[:-1])


def test_differentiable_usable_as_a_loss(lpips):
    x = images(n=1, size=lpips.size, seed=4)
    y = images(n=1, size=lpips.size, seed=5).requires_grad_(True)
    loss = lpips(x, y).mean()
    loss.backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in lpips.parameters())  # the network stays frozen
    # a few gradient steps pull y towards x
    opt = torch.optim.Adam([y], lr=0.1)
    start = float(loss.detach())
    for _ in range(10):
        opt.zero_grad()
        step = lpips(x, y).mean()
        step.backward()
        opt.step()
    assert float(lpips(x, y).mean().detach()) < 0.7 * start


def test_cdist_equals_pairwise_forward(lpips):
    x, y = images(n=3, size=lpips.size, seed=6), images(n=2, size=lpips.size, seed=7)
    table = lpips.cdist(x, y)
    direct = torch.stack([lpips(x, y[j : j + 1].expand(3, -1, -1, -1)) for j in range(2)], dim=1)
    assert table.shape == (3, 2)
    assert torch.allclose(table, direct, atol=1e-5, rtol=1e-4)


def test_bad_input(lpips):
    with pytest.raises(TypeError, match="float"):
        lpips(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="same shape"):
        lpips(images(n=1, size=lpips.size), images(n=2, size=lpips.size))
    small = images(n=1, size=lpips.size // 2)
    with pytest.raises(ValueError, match=f"at least {lpips.size}"):
        lpips(small, small)


def test_unknown_net():
    with pytest.raises(ValueError, match="vgg"):
        LPIPS("resnet", pretrained=False)


def test_weights_from_files_and_urls(tmp_path, http_dir, monkeypatch):
    """Backbone from a torchvision-format file, lin layers (official key names) over HTTP."""
    import torchvision

    root, base = http_dir
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    torch.manual_seed(0)
    backbone = tmp_path / "alexnet.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), backbone)
    lin = {
        f"lin{i}.model.1.weight": torch.full((1, c, 1, 1), 0.5) for i, c in enumerate(NETS["alex"].channels)
    }
    torch.save(lin, root / "alex.pth")
    m = LPIPS("alex", pretrained=True, weights=f"{base}/alex.pth", backbone_weights=str(backbone))
    assert not m.is_standin
    assert all(torch.all(w == 0.5) for w in m.lin)
    x, y = images(n=2, seed=8), images(n=2, seed=9)
    assert torch.all(m(x, y) > 0)
    # lin weights that do not fit the network are refused with the key named
    torch.save({"lin0.weight": torch.ones(3)}, root / "bad.pth")
    with pytest.raises(ValueError, match="metrics.lpips.weights"):
        LPIPS("alex", pretrained=True, weights=f"{base}/bad.pth", backbone_weights=str(backbone))
    # offline: the URL is not there and nothing is cached
    with pytest.raises(WeightsNotFoundError, match="metrics.lpips.weights"):
        LPIPS("alex", pretrained=True, weights=f"{base}/missing.pth", backbone_weights=str(backbone))
    with pytest.raises(WeightsNotFoundError, match="metrics.lpips.backbone_weights"):
        LPIPS("alex", pretrained=True, backbone_weights=str(tmp_path / "no" / "vgg.pth"))

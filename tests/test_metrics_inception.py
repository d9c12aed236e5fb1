"""The FID Inception: weights through the one helper (file / URL on loopback), clear offline errors."""

import pytest
import torch

from sdstylegan.metrics.inception import InceptionExtractor, build_inception, resolve_weights_file
from sdstylegan.utils.weights import WeightsNotFoundError

torchvision = pytest.importorskip("torchvision")
pytest.importorskip("torch_fidelity")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A state dict of the FID Inception architecture (random, seeded) saved as a file."""
    torch.manual_seed(0)
    net = torchvision.models.inception_v3(
        weights=None, aux_logits=False, init_weights=False, num_classes=1008
    )
    path = tmp_path_factory.mktemp("w") / "weights-inception-test.pth"
    torch.save(net.state_dict(), path)
    return path


def test_local_weights_give_2048_features_and_tf1_resize(random_weights):
    ext = build_inception(weights=str(random_weights), pretrained=True)
    assert isinstance(ext, InceptionExtractor) and not ext.is_standin and ext.label == "inception"
    assert ext.net.use_antialias is False  # TF1 bilinear, comparable with published FIDs
    x = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    f = ext(x)
    assert f.shape == (1, 2048) and torch.isfinite(f).all()
    # the identity carries the file's hash: another file means another identity
    assert "sha256=" in ext.identity and "tf1-bilinear" in ext.identity


def test_url_is_downloaded_once_into_the_hub_cache(random_weights, http_dir, tmp_path, monkeypatch):
    root, base = http_dir
    (root / random_weights.name).write_bytes(random_weights.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    path = resolve_weights_file(f"{base}/{random_weights.name}")
    assert path == tmp_path / "torch_home" / "hub" / "checkpoints" / random_weights.name
    (root / random_weights.name).unlink()  # now "offline": the cached copy must be used
    assert resolve_weights_file(f"{base}/{random_weights.name}") == path


def test_offline_or_missing_weights_name_the_config_key(http_dir, tmp_path, monkeypatch):
    _, base = http_dir
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(WeightsNotFoundError, match="metrics.inception.weights"):
        build_inception(weights=f"{base}/missing-inception.pth")
    with pytest.raises(WeightsNotFoundError, match="metrics.inception.weights"):
        build_inception(weights=str(tmp_path / "nowhere" / "inception.pth"))


def test_weights_of_another_network_are_refused(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save(torch.nn.Linear(3, 3).state_dict(), wrong)
    with pytest.raises(ValueError, match="metrics.inception.weights"):
        build_inception(weights=str(wrong))


def test_standins(random_weights):
    small = build_inception(pretrained=False, standin="small", standin_features=8)
    assert small.is_standin and small.num_features == 8 and small.label.endswith("_standin")
    with pytest.raises(ValueError, match="standin"):
        build_inception(pretrained=False, standin="resnet")


@pytest.mark.slow
def test_architecture_standin_is_seeded_and_labelled():
    a, b = (
        build_inception(pretrained=False, standin="inception", seed=1),
        build_inception(pretrained=False, standin="inception", seed=1),
    )
    assert a.is_standin and a.label == "inception_standin" and a.identity == b.identity
    x = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    assert torch.equal(a(x), b(x))


def test_weights_hash_is_reused_but_follows_a_replaced_file(tmp_path):
    import hashlib
    import os

    from sdstylegan.metrics.inception import _sha256_file

    path = tmp_path / "w.pth"
    path.write_bytes(b"first")
    assert _sha256_file(path) == hashlib.sha256(b"first").hexdigest() == _sha256_file(path)
    path.write_bytes(b"second!")
    os.utime(path, ns=(1, 1))  # even with an old mtime: the size differs
    assert _sha256_file(path) == hashlib.sha256(b"second!").hexdigest()

"""artify.vgg: torchvision's VGG layers by name, weights from a state dict file, the labelled stand-in."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.artify.vgg import VGGFeatures, channels, layer_names
from sdstylegan.utils.weights import WeightsNotFoundError


def tv_features(arch: str) -> torch.nn.Sequential:
    """torchvision's own `features` of VGG-16 (config D) or VGG-19 (E), without the large classifier."""
    from torchvision.models.vgg import cfgs, make_layers

    return make_layers(cfgs["D" if arch == "vgg16" else "E"])


def test_layer_names_follow_torchvision_indices():
    names = layer_names("vgg19")
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    tv = tv_features("vgg19")
    assert len(names) == len(tv)
    assert isinstance(tv[names.index("conv5_1")], torch.nn.Conv2d)
    assert names.index("conv4_1") == 19 and layer_names("vgg16").index("conv4_1") == 17
    assert channels("vgg19", "conv5_1") == 512 and channels("vgg16", "relu2_1", 0.5) == 64


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_weights_file_gives_torchvisions_activations(tmp_path, arch):
    torch.manual_seed(0)
    ref = tv_features(arch)
    path = tmp_path / f"{arch}.pth"
    torch.save({f"features.{k}": v for k, v in ref.state_dict().items()}, path)  # torchvision's key names
    vgg = VGGFeatures(arch, weights=path, layers=("relu2_1", "conv3_1"))
    assert not vgg.is_standin and len(vgg.net) == layer_names(arch).index("conv3_1") + 1
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = vgg(x)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        want = ref[:11](((x + 1) / 2 - mean) / std)  # conv3_1 is index 10
    assert torch.allclose(out["conv3_1"], want, atol=1e-5)
    assert out["relu2_1"].shape == (2, 128, 16, 16) and (out["relu2_1"] >= 0).all()


def test_missing_or_foreign_weights_name_the_config_key(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="artify.vgg.weights"):
        VGGFeatures("vgg19", weights=tmp_path / "absent.pth")
    other = tmp_path / "vgg16.pth"
    torch.save(tv_features("vgg16").state_dict(), other)  # keys without the features. prefix also load
    with pytest.raises(WeightsNotFoundError, match="not a vgg19 state dict"):
        VGGFeatures("vgg19", weights=other, layers=("conv5_1",))  # VGG-16 lacks conv3_4 (index 16 differs)
    with pytest.raises(ValueError, match="unknown"):
        VGGFeatures("vgg19", pretrained=False, layers=("conv6_1",))
    with pytest.raises(ValueError, match="stand-in"):
        VGGFeatures("vgg19", weights=other, width=0.5)


def test_standin_is_labelled_seeded_and_narrow(caplog):
    with caplog.at_level("WARNING"):
        a = VGGFeatures("vgg19", pretrained=False, width=0.25, layers=("conv4_1",), seed=3)
    assert a.is_standin and "STAND-IN" in caplog.text
    b = VGGFeatures("vgg19", pretrained=False, width=0.25, layers=("conv4_1",), seed=3)
    c = VGGFeatures("vgg19", pretrained=False, width=0.25, layers=("conv4_1",), seed=4)
    assert a.identity == b.identity != c.identity
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    f = a(x)["conv4_1"]
    assert f.shape == (1, 128, 4, 4) and torch.equal(f, b(x)["conv4_1"])
    assert set(a(x, ("conv1_1", "conv2_1"))) == {"conv1_1", "conv2_1"}
    with pytest.raises(ValueError, match="within"):
        a(x, ("conv5_1",))

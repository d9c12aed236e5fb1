"""SketchModule with a real Lightning Trainer: only the chosen tensors of G change; w_shift folds exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.models.generator import Generator
from sdstylegan.sketch.data import SketchDataModule, load_sketch_folder
from sdstylegan.sketch.demo_sketches import SketchPose, write_demo_sketches
from sdstylegan.sketch.loss import translate
from sdstylegan.sketch.module import ShiftedGenerator, SketchModule, fold_w_shift
from sdstylegan.sketch.sketchers import XDoGSketcher
from sdstylegan.training.callbacks import KimgCheckpoint
from sdstylegan.training.data import TrainingDataModule

sys.path.insert(0, str(Path(__file__).parent))
import test_training_module as tm  # noqa: E402
from test_training_module import RES, make_trainer, params, tiny_model  # noqa: E402

manifest = tm.manifest  # the training tests' demo manifest fixture


def sketch_training(params_: str, **extra) -> dict:
    return {
        "batch_size": 4,
        "total_kimg": 0.004,
        "r1_gamma": 10.0,
        "loss": {"r1_interval": 16, "pl_weight": 0.0, "style_mixing": 0.9},
        "optim": {"g_lr": 0.01, "d_lr": 0.002, "betas": [0.0, 0.99]},
        "ema": {"kimg": 0.01, "rampup": None},
        "ada": {"enabled": False},
        "sketch": {
            "params": params_,
            "lambda_image": 0.7,
            "lambda_weight": 0.1,
            "translation": 0.125,
            **extra,
        },
    }


@pytest.fixture(scope="module")
def sketches(tmp_path_factory) -> torch.Tensor:
    folder = tmp_path_factory.mktemp("sketches")
    write_demo_sketches(folder, 1, 0, 4, RES, SketchPose())
    return load_sketch_folder(folder, RES)


def sketch_data(manifest: Path, sketches: torch.Tensor) -> TrainingDataModule:
    inner = SketchDataModule(
        sketches, manifest_path=str(manifest), resolution=RES, batch_size=4, num_workers=0
    )
    return TrainingDataModule(inner, seed=0, min_images=4)


def fit_one_step(module: SketchModule, manifest: Path, sketches: torch.Tensor, root: Path) -> None:
    make_trainer(root).fit(module, datamodule=sketch_data(manifest, sketches))


def fit(module: SketchModule, manifest: Path, sketches: torch.Tensor, root: Path, kimg: float, ckpt=None):
    module.total_kimg = kimg
    trainer = make_trainer(root, callbacks=[KimgCheckpoint(every_kimg=None, monitor=None)])
    trainer.fit(module, datamodule=sketch_data(manifest, sketches), ckpt_path=ckpt, weights_only=True)
    return trainer


@pytest.mark.parametrize("trained", ["mapping", pytest.param("w_shift", marks=pytest.mark.slow)])
def test_resume_equals_uninterrupted_fine_tuning(manifest, sketches, tmp_path, trained):
    """2 steps, stop, resume in a fresh module (other RNG state) for 2 more == 4 uninterrupted, R1 included."""
    t = sketch_training(trained)
    t["loss"]["r1_interval"] = 2
    ref = SketchModule(tiny_model(), t, XDoGSketcher())
    ref.start_from_pretrained()
    init = {k: v.clone() for k, v in ref.state_dict().items()}
    torch.manual_seed(0)
    fit(ref, manifest, sketches, tmp_path / "a", 0.016)
    first = SketchModule(tiny_model(), t, XDoGSketcher())
    first.load_state_dict(init)
    torch.manual_seed(0)
    fit(first, manifest, sketches, tmp_path / "b", 0.008)
    last = tmp_path / "b" / "checkpoints" / "last.ckpt"
    torch.manual_seed(123)  # resume must restore the RNG (style mixing, translation, z) itself
    second = SketchModule(tiny_model(), t, XDoGSketcher())
    fit(second, manifest, sketches, tmp_path / "b", 0.016, ckpt=str(last))
    assert int(second.minibatches) == int(ref.minibatches) == 4
    a, b = ref.state_dict(), second.state_dict()
    assert a.keys() == b.keys() and any(k.startswith("D_sketch.") for k in a)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0, msg=f"{k} differs after resume")


def test_mapping_mode_changes_the_mapping_network_and_nothing_else_of_g(manifest, sketches, tmp_path):
    torch.manual_seed(0)
    module = SketchModule(tiny_model(), sketch_training("mapping"), XDoGSketcher())
    module.start_from_pretrained()
    g0, d0, ds0 = params(module.G), params(module.D), params(module.D_sketch)
    fit_one_step(module, manifest, sketches, tmp_path)
    assert int(module.minibatches) == 1
    g1 = params(module.G)
    mapping = {k for k in g0 if k.startswith("mapping.")}
    changed = {k for k in g0 if not torch.equal(g0[k], g1[k])}
    assert changed and changed <= mapping, f"tensors outside the mapping changed: {changed - mapping}"
    assert {k for k in changed if not k.endswith("w_avg")}, "the mapping's weights did not train"
    for k in g0.keys() - mapping:
        assert torch.equal(g0[k], g1[k]), k  # bit-identical
    assert any(not torch.equal(d0[k], v) for k, v in params(module.D).items()), "D_image did not train"
    assert any(not torch.equal(ds0[k], v) for k, v in params(module.D_sketch).items()), (
        "D_sketch did not train"
    )
    assert all(torch.equal(v, g1[k]) for k, v in params(module.G_ema).items() if not k.startswith("mapping."))


def test_w_shift_mode_leaves_g_bit_identical_and_folds_the_shift_into_g_ema(manifest, sketches, tmp_path):
    torch.manual_seed(0)
    module = SketchModule(tiny_model(), sketch_training("w_shift"), XDoGSketcher())
    module.start_from_pretrained()
    g0 = params(module.G)
    fit_one_step(module, manifest, sketches, tmp_path)
    assert all(torch.equal(g0[k], v) for k, v in params(module.G).items()), "G must not change"
    shift = module.w_shift_ema
    assert module.w_shift.abs().sum() > 0 and shift.abs().sum() > 0
    z = torch.randn(3, 16)
    with torch.no_grad():
        want = module.G.synthesis(ShiftedGenerator(module.G, shift).mapping(z), noise_mode="const")
        got = module.G_ema(z, noise_mode="const")
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_fold_w_shift_is_exact_under_truncation():
    torch.manual_seed(0)
    G = Generator(z_dim=8, w_dim=8, img_resolution=8, channel_base=64, channel_max=8, mapping_layers=2).eval()
    G.mapping.w_avg.normal_()
    folded = Generator(z_dim=8, w_dim=8, img_resolution=8, channel_base=64, channel_max=8, mapping_layers=2)
    shift = torch.randn(8)
    fold_w_shift(folded, G, shift)
    z = torch.randn(4, 8)
    with torch.no_grad():
        ws = ShiftedGenerator(G, shift).mapping(z, truncation_psi=0.5)
        torch.testing.assert_close(
            folded(z, truncation_psi=0.5, noise_mode="const"), G.synthesis(ws, noise_mode="const")
        )
    assert torch.equal(folded.mapping.layers[0].weight, G.mapping.layers[0].weight)


def test_translate_moves_whole_images_and_fills_with_paper():
    torch.manual_seed(0)
    x = -torch.ones(64, 1, 16, 16)
    x[:, :, 6:10, 6:10] = 0.5
    y = translate(x, ratio=0.125)
    assert y.shape == x.shape
    assert torch.all((y == 1) | (y == -1) | (y == 0.5))
    assert (y == 1).any(), "pixels shifted in from outside are white paper"
    assert torch.all((y == 0.5).sum(dim=(1, 2, 3)) == 16), "the square is moved, never cut (shift ≤ 2 px)"
    assert torch.equal(translate(x, ratio=0), x)

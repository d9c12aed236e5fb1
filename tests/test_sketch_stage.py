"""The `sketch` stage in the real pipeline: outputs, the source left untouched, resume after a kill, bad folders."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from sdstylegan.generate import main as generate_main
from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.training.checkpoint import load_checkpoint, load_generator

sys.path.insert(0, str(Path(__file__).parent))
from conftest import compose_config, tiny_run  # noqa: E402

TINY = [
    *tiny_run(num_images=24, experiment="demo_sketch"),
    "dataset.outlier_fraction=0",
    "training.total_kimg=0.008",
    "training.callbacks.samples.num=4",
    "sketch.demo.count=4",
    "sketch.demo.heldout=4",
    "sketch.callbacks.samples.num=4",
    "sketch.eval.num_samples=16",
    "sketch.eval.grid=4",
    "sketch.eval.classifier.epochs=1",
]
STAGES = "pipeline.stages=[demo_data,sketch]"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A trained demo generator in another run directory (the generator the sketch stage imports)."""
    run = tmp_path_factory.mktemp("base") / "run"
    cfg = compose_config([*TINY, "pipeline.stages=[demo_data,train]"], run)
    return run / run_from_config(cfg)["train"]["checkpoint"]


def every(kimg: float) -> list[str]:
    return [f"sketch.callbacks.{c}.every_kimg={kimg}" for c in ("checkpoint", "samples")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # a training and a fine-tuning with evaluation in the real pipeline (~20 s)
def test_demo_sketch_stage_writes_checkpoint_report_pictures_and_keeps_the_source(make_cfg, source, tmp_path):
    before = digest(source)
    # w_shift here (the demo config trains the mapping, which the resume test below runs): the shift must be
    # folded into the saved G so that `generate` draws the fine-tuned samples
    cfg = make_cfg(
        [
            *TINY,
            STAGES,
            f"sketch.source={source}",
            "sketch.kimg=0.008",
            "sketch.params=w_shift",
            *every(0.004),
        ]
    )
    run = Path(cfg.paths.run_dir)
    out = run_from_config(cfg)["sketch"]
    assert digest(source) == before, "the source run's checkpoint is never modified"
    assert out["source"] == str(source) and out["kimg"] == 0.008
    meta = load_checkpoint(run / out["sketch_checkpoint"])["sdstylegan"]
    assert meta["kimg"] == 0.008 and meta["training"]["sketch"]["params"] == "w_shift"
    G = load_generator(run / out["sketch_checkpoint"])
    assert G.img_resolution == 16
    assert (
        generate_main(
            [str(run / out["sketch_checkpoint"]), "--seeds", "0-1", "--outdir", str(tmp_path / "g")]
        )
        == 0
    )
    assert Image.open(tmp_path / "g" / "seed0000.png").size == (16, 16)
    assert out["report"] == "sketch/report_xdog.json", "outputs made with the offline sketcher say so"
    report = json.loads((run / out["report"]).read_text())
    assert report["sketcher"] == "xdog" and report["sketcher_offline"] is True
    assert report["mode_classifier"]["grey"] is False and report["mode_classifier_grey"]["grey"] is True
    assert (
        report["sketched_mode"] == "calabash" and report["num_sketches"] == 4 and report["num_heldout"] == 4
    )
    for when in ("before", "after"):
        r = report[when]
        assert 0 <= r["sketched_mode_share"] <= 1 and sum(r["mode_counts"]) == 16
        assert 0 <= r["sketched_mode_share_grey"] <= 1 and sum(r["mode_counts_grey"]) == 16
        assert r["sketch_chamfer_px"] >= 0
        assert set(r["fid_standin"]) == {"sketched_mode", "all_inliers"}, "stand-in FID is labelled"
    assert Image.open(run / out["before_after"]).size[0] > 0
    assert len(list((run / "sketch" / "sketches").glob("calabash_*.png"))) == 4
    assert sorted(p.name for p in (run / out["samples"]).iterdir()) == [
        f"kimg{k:09.3f}_psi1.png" for k in (0, 0.004, 0.008)
    ]


@pytest.mark.slow  # three pipeline runs; test_sketch_module checks the same exactness on the module alone
def test_kill_then_rerun_resumes_exactly_like_an_uninterrupted_fine_tuning(make_cfg, source, tmp_path):
    args = [*TINY, STAGES, f"sketch.source={source}", *every(0.008)]
    ref = run_from_config(make_cfg([*args, "sketch.kimg=0.016"], run_dir=tmp_path / "whole"))["sketch"]
    cut = tmp_path / "cut"
    run_from_config(make_cfg([*args, "sketch.kimg=0.008"], run_dir=cut))
    (cut / "sketch" / "done.json").unlink()  # as if killed right after its checkpoint at kimg 0.008
    out = run_from_config(make_cfg([*args, "sketch.kimg=0.016"], run_dir=cut))["sketch"]
    assert not (cut / "sketch.prev").exists(), "more kimg must not change the stage's fingerprint"
    a = load_checkpoint(tmp_path / "whole" / ref["sketch_checkpoint"])
    b = load_checkpoint(cut / out["sketch_checkpoint"])
    assert b["sdstylegan"]["kimg"] == a["sdstylegan"]["kimg"] == 0.016
    assert b["sdstylegan"]["minibatches"] == 4
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][k], v, rtol=0, atol=0, msg=f"{k} differs after resume")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "is empty"),
        (
            {"a.png": None, "b.png": None, "c.png": None, "d.png": None, "readme.txt": b"hi"},
            "not readable images",
        ),
        ({"a.png": None}, "1 sketch, at least sketch.min_sketches=4"),
    ],
)
def test_bad_sketch_folder_fails_at_start_before_any_stage(make_cfg, tmp_path, files, message):
    folder = tmp_path / "user_sketches"
    folder.mkdir()
    for name, data in files.items():
        if data is None:
            Image.new("L", (40, 40), 255).save(folder / name)
        else:
            (folder / name).write_bytes(data)
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,train,sketch]", f"sketch.path={folder}"])
    with pytest.raises(ValueError, match=message):
        run_from_config(cfg)
    assert not (Path(cfg.paths.run_dir) / "demo_data").exists(), "nothing ran"


def test_no_generator_to_fine_tune_fails_at_start(make_cfg):
    cfg = make_cfg([*TINY, STAGES])  # neither sketch.source nor a train stage before sketch
    with pytest.raises(ValueError, match="sketch.source is not set and no `train` stage comes before"):
        run_from_config(cfg)
    assert not (Path(cfg.paths.run_dir) / "demo_data").exists(), "nothing ran"

"""Start-of-run checks: mistyped config values of pending stages, damaged outputs of done stages."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from conftest import compose_config, tiny_run

from sdstylegan.pipeline.runner import run_pipeline
from sdstylegan.pipeline.validate import ValidationError

# 12 demo images at 16², a tiny G + E trained for one minibatch with FID (stand-in) so best.ckpt exists.
TINY = [
    *tiny_run(12, 16),
    "training.total_kimg=0.004",
    "training.callbacks.samples.num=4",
    "training.callbacks.metrics.num_samples=8",
    "metrics.lpips.net=vgg",
]
EVERY = [f"training.callbacks.{c}.every_kimg=0.004" for c in ("checkpoint", "samples", "metrics")]
TRAIN_RAW = [*TINY, *EVERY, "pipeline.stages=[demo_data,train_raw]"]


def _error_lines(err: pytest.ExceptionInfo) -> list[str]:
    return [line.strip() for line in str(err.value).splitlines() if line.startswith("  ")]


def validate_only(cfg) -> str:
    """The start-of-run check alone (no stage runs): '' or the error text."""
    from sdstylegan.pipeline.runner import _resolve_stages, validate

    try:
        validate(cfg, _resolve_stages(cfg))
    except ValidationError as e:
        return str(e)
    return ""


def _ran_nothing(run_dir: Path) -> bool:
    return not [p for p in run_dir.iterdir() if p.is_dir()] if run_dir.exists() else True


def test_mistyped_values_stop_the_run_before_its_first_stage(make_cfg):
    cfg = make_cfg(
        [
            "experiment=demo",
            "dataset.num_images=8",
            "dataset.image_size=32",
            "training.batch_size=0",
            "dataset.resolution=100",
            "training.total_kimg=-1",
            "detector.batch_size=0",
            "dataset.datamodule.batch_size=-2",
            "filtering.theta=0",
            "clustering.num_clusters=0",
            "clustering.psi=-0.5",
            "metrics.num_samples=1",
        ]
    )
    with pytest.raises(ValidationError) as err:
        run_pipeline(cfg)
    assert isinstance(err.value, ValueError)
    assert (
        _error_lines(err)
        == [
            "detector.batch_size=0: must be an integer ≥ 1 (for crop)",
            "dataset.resolution=100: the StyleGAN2 networks need a power of two ≥ 8 (e.g. 64 or 128) (for train_raw, train)",
            "training.batch_size=0: must be an integer ≥ 1 (for train_raw, train)",
            "training.total_kimg=-1: must be a number > 0 (for train_raw, train)",
            "dataset.datamodule.batch_size=-2: must be an integer ≥ 1 (for train_raw, train)",
            "metrics.num_samples=1: must be an integer ≥ 2 (for train_raw, train, evaluate)",  # FID during training too
            "filtering.theta=0: must be a number > 0 or null (for self_filter)",
            "clustering.num_clusters=0: must be an integer ≥ 1 (for cluster)",
            "clustering.psi=-0.5: must be a number ≥ 0 (for cluster)",
        ]
    )
    assert str(err.value).startswith("the run cannot start: 9 problems; no stage was run")
    assert "pipeline.validate=false" in str(err.value)
    assert _ran_nothing(Path(cfg.paths.run_dir))
    # the switch: the same values with only demo_data pending and the check off run
    off = make_cfg(
        [
            "experiment=demo",
            "dataset.num_images=4",
            "dataset.image_size=32",
            "pipeline.stages=[demo_data]",
            "training.batch_size=0",
            "pipeline.validate=false",
        ]
    )
    assert run_pipeline(off)["demo_data"]["num_images"] == 4


def test_batch_must_split_over_the_processes_lightning_would_start(make_cfg, tmp_path):
    small = [
        "experiment=demo",
        "dataset.num_images=4",
        "dataset.image_size=32",
        "pipeline.stages=[demo_data,train_raw]",
    ]
    cfg = make_cfg([*small, "trainer.devices=3"], tmp_path / "a")  # 3 CPU processes on this machine; batch 16
    with pytest.raises(ValidationError) as err:
        run_pipeline(cfg)
    assert _error_lines(err) == [
        "training.batch_size=16: not divisible by the 3 processes of this run (trainer.devices=3 × "
        "trainer.num_nodes=1); use a multiple of 3, e.g. 15 or 18 (for train_raw)"
    ]
    assert _ran_nothing(Path(cfg.paths.run_dir))
    cfg = make_cfg(
        [*small, "trainer.devices=2", "trainer.num_nodes=2", "training.batch_size=6"], tmp_path / "b"
    )
    with pytest.raises(
        ValidationError, match=r"batch_size=6: not divisible by the 4 processes .*devices=2 × "
    ):
        run_pipeline(cfg)
    assert _ran_nothing(Path(cfg.paths.run_dir))
    cfg = make_cfg([*small, "trainer=ddp_cpu", "training.batch_gpu=3"], tmp_path / "c")
    with pytest.raises(ValidationError) as err:
        run_pipeline(cfg)
    assert _error_lines(err) == [
        "training.batch_gpu=3: the per-GPU batch 8 (training.batch_size=16 / 2 processes) is not a multiple of it "
        "(for train_raw)"
    ]
    assert _ran_nothing(Path(cfg.paths.run_dir))
    # devices=auto: what Lightning picks here (1 CPU process) divides any batch
    assert validate_only(make_cfg([*small, "trainer.devices=auto"], tmp_path / "d")) == ""


def test_only_the_stages_that_will_run_are_checked(make_cfg):
    small = [
        "experiment=demo",
        "dataset.num_images=4",
        "dataset.image_size=32",
        "training.batch_size=0",
        "dataset.resolution=100",
    ]
    assert run_pipeline(make_cfg([*small, "pipeline.stages=[demo_data]"]))["demo_data"]["num_images"] == 4
    cfg = make_cfg([*small, "pipeline.stages=[demo_data,train_raw]"])
    with pytest.raises(ValidationError) as err:
        run_pipeline(cfg)
    assert _error_lines(err) == [
        "dataset.resolution=100: the StyleGAN2 networks need a power of two ≥ 8 (e.g. 64 or 128) (for train_raw)",
        "training.batch_size=0: must be an integer ≥ 1 (for train_raw)",
    ]
    assert not (Path(cfg.paths.run_dir) / "train_raw").exists()


# ----------------------------------------------------------------------------- damaged outputs of done stages
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished demo_data → train_raw run (last.ckpt and best.ckpt), trained once for this module."""
    run = tmp_path_factory.mktemp("trained") / "run"
    out = run_pipeline(compose_config(TRAIN_RAW, run))
    assert out["train_raw"]["best_checkpoint"] == "train_raw/checkpoints/best.ckpt"
    return run


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def _token(run: Path, stage: str) -> str:
    return json.loads((run / stage / "done.json").read_text())["token"]


def _halve(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def test_truncated_last_ckpt_is_found_before_the_done_stage_is_skipped(run_copy, make_cfg):
    ckpts, token = run_copy / "train_raw" / "checkpoints", _token(run_copy, "train_raw")
    size = (ckpts / "last.ckpt").stat().st_size
    _halve(ckpts / "last.ckpt")
    with pytest.raises(ValidationError) as err:
        run_pipeline(make_cfg(TRAIN_RAW, run_copy))
    (line,) = _error_lines(err)
    assert line.startswith(
        "train_raw: train_raw/checkpoints/last.ckpt is not a readable torch file (BadZipFile"
    )
    assert f"{size // 2:,} bytes ({size:,} when the stage finished)" in line
    assert line.endswith(
        "train_raw/checkpoints/best.ckpt (kimg 0.004) is intact: copy it over last.ckpt to go on "
        "from it (a larger training.total_kimg trains on), or train again with "
        "pipeline.force=[train_raw]"
    )
    assert "its folder moves to <stage>.prev" in str(err.value)
    # nothing was run, moved or deleted
    assert _token(run_copy, "train_raw") == token and not (run_copy / "train_raw.prev").exists()
    assert (ckpts / "last.ckpt").stat().st_size == size // 2
    # extending the run would resume from last.ckpt: refused at the start too, not inside the stage
    with pytest.raises(ValidationError, match="last.ckpt is not a readable torch file"):
        run_pipeline(make_cfg([*TRAIN_RAW, "training.total_kimg=0.008"], run_copy))
    # the way out the message offers: best.ckpt over last.ckpt, and the stage counts as done again
    shutil.copyfile(ckpts / "best.ckpt", ckpts / "last.ckpt")
    run_pipeline(make_cfg(TRAIN_RAW, run_copy))
    assert _token(run_copy, "train_raw") == token


def test_damaged_best_ckpt_beside_an_intact_last_ckpt_only_warns(run_copy, make_cfg, caplog):
    token = _token(run_copy, "train_raw")
    (run_copy / "train_raw" / "checkpoints" / "best.ckpt").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="sdstylegan.pipeline.validate"):
        run_pipeline(make_cfg(TRAIN_RAW, run_copy))
    assert _token(run_copy, "train_raw") == token  # skipped as done
    assert (
        "stage train_raw: train_raw/checkpoints/best.ckpt is empty, 0 bytes (" in caplog.text
        and "no stage reads it, so train_raw stays done" in caplog.text
    )


def test_runs_recorded_before_this_check_are_verified_by_file_type(run_copy, make_cfg):
    for stage in ("demo_data", "train_raw"):  # done.json without the `files` record
        done = json.loads((run_copy / stage / "done.json").read_text())
        del done["files"]
        (run_copy / stage / "done.json").write_text(json.dumps(done))
    _halve(run_copy / "train_raw" / "checkpoints" / "last.ckpt")
    (run_copy / "demo_data" / "manifest.jsonl").unlink()
    with pytest.raises(ValidationError) as err:
        run_pipeline(make_cfg(TRAIN_RAW, run_copy))
    lines = _error_lines(err)
    assert (
        lines[0]
        == "demo_data: demo_data/manifest.jsonl is missing; redo the stage with pipeline.force=[demo_data]"
    )
    assert lines[1].startswith("train_raw: train_raw/checkpoints/last.ckpt is not a readable torch file")


def test_manifest_cut_short_or_cut_off_is_noticed(make_cfg):
    small = [
        "experiment=demo",
        "dataset.num_images=6",
        "dataset.image_size=32",
        "pipeline.stages=[demo_data]",
    ]
    cfg = make_cfg(small)
    run_pipeline(cfg)
    manifest = Path(cfg.paths.run_dir) / "demo_data" / "manifest.jsonl"
    text = manifest.read_text()
    manifest.write_text("".join(text.splitlines(keepends=True)[:4]))  # two whole records lost
    with pytest.raises(ValidationError) as err:
        run_pipeline(cfg)
    assert _error_lines(err) == [
        "demo_data: demo_data/manifest.jsonl is damaged: 4 lines, 6 when the stage "
        "finished; redo the stage with pipeline.force=[demo_data]"
    ]
    manifest.write_text(text[:-20])  # the last record cut in the middle
    with pytest.raises(ValidationError, match=r"manifest.jsonl is damaged: line 6 is not JSON \(cut off\)"):
        run_pipeline(cfg)
    with pytest.raises(ValidationError):  # never repaired on its own: the same command fails again
        run_pipeline(cfg)
    force = make_cfg([*small, "pipeline.force=[demo_data]"])
    run_pipeline(force)  # the way out: redo it; the damaged folder is kept aside
    assert manifest.read_text() == text
    assert (Path(cfg.paths.run_dir) / "demo_data.prev" / "manifest.jsonl").read_text() == text[:-20]

"""Stage `artify` in the pipeline: index a folder, artify a checkpoint's samples, skip when done."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sdstylegan.artify.procedural import write_collection
from sdstylegan.pipeline.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).parent))
from test_artify_content import tiny_run  # noqa: E402

TINY = [
    "+artify=standin",
    "artify.vgg.width=0.125",
    "artify.index.resolution=64",
    "artify.transfer.resolution=32",
    "artify.transfer.iterations=2",
    "artify.generate.seeds=0-1",
    "pipeline.stages=[artify]",
]


def test_stage_artifies_the_generators_samples_and_is_skipped_when_done(make_cfg, tmp_path):
    write_collection(tmp_path / "art", 6, side=48)
    run, _ = tiny_run(tmp_path / "source_run")
    ckpt = run / "train" / "checkpoints" / "last.ckpt"
    cfg = make_cfg([*TINY, f"artify.collection={tmp_path / 'art'}", f"artify.checkpoint={ckpt}"])
    out = run_pipeline(cfg)["artify"]
    run_dir = Path(cfg.paths.run_dir)
    assert out["index"] == "artify/index" and sorted(out["best"]) == [
        "source_run_seed0000",
        "source_run_seed0001",
    ]
    for folder in out["contents"]:
        assert (run_dir / folder / "triptych_standin.png").is_file()
    stamp = (run_dir / out["contents"][0] / "result_standin.png").stat().st_mtime_ns
    assert run_pipeline(cfg)["artify"] == out  # done: skipped
    assert (run_dir / out["contents"][0] / "result_standin.png").stat().st_mtime_ns == stamp


def test_stage_without_a_collection_says_what_to_set(make_cfg):
    with pytest.raises(ValueError, match="artify.collection"):
        run_pipeline(make_cfg(TINY))


def test_missing_vgg_weights_stop_the_run_at_start_naming_the_key(make_cfg, tmp_path):
    from sdstylegan.pipeline.preflight import PreflightError

    cfg = make_cfg(
        [
            "+artify=default",
            f"artify.vgg.weights={tmp_path / 'absent' / 'vgg19.pth'}",
            f"artify.collection={tmp_path}",
            "pipeline.stages=[artify]",
        ]
    )
    with pytest.raises(PreflightError, match=r"artify\.vgg.*no such file"):
        run_pipeline(cfg)
    assert not (Path(cfg.paths.run_dir) / "artify").exists()  # before the stage started

"""StageContext: paths relative to the run directory, and `latest` over the outputs of earlier stages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sdstylegan.pipeline.context import MissingInputError, StageContext


def _ctx(run: Path, inputs: dict | None = None, name: str = "train") -> StageContext:
    return StageContext(name, OmegaConf.create({}), run, run / name, inputs=inputs or {})


def test_path_resolves_stored_relative_paths_against_the_run_directory(tmp_path):
    ctx = _ctx(tmp_path / "run")
    assert ctx.path("demo_data/manifest.jsonl") == tmp_path / "run" / "demo_data" / "manifest.jsonl"
    assert ctx.path(Path("a") / "b.png") == tmp_path / "run" / "a" / "b.png"
    assert ctx.path("/elsewhere/x.ckpt") == Path("/elsewhere/x.ckpt")  # absolute: kept


def test_relative_stores_paths_inside_the_run_directory_relative_to_it(tmp_path):
    run = tmp_path / "run"
    ctx = _ctx(run)
    assert ctx.relative(run / "train" / "checkpoints" / "last.ckpt") == "train/checkpoints/last.ckpt"
    assert ctx.relative(str(run / "m.jsonl")) == "m.jsonl"
    assert ctx.relative(tmp_path / "other" / "m.jsonl") == str(tmp_path / "other" / "m.jsonl")
    assert ctx.relative(run / ".." / "run" / "x.json") == "x.json"  # normalised first
    # round trip: what `relative` stores, `path` finds again
    for p in (run / "a" / "b.png", tmp_path / "outside.png"):
        assert ctx.path(ctx.relative(p)) == p


def test_relative_sees_through_a_symlinked_run_directory(tmp_path):
    real = tmp_path / "real_run"
    (real / "train").mkdir(parents=True)
    link = tmp_path / "link_run"
    os.symlink(real, link)
    ctx = _ctx(link)
    assert ctx.relative(real / "train" / "last.ckpt") == "train/last.ckpt"
    assert ctx.relative(link / "train" / "last.ckpt") == "train/last.ckpt"


def test_latest_takes_the_last_stage_that_produced_the_key(tmp_path):
    inputs = {
        "demo_data": {"manifest": "demo_data/manifest.jsonl", "num_images": 8},
        "crop": {"manifest": "crop/manifest.jsonl"},
        "train_raw": {"checkpoint": "train_raw/last.ckpt"},
        "cluster": {"centres": "cluster/centres.pt"},  # produces no manifest: looked past
    }
    ctx = _ctx(tmp_path, inputs)
    assert ctx.latest("manifest") == "crop/manifest.jsonl"
    assert ctx.latest("num_images") == 8
    assert ctx.latest("checkpoint") == "train_raw/last.ckpt"


def test_latest_among_named_stages_ignores_the_others(tmp_path):
    inputs = {
        "demo_data": {"manifest": "demo_data/manifest.jsonl"},
        "crop": {"manifest": "crop/manifest.jsonl"},
        "self_filter": {"manifest": "self_filter/manifest.jsonl"},
    }
    ctx = _ctx(tmp_path, inputs)
    assert ctx.latest("manifest", "demo_data") == "demo_data/manifest.jsonl"  # later stages not consulted
    assert ctx.latest("manifest", "demo_data", "crop") == "crop/manifest.jsonl"
    assert ctx.latest("manifest", "demo_data", "ingest") == "demo_data/manifest.jsonl"  # not run: skipped


def test_a_stored_none_or_falsy_value_still_counts_as_produced(tmp_path):
    ctx = _ctx(tmp_path, {"a": {"checkpoint": "a/x.ckpt"}, "b": {"checkpoint": None}, "c": {"n": 0}})
    assert ctx.latest("checkpoint") is None  # b produced the key, even as None
    assert ctx.latest("n") == 0


def test_missing_input_names_the_stage_the_key_and_where_it_looked(tmp_path):
    ctx = _ctx(tmp_path, {"demo_data": {"manifest": "m.jsonl"}, "train_raw": {}}, name="evaluate")
    with pytest.raises(MissingInputError) as err:
        ctx.latest("checkpoint")
    text = str(err.value)
    assert "stage 'evaluate'" in text and "'checkpoint'" in text and "pipeline.stages" in text
    assert "demo_data, train_raw" in text  # where it looked
    with pytest.raises(MissingInputError, match=r"'checkpoint'.*train, train_raw"):
        ctx.latest("checkpoint", "train", "train_raw")
    with pytest.raises(MissingInputError, match="'manifest'"):
        _ctx(tmp_path).latest("manifest")  # no earlier stage at all
    assert issubclass(MissingInputError, RuntimeError)


def test_defaults_are_fresh_per_context(tmp_path):
    a, b = _ctx(tmp_path), _ctx(tmp_path)
    a.inputs["x"] = {"k": 1}
    assert b.inputs == {} and a.resume is False

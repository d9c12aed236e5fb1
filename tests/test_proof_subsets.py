"""train_random / train_all subsets: which records are drawn, what is left untouched, what the stage hands on.

tests/test_proof_stage.py covers the kept counts and the whole proof chain; this file covers the draw itself
(only scored records, seeds, untouched fields, edge sizes) and `train_subset`'s inputs and outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import tiny_run

from sdstylegan.data.manifest import ManifestRecord, read_manifest, write_manifest
from sdstylegan.pipeline.context import MissingInputError, StageContext
from sdstylegan.proof.subsets import subset_records, train_subset


def _records(n: int = 20) -> list[ManifestRecord]:
    recs = [
        ManifestRecord(
            id=f"r{i}", source=f"s{i}", kept=i % 4 != 0, filter_score=i / 10, orig_path=f"images/{i}.png"
        )
        for i in range(n)
    ]
    recs.append(ManifestRecord(id="broken", source="b", status="not_image", kept=True))  # not OK: never drawn
    recs.append(ManifestRecord(id="unscored", source="u"))
    return recs


def test_only_scored_records_are_drawn_and_others_keep_their_flags():
    recs = _records()
    for subset in ("random", "all"):
        out, _ = subset_records(recs, subset, seed=0)
        assert out[-2].kept is True and out[-2].status == "not_image"  # left exactly as it was
        assert out[-1].kept is None
        assert [r.id for r in out] == [r.id for r in recs]  # same records, same order


def test_fields_other_than_kept_are_preserved_and_the_input_is_not_changed():
    recs = _records()
    before = [r.to_dict() for r in recs]
    out, _ = subset_records(recs, "random", seed=3)
    assert [r.to_dict() for r in recs] == before  # input records not mutated
    for a, b in zip(out, before):
        assert {k: v for k, v in a.to_dict().items() if k != "kept"} == {
            k: v for k, v in b.items() if k != "kept"
        }


def test_the_draw_depends_on_the_seed_only():
    recs = _records(40)
    draws = {s: [r.kept for r in subset_records(recs, "random", seed=s)[0]] for s in (0, 1, 2)}
    assert draws[0] == [r.kept for r in subset_records(_records(40), "random", seed=0)[0]]
    assert draws[0] != draws[1] and draws[1] != draws[2]
    assert all(sum(bool(k) for k in d[:40]) == 30 for d in draws.values())  # always the filter's count


def test_edge_sizes_nothing_kept_and_everything_kept():
    none_kept = [ManifestRecord(id=str(i), source="s", kept=False) for i in range(5)]
    out, n = subset_records(none_kept, "random", seed=0)
    assert n == 0 and [r.kept for r in out] == [False] * 5
    out, n = subset_records(none_kept, "all", seed=0)  # every scored image, whatever the filter said
    assert n == 5 and all(r.kept for r in out)
    all_kept = [ManifestRecord(id=str(i), source="s", kept=True) for i in range(5)]
    out, n = subset_records(all_kept, "random", seed=0)
    assert n == 5 and all(r.kept for r in out)


def test_a_failed_record_with_a_decision_is_not_scored():
    recs = [ManifestRecord(id="x", source="s", status="too_small", kept=False)]
    with pytest.raises(ValueError, match="no record carries a self-filter decision"):
        subset_records(recs, "all", seed=0)


# ----------------------------------------------------------------------------- train_subset


def _ctx(tmp_path: Path, inputs: dict, cfg=None) -> StageContext:
    from omegaconf import OmegaConf

    run = tmp_path / "run"
    return StageContext(
        "train_random", cfg or OmegaConf.create({"seed": 0}), run, run / "train_random", inputs=inputs
    )


def test_train_subset_reads_only_the_self_filter_manifest(tmp_path):
    ctx = _ctx(tmp_path, {"demo_data": {"manifest": "demo_data/manifest.jsonl"}})
    with pytest.raises(MissingInputError, match=r"'manifest'.*self_filter"):
        train_subset(ctx, "random")
    assert not ctx.stage_dir.exists()


def test_train_subset_refuses_an_unscored_manifest_before_writing(tmp_path):
    ctx = _ctx(tmp_path, {"self_filter": {"manifest": "self_filter/manifest.jsonl"}})
    write_manifest(ctx.run_dir / "self_filter" / "manifest.jsonl", [ManifestRecord(id="a", source="s")])
    with pytest.raises(ValueError, match="run self_filter first"):
        train_subset(ctx, "all")
    assert not (ctx.stage_dir / "manifest.jsonl").exists()


TINY = [
    *tiny_run(12, 16),
    "training.total_kimg=0.004",
    "training.callbacks.samples.num=4",
    "training.callbacks.checkpoint.every_kimg=0.004",
    "training.callbacks.metrics.every_kimg=0.004",
    "training.callbacks.metrics.num_samples=8",
]


@pytest.mark.slow
def test_train_subset_trains_on_a_rebased_subset_and_renames_its_outputs(make_cfg):
    """One tiny training: the subset manifest resolves from its own folder; the checkpoint comes back as
    `subset_checkpoint` (not `checkpoint`, which later stages would take for train's), best.ckpt is dropped."""
    from sdstylegan.data.demo_stage import generate_demo_dataset

    cfg = make_cfg(TINY)
    run = Path(cfg.paths.run_dir)
    generate_demo_dataset(run / "demo_data", 12, seed=0, resolution=16, num_workers=1)
    scored = [
        ManifestRecord.from_dict(
            {**r.to_dict(), "kept": i % 3 != 0, "orig_path": f"../demo_data/{r.orig_path}"}
        )
        for i, r in enumerate(read_manifest(run / "demo_data" / "manifest.jsonl"))
    ]
    write_manifest(run / "self_filter" / "manifest.jsonl", scored)
    ctx = StageContext(
        "train_random",
        cfg,
        run,
        run / "train_random",
        inputs={"self_filter": {"manifest": "self_filter/manifest.jsonl"}},
    )
    ctx.stage_dir.mkdir(parents=True)
    out = train_subset(ctx, "random")
    assert out["subset"] == "random" and out["images"] == 8
    assert out["subset_manifest"] == "train_random/manifest.jsonl"
    assert out["subset_checkpoint"] == "train_random/checkpoints/last.ckpt"
    assert "checkpoint" not in out and "best_checkpoint" not in out and "manifest" not in out
    assert (run / out["subset_checkpoint"]).is_file()
    subset = read_manifest(run / out["subset_manifest"])
    assert sum(bool(r.kept) for r in subset) == 8
    for r in subset:  # paths rebased from self_filter/ to train_random/: the same files
        assert r.orig_path == f"../demo_data/{Path(r.orig_path).parent.name}/{Path(r.orig_path).name}"
        assert r.image_path(run / "train_random").resolve().is_file()
    assert (
        json.loads((run / "train_random" / "manifest.jsonl").read_text().splitlines()[0])["id"]
        == scored[0].id
    )

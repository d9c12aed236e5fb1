"""Cheap checks of a done stage's output files: what done.json records, each file type's damage, the messages."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from sdstylegan.pipeline.verify import (
    Damage,
    describe_outputs,
    file_damage,
    verify_outputs,
    verify_training,
)


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (200, 10, 10)).save(path)
    return path


def _ckpt(path: Path, kimg: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    obj: dict = {"state_dict": {"G.w": torch.ones(4)}}
    if kimg is not None:
        obj["sdstylegan"] = {"kimg": kimg}
    torch.save(obj, path)
    return path


# ----------------------------------------------------------------------------- describe_outputs


def test_describe_outputs_records_existing_files_with_bytes_and_jsonl_lines(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "m.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    (tmp_path / "s" / "r.json").write_text('{"x": 1}')
    outside = tmp_path / "elsewhere.json"
    outside.write_text("[]")
    files = describe_outputs(
        tmp_path,
        {
            "manifest": "s/m.jsonl",
            "report": "s/r.json",
            "absolute": str(outside),
            "missing": "s/not_there.json",
            "folder": "s",  # a directory is not an output file
            "num_images": 3,
            "name": "",
            "subset": "random",  # a plain string value, no such file
        },
    )
    assert files == {
        "manifest": {"path": "s/m.jsonl", "bytes": 27, "lines": 3},
        "report": {"path": "s/r.json", "bytes": 8},  # no line count outside .jsonl
        "absolute": {"path": str(outside), "bytes": 2},  # recorded as given
    }


# ----------------------------------------------------------------------------- file_damage by type


def test_missing_and_non_file_paths(tmp_path):
    assert file_damage(tmp_path / "gone.json") == "is missing"
    assert file_damage(tmp_path) == "is not a file"


def test_torch_file_intact_truncated_or_not_torch(tmp_path):
    ckpt = _ckpt(tmp_path / "last.ckpt")
    size = ckpt.stat().st_size
    assert file_damage(ckpt, {"bytes": size}) is None
    os.truncate(ckpt, size // 2)
    why = file_damage(ckpt, {"bytes": size})
    assert why.startswith("is not a readable torch file (BadZipFile")
    assert why.endswith(f", {size // 2:,} bytes ({size:,} when the stage finished)")
    assert file_damage(ckpt, {"bytes": size // 2}).endswith(f", {size // 2:,} bytes")  # same size: no aside

    plain_zip = tmp_path / "weights.pt"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("archive/other.txt", "x")
    assert file_damage(plain_zip).startswith("is a zip archive without torch's data.pkl, ")

    empty = tmp_path / "e.pth"
    empty.write_bytes(b"")
    assert file_damage(empty, {"bytes": 10}) == "is empty, 0 bytes (10 when the stage finished)"


def test_empty_file_is_damage_unless_it_was_empty_when_recorded(tmp_path):
    p = tmp_path / "r.json"
    p.write_bytes(b"")
    assert file_damage(p, {"bytes": 120}) == "is empty (120 bytes when the stage finished)"
    assert file_damage(p) == "is empty"  # nothing recorded (older runs): an empty output is still damage
    assert file_damage(p, {"bytes": 0}).startswith("cannot be read (JSONDecodeError")  # still not JSON
    journal = tmp_path / "m.jsonl"
    journal.write_bytes(b"")
    assert file_damage(journal, {"bytes": 0, "lines": 0}) is None  # it was empty then too
    other = tmp_path / "notes.txt"  # unknown suffix: only existence and emptiness are checked
    other.write_text("anything at all")
    assert file_damage(other) is None
    other.write_bytes(b"")
    assert file_damage(other, {"bytes": 15}) == "is empty (15 bytes when the stage finished)"


def test_json_must_parse(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('{"a": [1, 2')
    why = file_damage(p, {"bytes": 40})
    assert why.startswith("cannot be read (JSONDecodeError: ")
    assert why.endswith(", 11 bytes (40 when the stage finished)")
    p.write_bytes(b'{"a": "\xff"}')  # not UTF-8
    assert file_damage(p).startswith("cannot be read (UnicodeDecodeError")
    p.write_text('{"a": [1, 2]}')
    assert file_damage(p, {"bytes": 999}) is None  # a changed size alone is not damage for JSON


def test_jsonl_line_by_line_and_against_the_recorded_count(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"i": 0}\n{"i": 1}\n{"i": 2}\n')
    assert file_damage(p, {"lines": 3}) is None
    assert file_damage(p) is None  # no count recorded: lines are still parsed, the count is not compared
    assert file_damage(p, {"lines": 5}) == "is damaged: 3 lines, 5 when the stage finished"
    p.write_text('{"i": 0}\n{"i": \n{"i": 2}\n')
    assert file_damage(p, {"lines": 3}) == "is damaged: line 2 is not JSON"
    p.write_text('{"i": 0}\n{"i": 1}\n{"i"')
    assert file_damage(p, {"lines": 3}) == "is damaged: line 3 is not JSON (cut off)"
    p.write_text('{"i": 0}\n{"i": 1}')  # valid JSON but without its newline: a writer stopped there
    assert file_damage(p, {"lines": 2}) == "is damaged: line 2 is cut off (no newline)"


def test_png_needs_its_signature_and_its_end_chunk(tmp_path):
    p = _png(tmp_path / "grid.png")
    data = p.read_bytes()
    assert file_damage(p) is None
    p.write_bytes(data[: len(data) // 2])
    assert file_damage(p) == "is damaged: not a complete PNG"
    p.write_bytes(b"GIF89a" + data[6:])
    assert file_damage(p) == "is damaged: not a complete PNG"
    p.write_bytes(b"\x89PNG")  # shorter than the tail that is read
    assert file_damage(p) == "is damaged: not a complete PNG"


# ----------------------------------------------------------------------------- verify_outputs / Damage


def test_damage_line_says_how_to_redo_the_stage_or_gives_the_hint():
    d = Damage("crop", "manifest", "crop/manifest.jsonl", "is missing")
    assert d.fatal
    assert d.line() == "crop: crop/manifest.jsonl is missing; redo the stage with pipeline.force=[crop]"
    assert Damage("x", "k", "x/a.png", "is empty", hint="do this").line() == "x: x/a.png is empty; do this"


def test_verify_outputs_uses_the_files_record(tmp_path):
    run = tmp_path / "run"
    (run / "s").mkdir(parents=True)
    (run / "s" / "m.jsonl").write_text('{"i": 0}\n{"i": 1}\n')
    _png(run / "s" / "grid.png")
    done = {
        "outputs": {"manifest": "s/m.jsonl", "grid": "s/grid.png", "n": 2},
        "files": describe_outputs(run, {"manifest": "s/m.jsonl", "grid": "s/grid.png"}),
    }
    assert verify_outputs(run, "s", done) == []
    (run / "s" / "m.jsonl").write_text('{"i": 0}\n')
    (run / "s" / "grid.png").unlink()
    assert verify_outputs(run, "s", done) == [
        Damage("s", "manifest", "s/m.jsonl", "is damaged: 1 lines, 2 when the stage finished"),
        Damage("s", "grid", "s/grid.png", "is missing"),
    ]
    # only what `files` lists is checked: an output absent from it is not looked at
    assert verify_outputs(run, "s", {"outputs": done["outputs"], "files": {}}) == []


def test_without_a_files_record_outputs_that_look_like_files_are_checked(tmp_path):
    run = tmp_path / "run"
    absolute = _png(tmp_path / "abs" / "pic.png")
    done = {
        "outputs": {
            "manifest": "s/m.jsonl",  # missing
            "picture": str(absolute),  # absolute, intact
            "checkpoint": "s/last.ckpt",  # missing
            "log": "s/train.log",  # not a checked suffix: ignored
            "subset": "random",
            "count": 3,
        }
    }
    damage = verify_outputs(run, "s", done)
    assert [(d.key, d.path, d.why) for d in damage] == [
        ("manifest", "s/m.jsonl", "is missing"),
        ("checkpoint", "s/last.ckpt", "is missing"),
    ]
    assert verify_outputs(run, "s", {}) == []  # neither outputs nor files: nothing to check


# ----------------------------------------------------------------------------- verify_training


def _training_run(run: Path, best_kimg: float | None = 1.5) -> dict:
    ckpts = run / "train" / "checkpoints"
    _ckpt(ckpts / "last.ckpt", kimg=2.0)
    _ckpt(ckpts / "best.ckpt", kimg=best_kimg)
    outputs = {"checkpoint": "train/checkpoints/last.ckpt", "best_checkpoint": "train/checkpoints/best.ckpt"}
    return {"outputs": outputs, "files": describe_outputs(run, outputs)}


def test_damaged_best_checkpoint_only_warns(tmp_path):
    done = _training_run(tmp_path)
    assert verify_training(tmp_path, "train", done) == []
    (tmp_path / "train" / "checkpoints" / "best.ckpt").write_bytes(b"")
    (d,) = verify_training(tmp_path, "train", done)
    assert d.key == "best_checkpoint" and not d.fatal
    assert d.line().endswith("; no stage reads it, so train stays done (pipeline.force=[train] trains again)")
    # verify_outputs alone treats the same file as fatal: the leniency is verify_training's
    assert [x.fatal for x in verify_outputs(tmp_path, "train", done)] == [True]


def test_damaged_last_checkpoint_points_at_an_intact_best_with_its_kimg(tmp_path):
    done = _training_run(tmp_path, best_kimg=1.5)
    os.truncate(tmp_path / "train" / "checkpoints" / "last.ckpt", 100)
    (d,) = verify_training(tmp_path, "train", done)
    assert d.key == "checkpoint" and d.fatal
    assert d.hint == (
        "train/checkpoints/best.ckpt (kimg 1.5) is intact: copy it over last.ckpt to go on from it "
        "(a larger training.total_kimg trains on), or train again with pipeline.force=[train]"
    )


def test_best_without_training_metadata_is_offered_without_a_kimg(tmp_path):
    done = _training_run(tmp_path, best_kimg=None)  # a torch file, but no `sdstylegan` entry
    os.truncate(tmp_path / "train" / "checkpoints" / "last.ckpt", 100)
    (d,) = verify_training(tmp_path, "train", done)
    assert d.hint.startswith("train/checkpoints/best.ckpt is intact: copy it over last.ckpt")


def test_both_checkpoints_damaged_is_fatal_with_the_default_advice(tmp_path):
    done = _training_run(tmp_path)
    os.truncate(tmp_path / "train" / "checkpoints" / "last.ckpt", 100)
    (tmp_path / "train" / "checkpoints" / "best.ckpt").write_bytes(b"")
    last, best = verify_training(tmp_path, "train", done)
    assert last.key == "checkpoint" and last.fatal and last.hint == ""
    assert last.line().endswith("; redo the stage with pipeline.force=[train]")
    assert best.key == "best_checkpoint" and not best.fatal


def test_training_without_best_checkpoint_gives_default_advice(tmp_path):
    ckpt = _ckpt(tmp_path / "train_raw" / "checkpoints" / "last.ckpt", kimg=1.0)
    outputs = {"checkpoint": "train_raw/checkpoints/last.ckpt"}
    done = {"outputs": outputs, "files": describe_outputs(tmp_path, outputs)}
    ckpt.write_bytes(io.BytesIO(b"not a zip").getvalue())
    (d,) = verify_training(tmp_path, "train_raw", done)
    assert d.fatal and d.hint == ""
    assert "is not a readable torch file" in d.why


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth"])
def test_every_torch_suffix_is_read_as_a_zip(tmp_path, suffix):
    p = tmp_path / f"w{suffix}"
    p.write_text(json.dumps({"not": "torch"}))
    assert file_damage(p).startswith("is not a readable torch file (BadZipFile")

"""cluster_bench.labels: demo ground truth, label CSVs and class subfolders; bad files give clear errors."""

from __future__ import annotations

import json

import pytest

from sdstylegan.cluster_bench.labels import LabelFileError, folder_classes, read_ground_truth, read_label_csv


def test_ground_truth_modes_by_id(tmp_path):
    p = tmp_path / "ground_truth.jsonl"
    rows = [
        {"id": "a", "mode": 2, "outlier": False},
        {"id": "b", "mode": None, "outlier": True},
        {"id": "c", "mode": 0},
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert read_ground_truth(p) == {"a": "2", "b": None, "c": "0"}


@pytest.mark.parametrize(
    "text, match",
    [("{not json\n", "line 1: not JSON"), ('{"id": "a"}\n', "needs 'id' and 'mode'"), ("\n", "no rows")],
)
def test_bad_ground_truth_files(tmp_path, text, match):
    p = tmp_path / "ground_truth.jsonl"
    p.write_text(text)
    with pytest.raises(LabelFileError, match=match):
        read_ground_truth(p)
    with pytest.raises(LabelFileError, match="no such file"):
        read_ground_truth(tmp_path / "missing.jsonl")


def test_label_csv_accepts_id_path_or_file_columns(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("\ufeffFile,Label\nx/1.png, cat \n2.png,dog\n,\n2.png,dog\n")
    assert read_label_csv(p) == {"x/1.png": "cat", "2.png": "dog"}
    p.write_text("id,class\nabc,0\n")
    assert read_label_csv(p) == {"abc": "0"}


@pytest.mark.parametrize(
    "text, match",
    [
        ("name,value\na,1\n", "header must name a key column"),
        ("", "found no header"),
        ("path,label\na.png,\n", "line 2: empty label"),
        ("path,label\n,cat\n", "line 2: empty path"),
        ("path,label\na.png,cat\na.png,dog\n", "line 3: 'a.png' is labelled both 'cat' and 'dog'"),
        ("path,label\n", "no labelled rows"),
    ],
)
def test_bad_label_csvs_say_what_is_wrong(tmp_path, text, match):
    p = tmp_path / "labels.csv"
    p.write_text(text)
    with pytest.raises(LabelFileError, match=match):
        read_label_csv(p)


def test_binary_or_missing_label_file(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_bytes(b"\xff\xfe\x00\x89PNG\x00\x00")
    with pytest.raises(LabelFileError, match="not UTF-8"):
        read_label_csv(p)
    with pytest.raises(LabelFileError, match="no such file"):
        read_label_csv(tmp_path / "nope.csv")


def test_folder_classes_only_for_one_level_of_two_or_more_subfolders(tmp_path):
    paths = [tmp_path / "a" / "1.png", tmp_path / "b" / "2.png"]
    assert folder_classes(tmp_path, paths) == {"a/1.png": "a", "b/2.png": "b"}
    assert folder_classes(tmp_path, [tmp_path / "a" / "1.png", tmp_path / "a" / "2.png"]) is None  # one class
    assert folder_classes(tmp_path, [tmp_path / "1.png", tmp_path / "b" / "2.png"]) is None  # flat file
    assert (
        folder_classes(tmp_path, [tmp_path / "a" / "x" / "1.png", tmp_path / "b" / "2.png"]) is None
    )  # deeper

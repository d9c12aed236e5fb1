"""Per-image assignment files of the benchmark: written per encoder × algorithm, read back by config names."""

from __future__ import annotations

import numpy as np
import pytest

from sdstylegan.cluster_bench.assignments import read_assignment, write_assignments
from sdstylegan.utils.io import read_json

KEYS = ["a.png", "sub/b,c.png", "d.png", "e.png", "f.png"]  # a comma in a key must survive the CSV


def rows() -> list[dict]:
    return [
        {"encoder": "E_w", "algorithm": "kmeans", "k": 3, "_pred": np.array([0, 2, 2, 1, 0])},
        {"encoder": "dino_vits16_standin", "algorithm": "birch", "k": 3, "_pred": np.array([1, 1, 1, 0, 0])},
    ]


def test_round_trip_by_config_names(tmp_path):
    index = write_assignments(
        tmp_path / "assignments",
        KEYS,
        rows(),
        {"E_w": "E", "dino_vits16_standin": "dino_vits16"},
        {"D": "FileNotFoundError: no checkpoint"},
    )
    a = read_assignment(index, "E", "kmeans")
    assert a.label == "E_w" and a.k == 3
    assert a.clusters == dict(zip(KEYS, [0, 2, 2, 1, 0]))
    assert a.sizes() == [2, 1, 2]
    b = read_assignment(index, "dino_vits16", "birch")
    assert b.label == "dino_vits16_standin" and b.sizes() == [2, 3, 0]  # an empty cluster is counted as 0
    assert read_json(index)["pairs"]["dino_vits16"]["birch"]["sizes"] == [2, 3, 0]


def test_missing_pair_names_what_exists_and_why_an_encoder_is_absent(tmp_path):
    index = write_assignments(tmp_path, KEYS, rows()[:1], {"E_w": "E"}, {"D": "FileNotFoundError: no ckpt"})
    with pytest.raises(
        ValueError, match=r"no assignment for D × kmeans \(encoder D was skipped: .*no ckpt\)"
    ):
        read_assignment(index, "D", "kmeans")
    with pytest.raises(ValueError, match=r"it has: E × kmeans"):
        read_assignment(index, "E", "gmm")


def test_damaged_files_are_refused(tmp_path):
    index = write_assignments(tmp_path, KEYS, rows()[:1], {"E_w": "E"}, {})
    f = tmp_path / "E__kmeans.csv"
    lines = f.read_text().splitlines()
    f.write_text("\n".join([*lines[:2], "d.png,7", *lines[3:]]) + "\n")  # cluster 7 with k = 3
    with pytest.raises(ValueError, match=r"E__kmeans.csv:3: cluster 7 not in \[0, 3\)"):
        read_assignment(index, "E", "kmeans")
    f.write_text("\n".join(lines[:-1]) + "\n")  # a line lost
    with pytest.raises(ValueError, match="4 images, the index says 5"):
        read_assignment(index, "E", "kmeans")


def test_wrong_length_is_refused_when_writing(tmp_path):
    with pytest.raises(ValueError, match="assignments of E_w × kmeans"):
        write_assignments(tmp_path, KEYS[:3], rows()[:1], {"E_w": "E"}, {})

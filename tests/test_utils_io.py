from __future__ import annotations

import pytest

from sdstylegan.utils.io import atomic_open, read_json, write_json


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "x.json"
    write_json(p, {"a": 1})
    write_json(p, {"a": 2})
    assert read_json(p) == {"a": 2}
    assert [f.name for f in tmp_path.iterdir()] == ["x.json"]  # no temp files left


def test_failed_write_keeps_old_file(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(p, "w") as f:
            f.write("new, half")
            raise RuntimeError("killed")
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["x.txt"]

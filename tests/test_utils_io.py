from __future__ import annotations

import pytest

from sdstylegan.utils.io import atomic_open, drop_torn_line, read_json, read_jsonl, write_json


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


def test_read_jsonl_gives_line_numbers_and_skips_blank_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert list(read_jsonl(p)) == [(1, {"a": 1}), (3, {"a": 2})]


def test_read_jsonl_of_an_atomic_file_rejects_a_bad_line_with_file_and_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.jsonl, line 2: not JSON"):
        list(read_jsonl(p))
    p.write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: expected a JSON object"):
        list(read_jsonl(p, append_only=True))  # valid JSON but not a row: an error in both modes


def test_append_only_journal_survives_a_killed_writer_and_its_resume(tmp_path, caplog):
    p = tmp_path / "journal.jsonl"
    p.write_text('{"i": 0}\n{"i": 1, "pa', encoding="utf-8")  # killed mid-append
    assert [row["i"] for _, row in read_jsonl(p, append_only=True)] == [0]
    assert "cut-off last line" in caplog.text
    with pytest.raises(ValueError, match="line 2"):  # the same file read as an atomic one is damaged
        list(read_jsonl(p))
    assert drop_torn_line(p) is True
    assert p.read_text(encoding="utf-8") == '{"i": 0}\n'
    assert drop_torn_line(p) is False  # nothing more to drop
    with open(p, "a", encoding="utf-8") as f:  # the resumed writer appends whole lines
        f.write('{"i": 2}\n')
    assert [row["i"] for _, row in read_jsonl(p)] == [0, 2]
    only = tmp_path / "only.jsonl"
    only.write_text('{"i": 0', encoding="utf-8")
    assert drop_torn_line(only) is True and only.read_bytes() == b""


def test_a_bad_line_before_the_end_is_an_error_even_in_a_journal(tmp_path):
    p = tmp_path / "journal.jsonl"
    p.write_text('{"i": 0}\nnot json\n{"i": 2}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: not JSON"):
        list(read_jsonl(p, append_only=True))

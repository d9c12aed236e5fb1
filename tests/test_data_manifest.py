from __future__ import annotations

import json

import pytest

from sdstylegan.data.manifest import (
    ManifestAppender,
    ManifestRecord,
    read_manifest,
    status_counts,
    write_manifest,
)


def _rec(i: int, **kw) -> ManifestRecord:
    return ManifestRecord(
        id=f"{i:064x}", source=f"https://example.org/{i}.jpg", orig_path=f"images/{i}.jpg", **kw
    )


def test_round_trip_preserves_known_and_unknown_fields(tmp_path):
    path = tmp_path / "manifest.jsonl"
    recs = [_rec(1, bbox=[1, 9, 2, 8], orig_size=[10, 12]), _rec(2, status="not_image")]
    recs[0].extra["license"] = "CC-BY-4.0"
    write_manifest(path, recs)
    back = read_manifest(path)
    assert [r.to_dict() for r in back] == [r.to_dict() for r in recs]
    assert back[0].bbox == [1, 9, 2, 8] and back[0].extra == {"license": "CC-BY-4.0"}
    assert json.loads(path.read_text().splitlines()[0])["license"] == "CC-BY-4.0"
    assert status_counts(back) == {"ok": 1, "not_image": 1}


def test_appender_and_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    with ManifestAppender(path) as app:
        app.append(_rec(1))
        app.append(_rec(2))
    with open(path, "a") as f:
        f.write('{"id": "abc", "sou')  # a writer killed mid-line
    assert [r.id for r in read_manifest(path)] == [_rec(1).id, _rec(2).id]


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(_rec(1).to_dict()) + "\nnot json\n" + json.dumps(_rec(2).to_dict()) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        read_manifest(path)


def test_usable_and_image_path(tmp_path):
    r = _rec(1, crop_path="crops/a.png")
    assert r.usable and r.image_path(tmp_path) == tmp_path / "crops/a.png"
    assert not _rec(2, kept=False).usable
    assert not _rec(3, status="truncated").usable

from __future__ import annotations

import json

import pytest

from sdstylegan.data.manifest import ManifestRecord
from sdstylegan.data.sdip_json import export_sdip_json, read_sdip_json, sdip_entries_to_records


def test_sdip_json_round_trip_keeps_boxes(tmp_path):
    entries = [
        {"image_name": "https://x.org/a.jpg", "bounding_box": [10, 200, 30, 220]},
        {"image_name": "n02085620_10074", "bounding_box": [0, 375, 5, 500]},
    ]
    src = tmp_path / "sdip.json"
    src.write_text(json.dumps(entries))
    records = sdip_entries_to_records(read_sdip_json(src))
    assert [r.bbox for r in records] == [e["bounding_box"] for e in entries]
    for r in records:  # as if downloaded
        r.status = "ok"
    out = tmp_path / "out.json"
    assert export_sdip_json(out, records) == 2
    assert json.loads(out.read_text()) == entries


def test_export_skips_dropped_and_boxless(tmp_path):
    recs = [
        ManifestRecord(id="a", source="a", bbox=[0, 4, 0, 4]),
        ManifestRecord(id="b", source="b", bbox=[0, 4, 0, 4], kept=False),
        ManifestRecord(id="c", source="c"),
    ]
    out = tmp_path / "o.json"
    assert export_sdip_json(out, recs) == 1
    assert json.loads(out.read_text())[0]["image_name"] == "a"


@pytest.mark.parametrize(
    "bad",
    ['{"image_name": "a"}', '[{"image_name": "a"}]', '[{"image_name": "a", "bounding_box": [4, 2, 0, 1]}]'],
)
def test_malformed_sdip_json_is_refused(tmp_path, bad):
    p = tmp_path / "bad.json"
    p.write_text(bad)
    with pytest.raises(ValueError):
        read_sdip_json(p)

"""The saved listing round-trips exactly; item keys de-duplicate URLs and local files."""

from __future__ import annotations

from sdstylegan.collect.items import CollectItem, read_items, write_items
from sdstylegan.collect.outcomes import Outcome, http_status_reason


def test_round_trip_and_keys(tmp_path):
    items = [
        CollectItem("http://a/1.jpg", "sdip", bbox=[1, 2, 3, 4], meta={"licence": "CC0", "n": 1}),
        CollectItem("img2dataset:1", "img2dataset", local={"path": "/x.tar", "offset": 512, "size": 9}),
    ]
    write_items(tmp_path / "items.jsonl", items)
    assert read_items(tmp_path / "items.jsonl") == items
    assert CollectItem(" http://a/1.jpg ", "urls").key() == items[0].key()
    assert items[1].key() == "local:/x.tar:512"


def test_outcome_reasons():
    assert http_status_reason(404) == "http_404" and http_status_reason(503) == "http_5xx"
    assert Outcome("http_429").retryable and Outcome("http_5xx").retryable and Outcome("timeout").retryable
    assert not Outcome("http_404").retryable and not Outcome("not_image").retryable

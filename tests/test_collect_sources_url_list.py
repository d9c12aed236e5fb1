"""URL lists (txt, csv, jsonl) and SDIP JSON as sources: what is read, what is carried, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdstylegan.collect.sources.url_list import SdipJsonSource, UrlListSource


def test_txt_skips_comments_and_blank_lines(tmp_path):
    p = tmp_path / "urls.txt"
    p.write_text("\ufeff# gourds\nhttp://a/1.jpg\n\n  https://b/2.png  \n#http://c/3.jpg\n", encoding="utf-8")
    items = list(UrlListSource(str(p)).items())
    assert [i.url for i in items] == ["http://a/1.jpg", "https://b/2.png"] and items[0].origin == "urls"


def test_csv_keeps_other_columns(tmp_path):
    p = tmp_path / "list.csv"
    p.write_text("link,caption,licence\nhttp://a/1.jpg,a mate,CC0\nhttp://a/2.jpg,,\n", encoding="utf-8")
    items = list(UrlListSource(str(p), url_field="link").items())
    assert [i.url for i in items] == ["http://a/1.jpg", "http://a/2.jpg"]
    assert items[0].meta == {"caption": "a mate", "licence": "CC0"} and items[1].meta == {}
    with pytest.raises(ValueError, match="no column 'url'"):
        list(UrlListSource(str(p)).items())


def test_jsonl_and_its_errors(tmp_path):
    p = tmp_path / "list.jsonl"
    p.write_text(
        json.dumps({"url": "http://a/1.jpg", "caption": "x"}) + "\n\n" + json.dumps({"href": "h"}) + "\n"
    )
    it = UrlListSource(str(p)).items()
    assert next(it).meta == {"caption": "x"}
    with pytest.raises(ValueError, match=r"list.jsonl, line 3: no field .url."):
        next(it)
    with pytest.raises(ValueError, match="format"):
        UrlListSource(str(tmp_path / "urls.parquet"))
    with pytest.raises(FileNotFoundError, match="not found"):
        list(UrlListSource(str(tmp_path / "none.txt")).items())


def test_sd_lsun_ids_resolve_against_a_local_export(tmp_path):
    root = tmp_path / "lsun" / "horse"
    nested = root.joinpath(*"a1b2c3")  # lsun/data.py export layout: six one-character folders
    nested.mkdir(parents=True)
    (nested / "a1b2c3d4e5.webp").write_bytes(b"img")
    (root / "ffeedd0011.jpg").write_bytes(b"img")  # a flat export
    p = tmp_path / "horses.json"
    p.write_text(
        json.dumps(
            [
                {"image_name": "a1b2c3d4e5", "bounding_box": [0, 10, 0, 10]},
                {"image_name": "ffeedd0011", "bounding_box": [1, 9, 1, 9]},
                {"image_name": "0000000000", "bounding_box": [1, 9, 1, 9]},
            ]
        )
    )
    items = list(SdipJsonSource(str(p), lsun_root=str(root)).items())
    assert [i.local["path"] for i in items[:2]] == [
        str(nested / "a1b2c3d4e5.webp"),
        str(root / "ffeedd0011.jpg"),
    ]
    assert items[0].url == "lsun:a1b2c3d4e5" and items[0].bbox == [0, 10, 0, 10] and items[0].origin == "sdip"
    assert not Path(items[2].local["path"]).exists()  # missing: ends as local_read_error, naming the path
    with pytest.raises(FileNotFoundError, match="collect.lsun_root"):
        SdipJsonSource(str(p), lsun_root=str(tmp_path / "absent"))


def test_sdip_json_carries_boxes_and_joins_names(tmp_path):
    p = tmp_path / "sd_dogs.json"
    p.write_text(
        json.dumps(
            [
                {"image_name": "https://x.org/dog1.jpg", "bounding_box": [10, 200, 20, 180]},
                {"image_name": "n02085620/dog2.JPEG", "bounding_box": [0, 50, 5, 60]},
            ]
        )
    )
    items = list(SdipJsonSource(str(p), base_url="http://mirror.test/imgs").items())
    assert [i.url for i in items] == ["https://x.org/dog1.jpg", "http://mirror.test/imgs/n02085620/dog2.JPEG"]
    assert items[0].bbox == [10, 200, 20, 180] and items[1].meta == {"image_name": "n02085620/dog2.JPEG"}
    assert items[0].origin == "sdip"
    with pytest.raises(ValueError, match="collect.lsun_root"):  # not URLs, nothing to resolve them: refused
        list(SdipJsonSource(str(p)).items())
    p.write_text(json.dumps([{"image_name": "x", "bounding_box": [5, 5, 0, 1]}]))
    with pytest.raises(ValueError, match="empty SDIP box"):
        list(SdipJsonSource(str(p)).items())

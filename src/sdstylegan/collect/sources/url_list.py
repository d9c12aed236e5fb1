"""URL lists (txt, csv, jsonl) and SDIP's released JSON (URLs with boxes) as collect sources."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.sources.api import ApiClient
from sdstylegan.data.sdip_json import read_sdip_json

FORMATS = ("txt", "csv", "jsonl")


class UrlListSource:
    """A file of URLs: `txt` (one per line, `#` comments), `csv` (a header row) or `jsonl` (objects).

    In csv/jsonl, `url_field` names the URL column; the other columns (captions, licences, …)
    are kept per image under `meta`.
    """

    name = "urls"

    def __init__(self, path: str, format: str = "auto", url_field: str = "url"):
        self.path = Path(path).expanduser()
        fmt = format if format != "auto" else self.path.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValueError(f"URL list {self.path}: format {fmt!r} not one of {FORMATS} (set format=txt|csv|jsonl)")
        self.format = fmt
        self.url_field = url_field

    def items(self, api: ApiClient | None = None) -> Iterator[CollectItem]:
        if not self.path.is_file():
            raise FileNotFoundError(f"URL list {self.path} not found (collect source path)")
        with open(self.path, encoding="utf-8-sig", newline="") as f:
            if self.format == "txt":
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        yield CollectItem(url=line, origin=self.name)
            elif self.format == "csv":
                reader = csv.DictReader(f)
                if reader.fieldnames is None or self.url_field not in reader.fieldnames:
                    raise ValueError(f"{self.path}: no column {self.url_field!r} (columns: {reader.fieldnames}); set url_field")
                for row in reader:
                    yield self._item(row)
            else:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{self.path}:{n}: not JSON ({e})") from e
                    if not isinstance(row, dict) or self.url_field not in row:
                        raise ValueError(f"{self.path}:{n}: expected an object with {self.url_field!r}, got {line.strip()[:80]!r}")
                    yield self._item(row)

    def _item(self, row: dict[str, Any]) -> CollectItem:
        meta = {k: v for k, v in row.items() if k != self.url_field and v not in (None, "")}
        return CollectItem(url=str(row[self.url_field] or "").strip(), origin=self.name, meta=meta)


class SdipJsonSource:
    """SDIP's released JSON: `[{"image_name": <url or key>, "bounding_box": [y0, y1, x0, x1]}, …]`.

    Boxes are carried unchanged into the manifest's `bbox`. Names that are not URLs are joined to
    `base_url` when given (else they end as `bad_scheme`, with the name in the manifest).
    """

    name = "sdip"

    def __init__(self, path: str, base_url: str | None = None):
        self.path = Path(path).expanduser()
        self.base_url = base_url

    def items(self, api: ApiClient | None = None) -> Iterator[CollectItem]:
        if not self.path.is_file():
            raise FileNotFoundError(f"SDIP JSON {self.path} not found (collect source path)")
        for e in read_sdip_json(self.path):
            name = str(e["image_name"]).strip()
            url = name
            if self.base_url and not urlsplit(name).scheme:
                url = urljoin(self.base_url.rstrip("/") + "/", name.lstrip("/"))
            meta = {"image_name": name} if url != name else {}
            yield CollectItem(url=url, origin=self.name, bbox=[int(v) for v in e["bounding_box"]], meta=meta)

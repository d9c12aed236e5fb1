"""URL lists (txt, csv, jsonl) and SDIP's released JSON (URLs with boxes) as collect sources."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.sources.api import ApiClient
from sdstylegan.data.sdip_json import read_sdip_json
from sdstylegan.utils.io import read_jsonl

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
            raise ValueError(
                f"URL list {self.path}: format {fmt!r} not one of {FORMATS} (set format=txt|csv|jsonl)"
            )
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
                    raise ValueError(
                        f"{self.path}: no column {self.url_field!r} (columns: {reader.fieldnames}); set url_field"
                    )
                for row in reader:
                    yield self._item(row)
            else:
                for n, row in read_jsonl(self.path, what="URL list"):
                    if self.url_field not in row:
                        raise ValueError(f"URL list {self.path}, line {n}: no field {self.url_field!r}")
                    yield self._item(row)

    def _item(self, row: dict[str, Any]) -> CollectItem:
        meta = {k: v for k, v in row.items() if k != self.url_field and v not in (None, "")}
        return CollectItem(url=str(row[self.url_field] or "").strip(), origin=self.name, meta=meta)


LSUN_SUFFIXES = ("", ".webp", ".jpg", ".jpeg", ".png")


def lsun_path(root: Path, key: str) -> Path | None:
    """The file of LSUN image `key` under an exported LSUN folder, or None.

    `lsun/data.py export` writes `<root>/k0/k1/k2/k3/k4/k5/<key>.webp` (its `--flat` option: `<root>/<key>.webp`);
    SDIP's download.py joins the same six one-character folders with the released name.
    """
    for folder in (root.joinpath(*key[:6]), root):
        for suffix in LSUN_SUFFIXES:
            p = folder / (key + suffix)
            if p.is_file():
                return p
    return None


class SdipJsonSource:
    """SDIP's released JSON: `[{"image_name": <url or key>, "bounding_box": [y0, y1, x0, x1]}, …]`.

    Boxes go into the manifest's `bbox` (moved with the image when EXIF rotation is applied). SD-Flickr
    files (SD-Dogs, SD-Elephants) name URLs. SD-LSUN files (SD-Horses, SD-Bicycles) name LSUN image ids:
    they are read from a local LSUN export, `lsun_root` (the folder `lsun/data.py export` writes, as SDIP's
    download.py expects); other names are joined to `base_url` when given. A file naming ids with neither
    set is refused when listed, naming the setting.
    """

    name = "sdip"

    def __init__(self, path: str, base_url: str | None = None, lsun_root: str | None = None):
        self.path = Path(path).expanduser()
        self.base_url = base_url
        self.lsun_root = Path(lsun_root).expanduser() if lsun_root else None
        if self.lsun_root is not None and not self.lsun_root.is_dir():
            raise FileNotFoundError(
                f"collect.lsun_root={self.lsun_root} is not a folder: point it at your LSUN "
                f"export (python lsun/data.py export <category>_train_lmdb --out_dir DIR)"
            )

    def items(self, api: ApiClient | None = None) -> Iterator[CollectItem]:
        if not self.path.is_file():
            raise FileNotFoundError(f"SDIP JSON {self.path} not found (collect source path)")
        for e in read_sdip_json(self.path):
            name = str(e["image_name"]).strip()
            bbox = [int(v) for v in e["bounding_box"]]
            if urlsplit(name).scheme:
                yield CollectItem(url=name, origin=self.name, bbox=bbox)
            elif self.lsun_root is not None:
                found = lsun_path(self.lsun_root, name)
                # a missing file ends as local_read_error with the path it was looked for at
                local = {"path": str(found or self.lsun_root.joinpath(*name[:6], name + ".webp"))}
                yield CollectItem(
                    url=f"lsun:{name}", origin=self.name, bbox=bbox, meta={"image_name": name}, local=local
                )
            elif self.base_url:
                url = urljoin(self.base_url.rstrip("/") + "/", name.lstrip("/"))
                yield CollectItem(url=url, origin=self.name, bbox=bbox, meta={"image_name": name})
            else:
                raise ValueError(
                    f"{self.path}: image names like {name!r} are not URLs — an SD-LSUN file names LSUN "
                    f"ids: set collect.lsun_root to your exported LSUN folder (or collect.base_url "
                    f"for a mirror)"
                )

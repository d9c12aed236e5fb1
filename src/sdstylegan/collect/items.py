"""What a source lists: one `CollectItem` per URL (or per local img2dataset file) to fetch.

The full list is saved as `items.jsonl` before any download, so a resumed run works through the
same list even when a listing API would answer differently today.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from sdstylegan.utils.io import atomic_open, read_jsonl


@dataclass
class CollectItem:
    """One thing to fetch: a URL, plus what the source knows about it."""

    url: str
    origin: str  # source kind: urls, sdip, reddit, wikimedia, flickr, img2dataset
    bbox: list[int] | None = None  # [y0, y1, x0, x1] in original pixels (SDIP JSON)
    meta: dict[str, Any] = field(default_factory=dict)  # licence, author, permalink, caption, …
    local: dict[str, Any] | None = None  # {"path", ["offset", "size"]}: bytes on disk instead of HTTP

    def key(self) -> str:
        """Identity for de-duplicating the input list: the URL, or the local file/tar member."""
        if self.local is not None:
            return f"local:{self.local['path']}:{self.local.get('offset', '')}"
        return self.url.strip()


def write_items(path: str | os.PathLike, items: list[CollectItem]) -> None:
    """Save the listing atomically (one JSON object per line)."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(asdict(item), sort_keys=True) + "\n")


def read_items(path: str | os.PathLike) -> list[CollectItem]:
    """Load a listing written by `write_items` (written atomically, so always complete)."""
    return [CollectItem(**row) for _, row in read_jsonl(path, what="collect listing")]

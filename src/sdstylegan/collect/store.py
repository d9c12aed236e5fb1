"""Content-addressed image store: `images/<sha[:2]>/<sha256>.<ext>`; nothing from a URL reaches a path.

Files are written to a temporary name and renamed, so a killed run never leaves a partial file
under a final name; identical bytes from two URLs land on the same file, stored once. There is no
fsync per image (it cost ~8 ms per file here, more than the download): a killed process loses
nothing, and after an OS crash the resume check (`exists(rel, size)`) refetches torn files.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image

TMP_PREFIX = ".part-"

# Magic numbers → extension (the Content-Type header and the URL's suffix are not trusted).
_MAGIC = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
)


def sniff_extension(data: bytes) -> str:
    """File extension from the first bytes; 'img' when the format is not one we name."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    return "img"


class ContentStore:
    """Stores image bytes under their sha256 inside `root` (the stage folder)."""

    def __init__(self, root: str | os.PathLike, subdir: str = "images"):
        self.root = Path(root)
        self.subdir = subdir
        (self.root / subdir).mkdir(parents=True, exist_ok=True)

    def relpath(self, sha256: str, ext: str) -> str:
        """Path relative to the store root (the manifest's folder)."""
        return f"{self.subdir}/{sha256[:2]}/{sha256}.{ext}"

    def put(self, sha256: str, ext: str, data: bytes) -> str:
        """Write `data` unless this file is already there, whole; return its relative path."""
        rel = self.relpath(sha256, ext)
        path = self.root / rel
        if not self.exists(rel, len(data)):  # a torn file from a crash is replaced
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return rel

    def exists(self, rel: str, size: int | None = None) -> bool:
        """A finished file at `rel` (of `size` bytes when given)."""
        try:
            st = (self.root / rel).stat()
        except OSError:
            return False
        return size is None or st.st_size == size

    def remove_partials(self) -> int:
        """Delete temporary files left by a killed run; returns how many."""
        n = 0
        for p in (self.root / self.subdir).rglob(".*"):
            if p.is_file() and (p.name.startswith(TMP_PREFIX) or p.name.endswith(".tmp")):
                p.unlink(missing_ok=True)
                n += 1
        return n


def resize_longer_side(
    img: Image.Image, longer_side: int, ext: str
) -> tuple[bytes, str, tuple[int, int]] | None:
    """Lanczos-shrink so the longer side is `longer_side`; None when already small enough.

    Re-encodes as PNG when the original was PNG (lossless), else JPEG quality 95.
    """
    w, h = img.size
    if max(w, h) <= longer_side:
        return None
    scale = longer_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = img.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if ext == "png":
        small.save(buf, format="PNG")
        out_ext = "png"
    else:
        small.save(buf, format="JPEG", quality=95)
        out_ext = "jpg"
    return buf.getvalue(), out_ext, size

"""Open, validate and normalise photos: every file is checked once, when the manifest is built.

A file either loads as an RGB image (colour modes converted, EXIF orientation applied) or is
skipped with one of the reasons below; nothing here writes to the user's file. A path is checked by
`stat` before it is opened: anything but a regular file (directory, FIFO, device, dangling link) is
never opened, and a file over `max_bytes` is never read.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# Skip reasons, as they appear in the manifest's `status`.
EMPTY = "empty"
NOT_IMAGE = "not_image"
TRUNCATED = "truncated"
TOO_SMALL = "too_small"
TOO_LARGE = "too_large"
UNREADABLE = "unreadable"
NOT_FILE = "not_file"  # a directory, FIFO, socket, device or dangling symlink where a file was expected

ORIENTATION_TAG = 0x0112  # EXIF Orientation
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb threshold (≈ 0.25 GiB RGBA)
DEFAULT_MAX_BYTES = 25_000_000  # same as collect.content.max_bytes


@dataclass
class LoadedImage:
    """A validated photo: RGB pixels plus where they came from."""

    image: Image.Image
    sha256: str
    orig_size: tuple[int, int]  # (w, h) after EXIF orientation
    orientation: int = 1  # the EXIF orientation applied (1: none; 5-8 swap w and h)


@dataclass
class ImageProblem:
    """Why a file was skipped."""

    reason: str
    detail: str
    sha256: str | None = None


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB: alpha composited on white, 16-bit scaled, CMYK converted."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grayscale: Pillow's convert("L") clips at 255, so rescale the range ourselves.
        a = np.asarray(img, dtype=np.int64)
        hi = 65535 if a.max(initial=0) > 255 else 255
        a8 = np.clip(np.round(a * (255.0 / hi)), 0, 255).astype(np.uint8)
        return Image.fromarray(a8, "L").convert("RGB")
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min(initial=0)), float(a.max(initial=1))
        a8 = np.clip((a - lo) / max(hi - lo, 1e-12) * 255, 0, 255).astype(np.uint8)
        return Image.fromarray(a8, "L").convert("RGB")
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def load_image_bytes(
    data: bytes,
    min_size: int = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_side: int | None = None,
) -> LoadedImage | ImageProblem:
    """Decode `data` fully, apply EXIF orientation, convert to RGB, or say why it cannot be used.

    `draft_side`: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (DCT scaling: several times faster) as
    long as its longer side stays ≥ `draft_side` — for consumers that shrink it anyway (the detector).
    `orig_size` is always the full size; `image.size` may then be smaller.
    """
    sha = hashlib.sha256(data).hexdigest()
    if len(data) == 0:
        return ImageProblem(EMPTY, "zero-byte file", sha)
    try:
        with warnings.catch_warnings():
            # Pillow warns between 1× and 2× its limit and raises above; we enforce our own limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                return ImageProblem(TOO_LARGE, f"{w}x{h} = {w * h} pixels > limit {max_pixels}", sha)
            if draft_side and img.format == "JPEG" and max(w, h) > 2 * draft_side:
                s = draft_side / max(w, h)
                img.draft(img.mode, (math.ceil(w * s), math.ceil(h * s)))
            img.load()
    except Image.DecompressionBombError as e:
        return ImageProblem(TOO_LARGE, str(e), sha)
    except Image.UnidentifiedImageError:
        return ImageProblem(NOT_IMAGE, "not a format Pillow can identify", sha)
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e)
        # Pillow says "image file is truncated", "Truncated File Read", "broken data stream"
        low = msg.lower()
        reason = (
            TRUNCATED
            if ("truncated" in low or "broken data stream" in low or isinstance(e, EOFError))
            else UNREADABLE
        )
        return ImageProblem(reason, f"{type(e).__name__}: {msg}", sha)
    try:
        orientation = img.getexif().get(ORIENTATION_TAG, 1)  # what exif_transpose reads
        orientation = orientation if orientation in range(2, 9) else 1
        if orientation in (5, 6, 7, 8):  # transposed or rotated by 90°: w and h swap
            w, h = h, w
        img = ImageOps.exif_transpose(img)
        rgb = to_rgb(img)
    except Exception as e:  # a corrupt EXIF block or an exotic mode: skip the file, not the run
        return ImageProblem(UNREADABLE, f"{type(e).__name__}: {e}", sha)
    if min(w, h) < min_size:
        return ImageProblem(TOO_SMALL, f"{w}x{h} < min_size {min_size}", sha)
    return LoadedImage(rgb, sha, (w, h), orientation)


def check_file(path: str | Path, max_bytes: int | None = None) -> ImageProblem | None:
    """Why `path` cannot be read as a photo without opening it (`stat` only), or None for a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        if os.path.islink(path):
            return ImageProblem(NOT_FILE, f"dangling symlink to {os.readlink(path)!r}")
        return ImageProblem(UNREADABLE, f"{type(e).__name__}: {e}")
    except OSError as e:  # permission on a parent folder, a symlink loop, a name too long
        return ImageProblem(UNREADABLE, f"{type(e).__name__}: {e}")
    return _stat_problem(st, max_bytes)


def _stat_problem(st: os.stat_result, max_bytes: int | None) -> ImageProblem | None:
    if stat.S_ISDIR(st.st_mode):
        return ImageProblem(NOT_FILE, "a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "device"
        return ImageProblem(NOT_FILE, f"a {kind}, not a regular file (not opened)")
    if max_bytes is not None and st.st_size > max_bytes:
        return ImageProblem(TOO_LARGE, f"{st.st_size} bytes > max_bytes {max_bytes} (not read)")
    return None


def read_file(path: str | Path, max_bytes: int | None = None) -> bytes | ImageProblem:
    """The bytes of a regular file, read-only; never more than `max_bytes` + 1 bytes read, even if it grows."""
    problem = check_file(path, max_bytes)
    if problem is not None:
        return problem
    try:
        # O_NONBLOCK: a path swapped for a FIFO after the check does not block the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        return ImageProblem(UNREADABLE, f"{type(e).__name__}: {e}")
    try:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            problem = _stat_problem(st, max_bytes)  # the file that was opened, not the one checked
            if problem is not None:
                return problem
            if max_bytes is None:
                return f.read()
            data = f.read(st.st_size + 1)  # +1: notice a file that grew since fstat
            if len(data) > st.st_size:
                data += f.read(max_bytes + 1 - len(data))
    except OSError as e:
        return ImageProblem(UNREADABLE, f"{type(e).__name__}: {e}")
    if len(data) > max_bytes:
        return ImageProblem(TOO_LARGE, f"grew past max_bytes {max_bytes} while read (stopped there)")
    return data


def load_image_file(
    path: str | Path,
    min_size: int = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_side: int | None = None,
    max_bytes: int | None = None,
) -> LoadedImage | ImageProblem:
    """Read a file (read-only, see `read_file`) and validate it with `load_image_bytes`.

    `max_bytes`: larger files are refused as `too_large` by their size, before anything is read.
    """
    data = read_file(path, max_bytes)
    if isinstance(data, ImageProblem):
        return data
    return load_image_bytes(data, min_size=min_size, max_pixels=max_pixels, draft_side=draft_side)


def square_resize(img: Image.Image, resolution: int) -> Image.Image:
    """Centre-crop to a square and Lanczos-resize to `resolution` (no-op when already that size)."""
    w, h = img.size
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return img

"""Reliability: the ingest stage over a folder of broken, odd and hostile files (nothing may crash or change).

    python experiments/reliability_ingest.py --out /tmp/ingest_soak

Writes a folder holding good photos in many formats and colour modes, broken and disguised files, a
decompression bomb, a 2 GiB sparse `.jpg`, and things that are not regular files (a directory named
`folder.jpg`, a dangling symlink, a FIFO, a text file). Every entry is hashed (regular files) or
`lstat`ed before and after `build_folder_manifest` runs in a child process; the child's peak RSS is
measured. Prints a Markdown table (kind, expected, status in the manifest) and the figures: entries
without a record, modified entries, exceptions, peak memory.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

GIB = 1 << 30


def _img(mode: str = "RGB", size: tuple[int, int] = (96, 80), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def build_folder(root: Path) -> dict[str, str]:
    """Write the test folder; return relative name → expected status (`ok`, a reason, or `any_reason`)."""
    root.mkdir(parents=True)
    exp: dict[str, str] = {}

    def put(name: str, data: bytes, expected: str) -> None:
        (root / name).write_bytes(data)
        exp[name] = expected

    put("good.jpg", _save(_img(seed=1), "JPEG", quality=90), "ok")
    put("good.png", _save(_img(seed=2), "PNG"), "ok")
    put("good.webp", _save(_img(seed=3), "WEBP"), "ok")
    put("good.bmp", _save(_img(seed=4), "BMP"), "ok")
    put("good.tiff", _save(_img(seed=5), "TIFF"), "ok")
    frames = [_img(seed=s) for s in (6, 7)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    put("animated.gif", buf.getvalue(), "ok")
    put("cmyk.jpg", _save(_img("CMYK", seed=8), "JPEG"), "ok")
    put(
        "gray16.png",
        _save(Image.fromarray((np.arange(96 * 80).reshape(80, 96) * 8).astype(np.uint16)), "PNG"),
        "ok",
    )
    put("palette_alpha.png", _save(_img("P", seed=9), "PNG", transparency=0), "ok")
    put("gray_alpha.png", _save(_img("LA", seed=10), "PNG"), "ok")
    put("one_bit.png", _save(_img("1", seed=11), "PNG"), "ok")
    put("rgba.png", _save(_img("RGBA", seed=12), "PNG"), "ok")
    exif = Image.Exif()
    exif[0x0112] = 6
    put("exif_rot6.jpg", _save(_img(seed=13, size=(120, 80)), "JPEG", exif=exif), "ok")
    good = _save(_img(seed=14), "JPEG")
    put("corrupt_exif.jpg", good[:2] + b"\xff\xe1\x00\x10Exif\x00\x00garbage!" + good[2:], "any")
    put("wrong_suffix.png", _save(_img(seed=15), "JPEG"), "ok")  # a JPEG named .png
    put("UPPER.JPG", _save(_img(seed=16), "JPEG"), "ok")
    put("good_copy.jpg", (root / "good.jpg").read_bytes(), "duplicate")  # sorted after good.jpg
    put("truncated.jpg", good[: len(good) // 2], "truncated")
    png = (root / "good.png").read_bytes()
    put("truncated.png", png[: len(png) // 2], "truncated")
    put("zero_bytes.jpg", b"", "empty")
    put("one_byte.jpg", b"\xff", "not_image")
    put("random_bytes.jpg", np.random.default_rng(0).bytes(5000), "not_image")
    put("text_named.jpg", b"just some text, not an image\n" * 20, "not_image")
    put("html_named.png", b"<html><body><img src=x></body></html>", "not_image")
    put("zip_named.jpg", b"PK\x03\x04" + b"\0" * 200, "not_image")
    put("too_small.png", _save(_img(size=(8, 8)), "PNG"), "too_small")
    put("bomb.png", _save(Image.new("L", (12_000, 12_000)), "PNG"), "too_large")
    put("svg_named.png", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "not_image")
    put("weird name ñ 漢字.jpg", _save(_img(seed=17), "JPEG"), "ok")
    (root / "sub" / "deeper").mkdir(parents=True)
    put("sub/deeper/nested.jpg", _save(_img(seed=18), "JPEG"), "ok")
    put(".hidden.jpg", _save(_img(seed=19), "JPEG"), "ok")
    put("readme.txt", b"notes about my photos\n", "not_image")
    put("notes.md", b"# notes\n", "not_image")
    # 2 GiB sparse file: no disk used, but a whole read would cost 2 GiB of memory.
    with open(root / "sparse_2gib.jpg", "wb") as f:
        f.write(good)
        f.truncate(2 * GIB)
    exp["sparse_2gib.jpg"] = "too_large"
    # not regular files
    (root / "folder.jpg").mkdir()
    exp["folder.jpg"] = "not_a_file"
    os.symlink(root / "missing.jpg", root / "dangling.jpg")
    exp["dangling.jpg"] = "not_a_file"
    os.symlink(root / "good.png", root / "link_to_good.png")
    exp["link_to_good.png"] = "duplicate"
    os.mkfifo(root / "pipe.jpg")
    exp["pipe.jpg"] = "not_a_file"
    return exp


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_file() and not p.is_symlink() and st.st_size < GIB:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                digest = None
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


CHILD = """
import json, resource, sys, traceback
from sdstylegan.data.ingest import build_folder_manifest
try:
    records, counts = build_folder_manifest(sys.argv[1], sys.argv[2], min_size=32, num_workers=2)
    err = None
except Exception:
    err = traceback.format_exc()
print(json.dumps({"error": err, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="/tmp/reliability_ingest")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args()
    from sdstylegan.data.manifest import read_manifest

    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out} exists; pass a new --out")
    folder = out / "photos"
    expected = build_folder(folder)
    before = snapshot(folder)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(out / "manifest.jsonl")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - t0
    child = (
        json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr}
    )
    after = snapshot(folder)
    records = read_manifest(out / "manifest.jsonl") if (out / "manifest.jsonl").exists() else []
    by_name = {}
    for r in records:
        try:
            by_name[str(Path(r.source).relative_to(folder.resolve()))] = r
        except ValueError:
            by_name[r.source] = r
    rows, missing, wrong = [], [], []
    for name, exp in sorted(expected.items()):
        r = by_name.get(name)
        got = r.status if r is not None else "(no record)"
        if r is None:
            missing.append(name)
        elif exp != "any" and got != exp and not (exp == "not_a_file" and got != "ok"):
            wrong.append(name)
        detail = (r.extra.get("reason_detail", "") if r is not None else "")[:70]
        rows.append(f"| `{name}` | {exp} | {got} | {detail} |")
    figures = {
        "entries": len(expected),
        "records": len(records),
        "no_record": missing,
        "unexpected_status": wrong,
        "modified_entries": sorted(k for k in before if before[k] != after.get(k))
        + sorted(set(after) - set(before)),
        "exception": child.get("error"),
        "peak_rss_mb": round(child.get("maxrss_kb", 0) / 1024, 1),
        "seconds": round(seconds, 2),
    }
    print("| entry | expected | status | detail |\n|---|---|---|---|")
    print("\n".join(rows))
    print(json.dumps(figures, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

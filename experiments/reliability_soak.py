"""Reliability soak: the collect stage against a faulty loopback server, killed twice with SIGKILL and resumed.

    python experiments/reliability_soak.py --n 3000 --fault-rate 0.2 --out /tmp/soak

A server process (`tests/loopback.py`, 127.0.0.1 only) answers N URLs; a fraction
`--fault-rate` of them fail in one of the kinds below (spread evenly over kinds), the rest are
distinct JPEGs. `collect_items` runs in a child process that is SIGKILLed when its journal holds
`--kills` fractions of the URLs, then runs again to completion. Checked at the end: every input URL has
exactly one manifest record, URLs finished before a kill were not requested again, every stored file
hashes to its id, no partial file is left, each fault kind ended in the outcome it should. Printed as
a Markdown table (kinds × outcome) plus the kill/resume figures; `--json` writes them too.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the loopback test server

# kind → (expected final status, how the server answers). `ok_*` kinds are not faults.
KINDS = {
    "ok_jpeg": "ok",
    "ok_png": "ok",
    "ok_wrong_content_type": "ok",  # a JPEG served as text/plain: the bytes decide
    "redirect_ok": "ok",
    "http_503_then_ok": "ok",  # one 503, then the image: retried
    "http_429_retry_after": "ok",  # one 429 with Retry-After: 1, then the image
    "duplicate_bytes": "duplicate",  # the same bytes as ok_jpeg item 0
    "duplicate_url": "duplicate_url",  # the same URL listed twice
    "http_404": "http_404",
    "http_403": "http_403",
    "http_410": "http_410",
    "http_500_always": "http_5xx",
    "redirect_loop": "redirect_loop",
    "redirect_ftp": "bad_scheme",
    "bad_scheme": "bad_scheme",  # ftp:// in the list
    "bad_url": "bad_url",  # http:// with no host
    "connection_refused": "connection_error",
    "not_image_html": "not_image",
    "empty_body": "empty",
    "cut_body": "truncated",  # connection closed before Content-Length bytes
    "truncated_jpeg": "truncated",  # a complete body holding half a JPEG
    "too_large": "too_large",  # Content-Length over max_bytes
    "decompression_bomb": "too_large",  # a small PNG of 100 M pixels
    "too_small": "too_small",
    "slow_drip": "timeout",  # bytes keep coming, slower than total_timeout allows
    "slow_headers": "timeout",  # no status line within read_timeout
}
OK_KINDS = ("ok_jpeg",)
FAULT_KINDS = [k for k in KINDS if k not in OK_KINDS]


def kind_of(i: int, n_faults: int, n: int) -> str:
    """Deterministic plan: item i is a fault when i % (n // n_faults) == 1, kinds in turn."""
    step = max(1, n // max(1, n_faults))
    if i % step == 1 and i // step < n_faults:
        return FAULT_KINDS[(i // step) % len(FAULT_KINDS)]
    return "ok_jpeg"


@functools.lru_cache(maxsize=4096)
def photo(i: int, fmt: str = "JPEG", size: tuple[int, int] = (96, 80)) -> bytes:
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    base = rng.uniform(0, 255, 3)
    arr = (base + 40 * np.sin(xx[..., None] / (5 + i % 7)) + rng.normal(0, 12, (size[1], size[0], 3))).clip(
        0, 255
    )
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (10_000, 10_000)).save(buf, format="PNG")  # ~100 KB, 100 M pixels
    return buf.getvalue()


def route(path: str, query: dict):  # runs in the server process
    from loopback import Route

    if path == "/__hits":
        return None
    parts = path.strip("/").split("/")
    if len(parts) != 2:
        return None
    kind, i = parts[0], int(parts[1].split(".")[0])
    img = photo(i)
    return {
        "ok_jpeg": lambda: Route(img),
        "ok_png": lambda: Route(photo(i, "PNG"), content_type="image/png"),
        "ok_wrong_content_type": lambda: Route(img, content_type="text/plain"),
        "redirect_ok": lambda: Route(redirect_to=f"/ok_jpeg/{i}.jpg"),
        "http_503_then_ok": lambda: Route(img, fail_times=1, fail_status=503),
        "http_429_retry_after": lambda: Route(
            img, fail_times=1, fail_status=429, fail_headers={"Retry-After": "1"}
        ),
        "duplicate_bytes": lambda: Route(photo(0)),
        "duplicate_url": lambda: Route(img),
        "http_404": lambda: Route(b"gone", status=404, content_type="text/plain"),
        "http_403": lambda: Route(b"no", status=403, content_type="text/plain"),
        "http_410": lambda: Route(b"gone", status=410, content_type="text/plain"),
        "http_500_always": lambda: Route(b"oops", status=500, content_type="text/plain"),
        "redirect_loop": lambda: Route(redirect_to=path),
        "redirect_ftp": lambda: Route(redirect_to="ftp://127.0.0.1/x.jpg"),
        "not_image_html": lambda: Route(b"<html><body>an image page</body></html>", content_type="text/html"),
        "empty_body": lambda: Route(b""),
        "cut_body": lambda: Route(img, truncate_to=len(img) // 2),
        "truncated_jpeg": lambda: Route(img[: len(img) // 2]),
        "too_large": lambda: Route(img + b"\0" * 300_000),
        "decompression_bomb": lambda: Route(bomb(), content_type="image/png"),
        "too_small": lambda: Route(photo(i, size=(16, 16))),
        "slow_drip": lambda: Route(img + bytes(8000), drip=1.0),  # ≥ 9 KiB at 1 KiB/s: ≥ 9 s
        "slow_headers": lambda: Route(img, delay=3.0),
    }[kind]()


def serve(conn) -> None:  # server process: answer until the parent closes the pipe
    from loopback import LoopbackServer

    with LoopbackServer(fallback=route) as srv:
        conn.send(srv.base)
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                return
            if msg == "hits":
                conn.send(dict(srv.hits))


CHILD = """
import sys
from sdstylegan.collect.downloader import ContentPolicy
from sdstylegan.collect.items import read_items
from sdstylegan.collect.stage import collect_items
from sdstylegan.collect.transport import TransportConfig
import json
out, transport = sys.argv[1], json.loads(sys.argv[2])
collect_items(read_items(out + "/items.jsonl"), out, TransportConfig(**transport),
              ContentPolicy(max_bytes=200_000, min_size=32))
"""


def journal_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line
            pass
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--fault-rate", type=float, default=0.2)
    p.add_argument("--kills", default="0.3,0.6", help="journal fractions at which to SIGKILL the collector")
    p.add_argument("--out", default="/tmp/reliability_soak")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args()
    from sdstylegan.collect.items import CollectItem, write_items
    from sdstylegan.data.manifest import read_manifest

    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out} exists; pass a new --out")
    out.mkdir(parents=True)
    parent, child = mp.Pipe()
    server = mp.get_context("fork").Process(target=serve, args=(child,), daemon=True)
    server.start()
    base = parent.recv()
    n_faults = round(args.n * args.fault_rate)
    kinds = [kind_of(i, n_faults, args.n) for i in range(args.n)]
    urls = []
    for i, k in enumerate(kinds):
        if k == "bad_scheme":
            urls.append(f"ftp://127.0.0.1/{i}.jpg")
        elif k == "bad_url":
            urls.append(f"http:///no-host-{i}.jpg")
        elif k == "connection_refused":
            urls.append(f"http://127.0.0.1:9/{i}.jpg")  # discard port: nothing listens
        elif k == "duplicate_url":
            urls.append(f"{base}/ok_jpeg/{i - 1 if kinds[i - 1] == 'ok_jpeg' else 0}.jpg")
        else:
            urls.append(f"{base}/{k}/{i}.jpg")
    write_items(out / "items.jsonl", [CollectItem(u, "urls") for u in urls])
    transport = dict(
        workers=32,
        per_host=32,
        connect_timeout=2,
        read_timeout=1.5,
        total_timeout=2.5,
        retries=2,
        backoff=0.05,
        max_retry_after=5,
        progress=False,
    )
    journal = out / "journal.jsonl"
    runs, kills, hits_by_run = [], [], []  # kills: per kill, {path finished ok: its requests so far}
    fractions = [float(x) for x in args.kills.split(",") if x]
    for attempt in range(len(fractions) + 1):
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(out), json.dumps(transport)],
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        killed = False
        if attempt < len(fractions):
            target = fractions[attempt] * args.n
            while proc.poll() is None:
                if len(journal_lines(journal)) >= target:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
                    break
                time.sleep(0.05)
        rc = proc.wait()
        parent.send("hits")
        hits_by_run.append(parent.recv())
        lines = journal_lines(journal)
        runs.append(
            {
                "attempt": attempt + 1,
                "killed": killed,
                "rc": rc,
                "seconds": round(time.monotonic() - t0, 1),
                "journal_lines": len(lines),
            }
        )
        if killed:
            paths = {"/" + r["source"].split("/", 3)[3] for r in lines if r["status"] == "ok"}
            kills.append({q: hits_by_run[-1].get(q, 0) for q in paths})
    parent.close()
    server.join(timeout=5)

    records = read_manifest(out / "manifest.jsonl")
    by_item = Counter(int(r.extra["item"]) for r in records)
    outcome = defaultdict(Counter)
    for r in records:
        outcome[kinds[int(r.extra["item"])]][r.status] += 1
    final_hits = Counter(hits_by_run[-1])
    # An ok URL finished before a kill must not be requested by any later run.
    refetched = sum(final_hits.get(path, 0) > hits for kill in kills for path, hits in kill.items())
    bad_files = 0
    for r in records:
        if r.status == "ok":
            data = (out / r.orig_path).read_bytes()
            bad_files += hashlib.sha256(data).hexdigest() != r.id
    partials = [q for q in (out / "images").rglob(".*") if q.is_file()] if (out / "images").exists() else []
    mismatches = {k: dict(c) for k, c in outcome.items() if set(c) != {KINDS[k]}}
    dup_targets_ok = all(
        next((x.status for x in records if x.source == r.extra.get("duplicate_of")), "ok") == "ok"
        for r in records
        if r.status == "duplicate"
    )
    figures = {
        "n": args.n,
        "faults": sum(k not in OK_KINDS for k in kinds),
        "kinds": len(set(kinds)),
        "runs": runs,
        "records": len(records),
        "items_recorded_once": all(by_item[i] == 1 for i in range(args.n)),
        "ok_urls_finished_before_a_kill": [len(k) for k in kills],
        "ok_urls_finished_before_a_kill_fetched_again": refetched,
        "stored_files_not_matching_id": bad_files,
        "partial_files_left": len(partials),
        "duplicate_of_points_at_an_ok_record": dup_targets_ok,
        "requests_total": sum(final_hits.values()),
        "outcome_mismatches": mismatches,
        "table": {k: dict(outcome[k]) for k in KINDS if k in outcome},
    }
    print("| kind | expected | n | outcome |\n|---|---|---|---|")
    for k in KINDS:
        if k in outcome:
            got = ", ".join(f"{s} {c}" for s, c in outcome[k].most_common())
            print(f"| {k} | {KINDS[k]} | {sum(outcome[k].values())} | {got} |")
    print(json.dumps({k: v for k, v in figures.items() if k != "table"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

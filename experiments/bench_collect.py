"""Benchmark: images/s of the collect downloader vs img2dataset on the same URL list and loopback server.

    python experiments/bench_collect.py --n 2000 --repeats 3 --i2d /work/venv-i2d/bin/img2dataset

A server process (Python's ThreadingHTTPServer, `tests/loopback.py`) serves N distinct
JPEGs from memory on 127.0.0.1; each tool downloads the list in its own process, alternating, and
both decode every image (ours to validate it, img2dataset with `--resize_mode no --skip_reencode True`)
and keep the original bytes. Reports wall time (process start to exit, imports included), the
download phase as each tool measures it, and CPU seconds of each tool's processes (user + sys; the
machine is shared, so CPU per image is the steadier number). img2dataset lives in its own venv and is never a dependency.
Also checks interop: img2dataset's output (files and webdataset layouts) read back by our source.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the loopback test server


def make_images(n: int, out: Path, size=(320, 240), seed: int = 0) -> None:
    """N distinct photo-like JPEGs (smooth gradient + noise), ~15–25 KB each."""
    out.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    for i in range(n):
        p = out / f"{i:06d}.jpg"
        if p.exists():
            continue
        rng = np.random.default_rng([seed, i])  # per image: the same file whatever was made before
        a, b, c = rng.uniform(0, 255, 3)
        base = np.stack([a + 0.3 * xx, b + 0.4 * yy, c + 0.2 * (xx + yy)], -1) % 256
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(p, format="JPEG", quality=88)


def serve(folder: Path) -> None:
    """Server process: every file of `folder` at /<name>; prints the base URL, runs until killed."""
    from loopback import LoopbackServer, Route

    routes = {f"/{p.name}": Route(p.read_bytes()) for p in sorted(folder.glob("*.jpg"))}
    srv = LoopbackServer(routes).start()
    print(srv.base, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    srv.stop()


def run_ours(urls: Path, out: Path, workers: int) -> None:
    """Our downloader in this process; prints a JSON line with its own measurement."""
    from sdstylegan.collect.downloader import ContentPolicy
    from sdstylegan.collect.sources.url_list import UrlListSource
    from sdstylegan.collect.stage import collect_items
    from sdstylegan.collect.transport import TransportConfig

    items = list(UrlListSource(str(urls)).items())
    res = collect_items(
        items,
        out,
        TransportConfig(workers=workers, per_host=workers, retries=0, progress=False),
        ContentPolicy(min_size=1),
    )
    print(
        json.dumps({"ok": res.counts.get("ok", 0), "items": len(items), "seconds": res.seconds}), flush=True
    )


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user+sys of the tool and every process it started), stdout."""
    c0, t0 = _children_cpu(), time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-2000:]}")
    return wall, cpu, p.stdout


def i2d_cmd(i2d: str, urls: Path, out: Path, threads: int, processes: int, fmt: str) -> list[str]:
    return [
        i2d,
        "--url_list",
        str(urls),
        "--input_format",
        "txt",
        "--output_folder",
        str(out),
        "--output_format",
        fmt,
        "--processes_count",
        str(processes),
        "--thread_count",
        str(threads),
        "--resize_mode",
        "no",
        "--skip_reencode",
        "True",
        "--timeout",
        "10",
        "--retries",
        "0",
        "--enable_wandb",
        "False",
        "--number_sample_per_shard",
        "100000",
        "--compute_hash",
        "sha256",
        "--disallowed_header_directives",
        "[]",
    ]  # output folder removed first; "overwrite" mode deletes its own _tmp (img2dataset 1.47)


def i2d_stats(out: Path) -> dict:
    stats = [json.loads(p.read_text()) for p in out.glob("*_stats.json")]
    ok = sum(s.get("successes", 0) for s in stats)
    start = min(s["start_time"] for s in stats)
    end = max(s["end_time"] for s in stats)
    return {"ok": ok, "seconds": end - start}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--i2d", default="/work/venv-i2d/bin/img2dataset")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "bench_collect"))
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--ours", nargs=2, metavar=("URLS", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        return serve(Path(a.serve))
    if a.ours:
        return run_ours(Path(a.ours[0]), Path(a.ours[1]), a.workers)

    work = Path(a.work)
    imgs = work / "images"
    make_images(a.n, imgs)
    sizes = [p.stat().st_size for p in sorted(imgs.glob("*.jpg"))[: a.n]]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(imgs)], stdout=subprocess.PIPE, text=True
    )
    base = server.stdout.readline().strip()
    urls = work / "urls.txt"
    urls.write_text("\n".join(f"{base}/{i:06d}.jpg" for i in range(a.n)) + "\n")
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1")
    have_i2d = shutil.which(a.i2d) is not None or Path(a.i2d).exists()
    rows: dict[str, list[tuple[float, float, int, float]]] = {}  # (wall s, download s, ok, CPU s) per run
    try:
        for _ in range(a.repeats):
            out = work / "ours"
            shutil.rmtree(out, ignore_errors=True)
            wall, cpu, stdout = timed(
                [sys.executable, __file__, "--workers", str(a.workers), "--ours", str(urls), str(out)]
            )
            m = json.loads(stdout.strip().splitlines()[-1])
            rows.setdefault(f"sdstylegan collect, {a.workers} threads", []).append(
                (wall, m["seconds"], m["ok"], cpu)
            )
            if not have_i2d:
                continue
            for threads, procs in ((a.workers, 1), (a.workers // 2, 2)):
                out = work / "i2d"
                shutil.rmtree(out, ignore_errors=True)
                wall, cpu, _ = timed(i2d_cmd(a.i2d, urls, out, threads, procs, "files"), env)
                m = i2d_stats(out)
                rows.setdefault(f"img2dataset, {procs} proc × {threads} threads", []).append(
                    (wall, m["seconds"], m["ok"], cpu)
                )
        interop = {}
        if have_i2d:  # img2dataset's own output read back by our source (both layouts)
            from sdstylegan.collect.downloader import ContentPolicy
            from sdstylegan.collect.sources.img2dataset import Img2DatasetSource
            from sdstylegan.collect.stage import collect_items
            from sdstylegan.collect.transport import TransportConfig

            for fmt in ("files", "webdataset"):
                out = work / f"i2d_{fmt}"
                shutil.rmtree(out, ignore_errors=True)
                timed(i2d_cmd(a.i2d, urls, out, a.workers, 1, fmt), env)
                back = work / f"back_{fmt}"
                shutil.rmtree(back, ignore_errors=True)
                items = list(Img2DatasetSource(str(out)).items())
                res = collect_items(items, back, TransportConfig(progress=False), ContentPolicy(min_size=1))
                src_ok = sum(1 for i in items if i.url.startswith(base))
                interop[fmt] = {"samples": len(items), "with_url": src_ok, "ok": res.counts.get("ok", 0)}
    finally:
        server.terminate()
        server.wait()

    print(
        f"# {a.n} URLs, JPEG {np.mean(sizes) / 1024:.1f} KiB mean, loopback, {os.cpu_count()} CPUs, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    print(
        "| tool | images ok | wall s | wall img/s | download-phase s | download img/s | CPU s | CPU ms/img |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in rows.items():  # medians over the repeats
        wall, dl, cpu = (statistics.median(x[k] for x in rs) for k in (0, 1, 3))
        ok = rs[0][2]
        print(
            f"| {name} | {ok}/{a.n} | {wall:.2f} | {ok / wall:.0f} | {dl:.2f} | {ok / dl:.0f} | {cpu:.1f} | "
            f"{1000 * cpu / ok:.2f} |"
        )
    for fmt, v in interop.items():
        print(
            f"interop: img2dataset {fmt} output → {v['samples']} samples, {v['with_url']} with their URL, "
            f"{v['ok']} ok in our manifest"
        )
    print("raw:", json.dumps(rows))


if __name__ == "__main__":
    main()

"""Before a done stage is skipped (or a finished training run is extended in place): are its outputs intact?

Registry key `verify`, default `verify_outputs`: the files its `done.json` lists are checked cheaply —
torch files by their zip directory (no tensor is read), JSON-lines manifests line by line against the
line count recorded when the stage finished, JSON by parsing, PNG by its first and last bytes. Damage
stops the run (`validate.report`) with one line per file saying how to redo the stage; nothing is
repaired, moved or deleted on its own (`pipeline.force=[stage]` moves the folder to `<stage>.prev`).
A damaged `best.ckpt` beside an intact `last.ckpt` only warns: no stage reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

TORCH_SUFFIXES = (".ckpt", ".pt", ".pth")


@dataclass(frozen=True)
class Damage:
    """One output file of a done stage that is missing or not intact."""

    stage: str
    key: str  # its key in the stage's outputs
    path: str  # as recorded (relative to the run directory)
    why: str
    fatal: bool = True  # False: warned about, the stage stays done
    hint: str = ""  # what to do instead of the default (pipeline.force)

    def line(self) -> str:
        todo = self.hint or f"redo the stage with pipeline.force=[{self.stage}]"
        return f"{self.stage}: {self.path} {self.why}; {todo}"


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def describe_outputs(run_dir: Path, outputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What `done.json` records of a stage's output files: key → path, bytes (+ lines of a .jsonl)."""
    files: dict[str, dict[str, Any]] = {}
    for key, value in outputs.items():
        if not isinstance(value, str) or not value:
            continue
        p = Path(value) if Path(value).is_absolute() else run_dir / value
        if not p.is_file():
            continue
        entry: dict[str, Any] = {"path": value, "bytes": p.stat().st_size}
        if p.suffix == ".jsonl":
            entry["lines"] = _count_lines(p)
        files[key] = entry
    return files


def _jsonl_damage(path: Path, lines: int | None) -> str | None:
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):  # noqa: B007 — n is the count after the loop
            last = raw
            try:
                json.loads(raw)
            except ValueError:
                return f"is damaged: line {n} is not JSON" + (" (cut off)" if not raw.endswith(b"\n") else "")
    if n and not last.endswith(b"\n"):
        return f"is damaged: line {n} is cut off (no newline)"
    if lines is not None and n != lines:
        return f"is damaged: {n} lines, {lines} when the stage finished"
    return None


def _png_damage(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(max(path.stat().st_size - 12, 0))
        tail = f.read()
    if head != b"\x89PNG\r\n\x1a\n" or b"IEND" not in tail:
        return "is damaged: not a complete PNG"
    return None


def file_damage(path: Path, recorded: Mapping[str, Any] | None = None) -> str | None:
    """Why the output file `path` is missing or not intact (cheap checks by suffix), or None."""
    from sdstylegan.training.checkpoint import checkpoint_damage

    recorded = recorded or {}
    if not path.exists():
        return "is missing"
    if not path.is_file():
        return "is not a file"
    size, was = path.stat().st_size, recorded.get("bytes")
    sizes = f"{size:,} bytes" + (
        f" ({was:,} when the stage finished)" if was is not None and was != size else ""
    )
    try:
        if path.suffix in TORCH_SUFFIXES:
            why = checkpoint_damage(path)
            return f"{why}, {sizes}" if why else None
        if size == 0 and was != 0:
            return "is empty" + (f" ({was:,} bytes when the stage finished)" if was else "")
        if path.suffix == ".jsonl":
            return _jsonl_damage(path, recorded.get("lines"))
        if path.suffix == ".json":
            with open(path, "rb") as f:
                json.load(f)
        elif path.suffix == ".png":
            return _png_damage(path)
    except (OSError, ValueError) as e:
        return f"cannot be read ({type(e).__name__}: {e}), {sizes}"
    return None


def _recorded(done: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The files to check: as `done.json` recorded them, or (older runs) outputs that look like files."""
    if "files" in done:
        return dict(done["files"])
    suffixes = (*TORCH_SUFFIXES, ".jsonl", ".json", ".png")
    return {
        k: {"path": v}
        for k, v in (done.get("outputs") or {}).items()
        if isinstance(v, str) and v.endswith(suffixes)
    }


def verify_outputs(run_dir: Path, stage: str, done: Mapping[str, Any]) -> list[Damage]:
    """The output files of a done stage that are missing or damaged."""
    damage = []
    for key, rec in _recorded(done).items():
        rel = str(rec["path"])
        path = Path(rel) if Path(rel).is_absolute() else Path(run_dir) / rel
        why = file_damage(path, rec)
        if why:
            damage.append(Damage(stage, key, rel, why))
    return damage


def verify_training(run_dir: Path, stage: str, done: Mapping[str, Any]) -> list[Damage]:
    """`verify_outputs`, knowing that later stages and resumes read `last.ckpt` and nothing reads `best.ckpt`."""
    from sdstylegan.training.checkpoint import checkpoint_meta

    damage = verify_outputs(run_dir, stage, done)
    bad = {d.key for d in damage}
    best = (done.get("outputs") or {}).get("best_checkpoint")
    out = []
    for d in damage:
        if d.key == "best_checkpoint":
            d = replace(
                d,
                fatal=False,
                hint=f"no stage reads it, so {stage} stays done (pipeline.force=[{stage}] trains again)",
            )
        elif d.key == "checkpoint" and best and "best_checkpoint" not in bad:
            try:
                kimg = f" (kimg {float(checkpoint_meta(Path(run_dir) / best)['kimg']):g})"
            except Exception:  # noqa: BLE001 — the kimg is only a courtesy
                kimg = ""
            d = replace(
                d,
                hint=f"{best}{kimg} is intact: copy it over {Path(d.path).name} to go on from it "
                f"(a larger training.total_kimg trains on), or train again with "
                f"pipeline.force=[{stage}]",
            )
        out.append(d)
    return out

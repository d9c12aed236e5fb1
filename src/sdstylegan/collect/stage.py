"""The `collect` stage: list the sources, download, and write a manifest with one record per input item.

Stage folder: `items.jsonl` (the listing, saved before any download), `journal.jsonl` (one line per
finished item, appended as it happens), `images/` (content-hash names), and at the end
`manifest.jsonl` (one record per input item, in input order; `orig_path` relative to it) and
`summary.json` (counts per outcome). A killed run resumes from the journal: finished items are not
fetched again, partial files are deleted, and the final counts add up to the number of input items.

Output: `{"manifest": <path relative to the run dir>, "num_images", "num_items", "status_counts"}`;
the crop stage uses the records with status `ok`.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from sdstylegan.collect.downloader import ContentPolicy, Task, download
from sdstylegan.collect.items import CollectItem, read_items, write_items
from sdstylegan.collect.outcomes import DUPLICATE, DUPLICATE_URL, OK, Outcome
from sdstylegan.collect.progress import Progress, summary_table
from sdstylegan.collect.sources import ApiClient, Source, SourceError
from sdstylegan.collect.store import ContentStore
from sdstylegan.collect.transport import ThreadSessions, TransportConfig
from sdstylegan.data.manifest import (
    ManifestAppender,
    ManifestRecord,
    iter_manifest,
    status_counts,
    write_manifest,
)
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import read_json, write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

ITEMS, JOURNAL, MANIFEST, SUMMARY, LISTING = (
    "items.jsonl",
    "journal.jsonl",
    "manifest.jsonl",
    "summary.json",
    "listing.json",
)


@dataclass
class CollectResult:
    records: list[ManifestRecord]
    counts: Counter
    fetched: int  # items handled in this run (resumed ones excluded)
    new_ok: int  # images kept in this run
    seconds: float  # download phase of this run


def list_items(
    sources: list[Any],
    transport: TransportConfig,
    out_dir: Path,
    api_interval: float = 1.0,
    on_source_error: str = "fail",
) -> list[CollectItem]:
    """The listing of every source, saved as `items.jsonl`; an existing listing is reused (resume)."""
    path = out_dir / ITEMS
    if path.exists():
        items = read_items(path)
        log.info("collect: reusing the listing of %d items in %s", len(items), path)
        return items
    if on_source_error not in ("fail", "skip"):
        raise ValueError(f"collect.on_source_error={on_source_error!r}: 'fail' or 'skip'")
    api = ApiClient(transport, min_interval=api_interval)
    items: list[CollectItem] = []
    report: dict[str, Any] = {"sources": []}
    try:
        for src in sources:
            if not isinstance(src, Source):
                raise TypeError(
                    f"collect source {src!r} has no name/items(api); see sdstylegan.collect.sources"
                )
            t0, before = time.monotonic(), len(items)
            try:
                items.extend(src.items(api))
                error = None
            except SourceError as e:
                if on_source_error == "fail":
                    raise SourceError(f"{e} (collect.on_source_error=skip keeps the other sources)") from None
                error = str(e)
                log.warning(
                    "collect: source %s failed, keeping its %d items listed so far: %s",
                    src.name,
                    len(items) - before,
                    e,
                )
            report["sources"].append(
                {
                    "name": src.name,
                    "items": len(items) - before,
                    "error": error,
                    "seconds": round(time.monotonic() - t0, 2),
                }
            )
            log.info("collect: %s listed %d items", src.name, len(items) - before)
    finally:
        api.close()
    report["api_calls"] = api.calls
    write_json(out_dir / LISTING, report)
    write_items(path, items)
    return items


def _record(index: int, item: CollectItem, out: Outcome) -> ManifestRecord:
    """The manifest line for one finished item.

    A released box (SDIP JSON) is in the pixels of the file as released, without EXIF orientation;
    `orig_size` and every later stage use the EXIF-oriented image, so the box is moved into that frame
    (`exif_orientation` in `out.info`) and scaled when the image was resized on the way in.
    """
    from sdstylegan.data.boxes import released_box

    rid = out.sha256 or "url:" + hashlib.sha256(item.key().encode()).hexdigest()
    bbox = item.bbox
    if bbox is not None and out.orig_size:
        orientation = int(out.info.get("exif_orientation") or 1)
        bbox = released_box(bbox, orientation, out.source_size or out.orig_size, out.orig_size)
    extra: dict[str, Any] = {"item": index, "origin": item.origin}
    if out.status != OK:
        extra["reason_detail"] = out.detail
    if out.source_size:
        extra["source_size"] = out.source_size
    extra.update(
        {k: v for k, v in out.info.items() if v is not None and not (k == "final_url" and v == item.url)}
    )
    if item.meta:
        extra["meta"] = item.meta
    return ManifestRecord(
        id=rid,
        source=item.url,
        orig_path=out.orig_path,
        orig_size=out.orig_size,
        bbox=bbox,
        status=out.status,
        extra=extra,
    )


def _point_duplicates_at_kept_copies(records: list[ManifestRecord], items: list[CollectItem]) -> None:
    """`duplicate_of` of every same-bytes duplicate names the item whose copy is stored (status ok).

    An earlier item finishing late displaces the owner (first in input order keeps `ok`); duplicates
    recorded against the displaced owner — in this run or a resumed one — are re-pointed here.
    """
    kept = {r.id: i for i, r in enumerate(records) if r.status == OK}
    for r in records:
        if r.status == DUPLICATE and r.id in kept:
            owner = kept[r.id]
            r.extra["duplicate_of"] = items[owner].url
            r.extra["reason_detail"] = f"same bytes as item {owner}"


def _still_done(r: ManifestRecord | None, index: int, owners: dict[str, int], redo: set[str]) -> bool:
    """Whether a journal record from an earlier attempt stands, so its item is not fetched again."""
    if r is None or r.status in redo:
        return False
    if r.status == OK:
        return owners.get(r.id) == index  # its file is still there, whole
    if r.status == DUPLICATE:
        return r.id in owners  # the copy it points to is still there
    return True


def collect_items(
    items: list[CollectItem], out_dir: str | Path, transport: TransportConfig, policy: ContentPolicy
) -> CollectResult:
    """Download `items` into `out_dir`, resuming from its journal; write manifest.jsonl and summary.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ContentStore(out_dir)
    removed = store.remove_partials()
    if removed:
        log.info("collect: removed %d partial files left by an interrupted run", removed)
    journal_path = out_dir / JOURNAL
    finished: dict[int, ManifestRecord] = {}
    if journal_path.exists():
        for r in iter_manifest(journal_path):  # a torn last line (killed mid-write) is ignored
            finished[int(r.extra["item"])] = r
    owners: dict[str, int] = {}  # sha256 → index of the item whose record is `ok`
    redo = set(transport.retry_on_resume)
    for i, r in sorted(finished.items()):
        size = r.extra.get("stored_bytes", r.extra.get("bytes"))
        if r.status == OK and r.orig_path and store.exists(r.orig_path, size):  # a torn file is fetched again
            owners.setdefault(r.id, i)
    first_by_key: dict[str, int] = {}
    tasks, immediate = [], []
    for i, item in enumerate(items):
        k = item.key()
        if k in first_by_key:
            if i not in finished:
                immediate.append((Task(i, item), Outcome(DUPLICATE_URL, f"same as item {first_by_key[k]}")))
            continue
        first_by_key[k] = i
        if _still_done(finished.get(i), i, owners, redo):
            continue
        finished.pop(i, None)
        tasks.append(Task(i, item))
    if finished:
        log.info("collect: resuming, %d of %d items already finished", len(finished), len(items))

    def on_result(task: Task, out: Outcome) -> None:
        # Same bytes under several items: the first in input order keeps `ok` whatever the finishing
        # order, so the manifest does not depend on timing (a displaced owner gets a newer journal line).
        if out.status == OK and out.sha256 is not None:
            owner = owners.setdefault(out.sha256, task.index)
            if owner > task.index:
                owners[out.sha256] = task.index
                old = finished[owner]
                old.status = DUPLICATE
                old.extra.update(duplicate_of=task.item.url, reason_detail=f"same bytes as item {task.index}")
                journal.append(old)
                progress.counts[OK] -= 1
                progress.counts[DUPLICATE] += 1
            elif owner < task.index:
                out.status, out.detail = DUPLICATE, f"same bytes as item {owner}"
                out.info["duplicate_of"] = items[owner].url
        rec = _record(task.index, task.item, out)
        journal.append(rec)
        finished[task.index] = rec
        progress.update(rec.status)

    t0 = time.monotonic()
    sessions = ThreadSessions(transport)
    done_counts = status_counts(finished.values())
    with (
        ManifestAppender(journal_path) as journal,
        Progress(len(items), done_counts, enabled=bool(transport.progress)) as progress,
    ):
        for task, out in immediate:
            on_result(task, out)
        try:
            download(tasks, sessions, policy, store, on_result)
        finally:
            sessions.close()
    seconds = time.monotonic() - t0
    missing = [i for i in range(len(items)) if i not in finished]
    if missing:  # cannot happen unless the downloader loses a task: say so rather than write a short manifest
        raise RuntimeError(f"collect: {len(missing)} items have no outcome (first: {missing[:5]})")
    records = [finished[i] for i in range(len(items))]
    _point_duplicates_at_kept_copies(records, items)
    write_manifest(out_dir / MANIFEST, records)
    counts = status_counts(records)
    new_ok = progress.new_ok
    write_json(
        out_dir / SUMMARY,
        {
            "items": len(items),
            "status_counts": dict(counts),
            "fetched_this_run": len(tasks),
            "images_this_run": new_ok,
            "seconds_this_run": round(seconds, 3),
        },
    )
    return CollectResult(records, counts, len(tasks), new_ok, seconds)


def run_collect(ctx: StageContext) -> dict[str, Any]:
    """Pipeline stage: list `collect.sources`, download, write the manifest (see module docstring)."""
    c: DictConfig = ctx.cfg.collect
    if not c.get("sources"):
        raise ValueError(
            "stage collect has no sources: choose collect=urls|sdip|reddit|wikimedia|flickr|img2dataset|"
            "yerba_mate (conf/collect/), or list _target_ nodes under collect.sources"
        )
    transport = TransportConfig.from_config(c.get("transport"))
    policy = ContentPolicy.from_config(c.get("content"))
    if ctx.resume and (ctx.stage_dir / ITEMS).exists():
        sources: list[Any] = []
    else:
        sources = [instantiate(node) for node in c.sources]
    items = list_items(
        sources,
        transport,
        ctx.stage_dir,
        float(c.get("api_interval", 1.0)),
        str(c.get("on_source_error", "fail")),
    )
    if not items:
        listing = read_json(ctx.stage_dir / LISTING) if (ctx.stage_dir / LISTING).exists() else {}
        raise RuntimeError(f"collect: the sources listed no items ({listing.get('sources')})")
    res = collect_items(items, ctx.stage_dir, transport, policy)
    log.info("collect: outcome of every item\n%s", summary_table(res.counts, res.seconds, res.new_ok))
    ok = res.counts.get(OK, 0)
    if ok == 0:
        raise RuntimeError(
            f"collect: none of the {len(items)} items gave a usable image: {dict(res.counts)}; "
            f"reasons per item in {ctx.stage_dir / MANIFEST}"
        )
    return {
        "manifest": ctx.relative(ctx.stage_dir / MANIFEST),
        "num_images": ok,
        "num_items": len(items),
        "status_counts": dict(res.counts),
    }

"""Cutting and writing the crops of detected batches, on a thread pool beside `Trainer.predict`.

Per image, decoding the full-size original, the Lanczos resize and the PNG encoding cost ~0.1 s for
a 12-megapixel photo — a hundred times what the ViT needs on a GPU. They run on `threads` threads
(Pillow releases the GIL while it decodes, resamples and compresses), while the model goes on with
the next batches. At most `4·threads` images wait; rows go to `predictions/rank<r>.jsonl` in
submission order, one flushed line each, so a killed run loses only the images still in flight.
"""

from __future__ import annotations

import json
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image
from pytorch_lightning.callbacks import BasePredictionWriter
from tqdm.auto import tqdm

from sdstylegan.data.boxes import xyxy_to_sdip
from sdstylegan.data.images import UNREADABLE, LoadedImage, load_image_file
from sdstylegan.data.manifest import OK, ManifestRecord
from sdstylegan.detect.crop import (
    NO_OBJECT,
    RELEASED_BOX_OUTSIDE,
    CropPolicy,
    clip_box,
    crop_box,
    cut_square,
    reject_reason,
)
from sdstylegan.detect.detector import Detection
from sdstylegan.detect.visualize import Overlay, thumbnail
from sdstylegan.utils.io import atomic_open, drop_torn_line


def crop_rel_path(record_id: str) -> str:
    """Crops are sharded by the first two hex digits of the image id (internet-scale folders stay small)."""
    return f"crops/{record_id[:2]}/{record_id}.png"


def crop_one(
    det: Detection, path: Path, policy: CropPolicy, resolution: int, crop_file: Path
) -> dict[str, Any]:
    """Decide and (when accepted) write one crop; returns the row stored in predictions/rank<r>.jsonl."""
    if (
        det.given
    ):  # a released box (SDIP JSON): img[y0:y1, x0:x1], Lanczos-resized to a square, as SDIP's download.py
        region = clip_box(det.box, det.orig_size)
        if region[2] <= region[0] or region[3] <= region[1]:
            return {
                "index": det.index,
                "status": RELEASED_BOX_OUTSIDE,
                "box_source": "released",
                "detail": f"released box {list(det.box)} lies outside the {det.orig_size} image",
            }
        loaded = load_image_file(path)
        if not isinstance(loaded, LoadedImage):
            return {
                "index": det.index,
                "status": loaded.reason,
                "detail": loaded.detail,
                "box_source": "released",
            }
        _write_png(cut_square(loaded.image, region, resolution), crop_file)
        return {
            "index": det.index,
            "status": OK,
            "bbox": xyxy_to_sdip(region),
            "box_source": "released",
            "crop_region": list(region),
        }
    row: dict[str, Any] = {
        "index": det.index,
        "detect_box": xyxy_to_sdip(det.box),
        "degenerate": det.degenerate,
        "cut": {"ncut": det.ncut_value, "eigengap": det.eigengap},
        "box_source": "tokencut",
    }
    if det.degenerate and policy.source != "center":
        reason = NO_OBJECT
    else:
        reason = reject_reason(det.box, det.orig_size, policy, det.ncut_value)
    if reason:
        return row | {"status": reason}
    region = crop_box(det.box, det.orig_size, policy)
    loaded = load_image_file(path)
    if not isinstance(loaded, LoadedImage):
        return row | {"status": loaded.reason, "detail": loaded.detail}
    _write_png(cut_square(loaded.image, region, resolution), crop_file)
    return row | {
        "status": OK,
        "bbox": xyxy_to_sdip(clip_box(region, det.orig_size)),
        "crop_region": list(region),
    }


def _write_png(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        img.save(f, format="PNG")


def overlay_of(det: Detection, path: Path, row: dict[str, Any], patch_size: int) -> Overlay:
    """A thumbnail of the original with the detection, in thumbnail pixels."""
    thumb = thumbnail(path)
    s = thumb.size[0] / det.orig_size[0]

    def scaled(b: Any) -> tuple[float, ...]:
        return tuple(v * s for v in b)

    crop = scaled(row["crop_region"]) if row.get("crop_region") else None
    label = row["status"] + (" (released box)" if det.given else "")
    return Overlay(
        thumb, det.mask, patch_size / det.scale * s, None if det.given else scaled(det.box), crop, label=label
    )


def resolve_threads(threads: int | str) -> int:
    """`detector.crop_threads`: a positive int, or `auto` = min(8, CPUs of this process)."""
    if threads == "auto":
        return max(
            1,
            min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1),
        )
    if isinstance(threads, bool) or not str(threads).isdigit() or int(threads) < 1:
        raise ValueError(f"detector.crop_threads must be a positive integer or auto, got {threads!r}")
    return int(threads)


class CropWriter(BasePredictionWriter):
    """Writes crops and one JSON line per image as batches finish, on every rank; rank 0 shows progress."""

    def __init__(
        self,
        stage_dir: Path,
        todo: list[int],
        records: list[ManifestRecord],
        root: Path,
        policy: CropPolicy,
        resolution: int,
        num_pictures: int,
        patch_size: int,
        threads: int | str = "auto",
    ):
        super().__init__(write_interval="batch")
        self.patch_size, self.threads = patch_size, resolve_threads(threads)
        self.stage_dir, self.todo, self.records, self.root = stage_dir, todo, records, root
        self.policy, self.resolution, self.num_pictures = policy, resolution, num_pictures
        self.overlays: list[Overlay] = []
        self._file = None
        self._bar = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Detection | None, Future | dict[str, Any]]] = deque()
        self._show = False

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        path = self.stage_dir / "predictions" / f"rank{trainer.global_rank}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        drop_torn_line(path)  # a killed writer's half line is dropped
        self._file = open(path, "a", encoding="utf-8")
        self._show = trainer.is_global_zero
        if self._show:
            total = -(-len(self.todo) // max(trainer.world_size, 1))
            self._bar = tqdm(total=total, unit="img", desc="crop", dynamic_ncols=True)
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="crop")

    def write_on_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        for det in prediction:
            if isinstance(det, dict):  # unreadable file
                reason, _, detail = det["error"].partition(": ")
                row = {"index": self.todo[det["index"]], "status": reason or UNREADABLE, "detail": detail}
                self._pending.append((None, row))
            else:
                det.index = k = self.todo[det.index]
                rec = self.records[k]
                job = self._pool.submit(
                    crop_one,
                    det,
                    rec.image_path(self.root),
                    self.policy,
                    self.resolution,
                    self.stage_dir / crop_rel_path(rec.id),
                )
                self._pending.append((det, job))
        self._drain(keep=4 * self.threads)

    def _drain(self, keep: int) -> None:
        """Write finished rows, oldest first, until at most `keep` images are in flight."""
        n = 0
        while len(self._pending) > keep or (self._pending and _ready(self._pending[0][1])):
            det, job = self._pending.popleft()
            row = job.result() if isinstance(job, Future) else job  # an error in a thread is raised here
            if det is not None and self._show and len(self.overlays) < self.num_pictures:
                self.overlays.append(
                    overlay_of(det, self.records[det.index].image_path(self.root), row, self.patch_size)
                )
            self._file.write(json.dumps(row) + "\n")
            n += 1
        if n:
            self._file.flush()
            if self._bar is not None:
                self._bar.update(n)

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(drain=True)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._close(drain=False)  # rows already written stay; the rest is redone on resume

    def _close(self, drain: bool) -> None:
        try:
            if drain and self._file is not None:
                self._drain(keep=0)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self._pending.clear()


def _ready(job: Future | dict[str, Any]) -> bool:
    return not isinstance(job, Future) or job.done()

"""Rebased manifests, outlier-removal precision/recall and cluster purity/NMI on planted cases."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sdstylegan.data.manifest import ManifestRecord, read_manifest
from sdstylegan.distill.records import cluster_agreement, outlier_removal, write_rebased


def test_write_rebased_keeps_fields_and_points_at_the_same_files(tmp_path):
    old = tmp_path / "a" / "manifest.jsonl"
    (tmp_path / "a" / "images").mkdir(parents=True)
    recs = [
        ManifestRecord(
            id="1",
            source="s",
            orig_path="images/1.png",
            crop_path=None,
            kept=True,
            extra={"detect_box": [1, 2, 3, 4]},
        ),
        ManifestRecord(id="2", source="s", orig_path="/abs/2.png", status="not_image"),
    ]
    new = tmp_path / "b" / "c" / "manifest.jsonl"
    write_rebased(recs, old.parent, new)
    back = read_manifest(new)
    assert (new.parent / back[0].orig_path).resolve() == (old.parent / "images/1.png").resolve()
    assert back[0].extra == {"detect_box": [1, 2, 3, 4]} and back[0].kept is True
    assert back[1].orig_path == "/abs/2.png" and back[1].status == "not_image"
    assert not Path(back[0].orig_path).is_absolute()


def test_outlier_removal_precision_recall():
    truth = {
        str(i): {"outlier": i < 4, "outlier_kind": "graphic" if i < 2 else "degraded"} for i in range(10)
    }
    # removed: 0, 1, 2 (outliers) and 5 (inlier); outlier 3 kept
    kept = {str(i): i not in (0, 1, 2, 5) for i in range(10)}
    kept["not-in-truth"] = False
    r = outlier_removal(kept, truth)
    assert r["matched"] == 10 and r["removed"] == 4 and r["outliers"] == 4
    assert r["precision"] == pytest.approx(3 / 4) and r["recall"] == pytest.approx(3 / 4)
    assert r["recall_by_kind"] == {"degraded": 0.5, "graphic": 1.0}
    assert r["outlier_share_before"] == pytest.approx(0.4) and r["outlier_share_after"] == pytest.approx(
        1 / 6
    )
    assert outlier_removal({"0": True}, truth)["precision"] is None  # nothing removed


def test_cluster_agreement_perfect_mixed_and_outliers_ignored():
    truth = {str(i): {"outlier": False, "mode": i % 2} for i in range(8)}
    truth["o"] = {"outlier": True, "mode": None}
    perfect = {str(i): 10 + i % 2 for i in range(8)} | {"o": 10}
    r = cluster_agreement(perfect, truth)
    assert r["purity"] == 1.0 and r["nmi"] == pytest.approx(1.0) and r["matched_inliers"] == 8
    split = {str(i): i for i in range(8)}  # every image its own cluster: pure, NMI < 1
    r = cluster_agreement(split, truth)
    assert r["purity"] == 1.0 and 0 < r["nmi"] < 1
    merged = {str(i): 0 for i in range(8)}  # one cluster: purity = majority share, NMI 0
    r = cluster_agreement(merged, truth)
    assert r["purity"] == 0.5 and r["nmi"] == pytest.approx(0.0, abs=1e-12)
    # 2×2 case with a known NMI: clusters {0,1,2,3} vs modes split 3/1 … computed by hand
    t2 = {str(i): {"outlier": False, "mode": int(i in (0, 1, 2))} for i in range(4)}
    c2 = {str(i): int(i < 2) for i in range(4)}
    h_c, h_m = math.log(2), -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    mi = 0.5 * math.log(2 / 1.5) + 0.25 * math.log(1 / 1.5) + 0.25 * math.log(1 / 0.5)
    assert cluster_agreement(c2, t2)["nmi"] == pytest.approx(mi / ((h_c + h_m) / 2))
    assert cluster_agreement({}, truth)["purity"] is None

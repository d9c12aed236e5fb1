"""Ground-truth scores (AUROC, AP, removed-set precision/recall, ACC/NMI/ARI) against hand-computed cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sdstylegan.distill.ground_truth import (
    auroc,
    average_precision,
    cluster_accuracy,
    clustering_scores,
    detection_figures,
    expected_random_ap,
    mode_recovery,
    outlier_detection_report,
    random_baseline,
    top_k_mask,
)


def test_auroc_and_ap_on_a_hand_computed_example():
    # scores 0.1 0.4 0.35 0.8, positives at 0.35 and 0.8.
    # AUROC = share of (positive, negative) pairs ranked right: 0.35>0.1 yes, 0.35>0.4 no, 0.8>both yes → 3/4.
    # AP: ranking 0.8(+) 0.4(−) 0.35(+) 0.1(−); precision at the positives' ranks 1/1 and 2/3 → (1 + 2/3)/2 = 5/6.
    scores, positive = [0.1, 0.4, 0.35, 0.8], [False, False, True, True]
    assert auroc(scores, positive) == pytest.approx(0.75)
    assert average_precision(scores, positive) == pytest.approx(5 / 6)
    assert auroc([1.0, 1.0], [True, False]) == pytest.approx(0.5)  # a tie counts one half
    assert auroc([1.0, 2.0], [True, True]) is None and average_precision([1.0], [False]) is None


def test_perfect_score_gives_one_reversed_gives_zero():
    outlier = np.array([0, 1, 0, 0, 1, 0, 1, 0], dtype=bool)
    perfect = outlier.astype(float) + np.linspace(0, 0.1, 8)  # every outlier above every inlier
    assert auroc(perfect, outlier) == 1.0 and average_precision(perfect, outlier) == 1.0
    assert auroc(-perfect, outlier) == 0.0
    assert average_precision(-perfect, outlier) == pytest.approx(expected_worst_ap(8, 3))


def expected_worst_ap(n: int, p: int) -> float:
    """AP when the p positives are ranked last: mean over j = 1..p of j / (n − p + j)."""
    return sum(j / (n - p + j) for j in range(1, p + 1)) / p


@pytest.mark.parametrize("n,p", [(5, 2), (6, 1), (6, 3), (4, 4)])
def test_expected_random_ap_equals_the_mean_over_every_ranking(n, p):
    labels = [True] * p + [False] * (n - p)
    aps = [
        average_precision(-np.arange(n, dtype=float), np.array(perm))
        for perm in set(itertools.permutations(labels))
    ]
    assert expected_random_ap(p, n) == pytest.approx(float(np.mean(aps)))
    assert expected_random_ap(0, n) is None


def test_top_k_mask_takes_the_highest_scores_earlier_first_on_ties():
    assert top_k_mask([0.2, 0.9, 0.5, 0.9], 2).tolist() == [False, True, False, True]
    assert top_k_mask([1.0, 1.0, 1.0], 2).tolist() == [True, True, False]
    assert not top_k_mask([1.0, 2.0], 0).any()


def test_detection_figures_overall_and_per_kind():
    # 6 inliers (scores 0..5) and 3 outliers: two graphics scored 10 and 11, one degraded scored 2.5.
    scores = [0, 1, 2, 3, 4, 5, 10, 11, 2.5]
    outlier = [False] * 6 + [True] * 3
    kinds = [None] * 6 + ["graphic", "graphic", "degraded"]
    removed = top_k_mask(scores, 3)  # 11, 10 and 5: two outliers
    f = detection_figures(scores, outlier, kinds, removed)
    assert f["removed_precision"] == pytest.approx(2 / 3) and f["removed_recall"] == pytest.approx(2 / 3)
    # pairs right: graphics beat all 6 inliers (12), degraded beats 0, 1, 2 (3) → 15 / 18
    assert f["auroc"] == pytest.approx(15 / 18)
    g, d = f["by_kind"]["graphic"], f["by_kind"]["degraded"]
    assert g == {"n": 2, "auroc": 1.0, "average_precision": 1.0, "removed_recall": 1.0}
    # degraded vs inliers: 3 of 6 inliers below it; ranked 4th of 7 → AP = 1/4
    assert d["auroc"] == pytest.approx(0.5) and d["average_precision"] == pytest.approx(0.25)
    assert d["removed_recall"] == 0.0


def test_random_baseline_expected_values_and_a_reproducible_draw():
    outlier = [True] * 3 + [False] * 9
    kinds = ["graphic", "graphic", "no_subject"] + [None] * 9
    r = random_baseline(outlier, kinds, 4, seed=7)
    e = r["expected"]
    assert e["auroc"] == 0.5 and e["removed_precision"] == pytest.approx(0.25)
    assert e["removed_recall"] == pytest.approx(4 / 12)
    assert e["average_precision"] == pytest.approx(expected_random_ap(3, 12))
    assert e["by_kind"]["graphic"]["average_precision"] == pytest.approx(expected_random_ap(2, 11))
    assert r["draw"] == random_baseline(outlier, kinds, 4, seed=7)["draw"]
    assert r["draw"]["removed_precision"] * 4 == pytest.approx(round(r["draw"]["removed_precision"] * 4))
    # over many draws the mean AUROC and precision sit at chance
    draws = [random_baseline(outlier, kinds, 4, seed=s)["draw"] for s in range(300)]
    assert np.mean([d["auroc"] for d in draws]) == pytest.approx(0.5, abs=0.04)
    assert np.mean([d["removed_precision"] for d in draws]) == pytest.approx(0.25, abs=0.04)


def _truth(n: int, outliers: set[int]) -> dict[str, dict]:
    return {
        f"id{i}": {
            "outlier": i in outliers,
            "outlier_kind": "graphic" if i in outliers else None,
            "mode": None if i in outliers else i % 2,
        }
        for i in range(n)
    }


def test_report_follows_the_ids_order_a_shuffle_breaks_it():
    n, outliers = 20, {2, 7, 11, 16}
    truth = _truth(n, outliers)
    ids = [f"id{i}" for i in range(n)] + ["unknown"]  # an image without ground truth is left out
    score = np.array([1.0 if i in outliers else 0.0 for i in range(n)] + [5.0]) + np.linspace(0, 0.01, n + 1)
    removed = top_k_mask(score, 5)
    rep = outlier_detection_report(ids, truth, {"filter_score": score, "reversed": -score}, removed, seed=0)
    assert rep["matched"] == n and rep["outliers"] == 4 and rep["removed"] == 4  # "unknown" was removed too
    assert rep["outlier_base_rate"] == pytest.approx(0.2) and rep["removed_by"] == "filter_score"
    m = rep["methods"]
    assert m["filter_score"]["auroc"] == 1.0 and m["filter_score"]["removed_precision"] == 1.0
    assert m["reversed"]["auroc"] == 0.0 and m["reversed"]["removed_precision"] == 0.0
    assert m["random"]["expected"]["auroc"] == 0.5
    shuffled = np.random.default_rng(1).permutation(score)
    rep = outlier_detection_report(ids, truth, {"filter_score": shuffled}, top_k_mask(shuffled, 5), seed=0)
    assert rep["methods"]["filter_score"]["auroc"] < 0.9
    with pytest.raises(ValueError, match="3 scores for 21 images"):
        outlier_detection_report(ids, truth, {"x": [1, 2, 3]}, removed, seed=0)


def test_cluster_accuracy_permutations_more_and_fewer_clusters():
    true = [0, 0, 1, 1, 2, 2]
    assert cluster_accuracy(true, [2, 2, 0, 0, 1, 1]) == 1.0  # a relabelling is still perfect
    # 3 clusters for 2 classes: class 0 ↔ cluster 0 (2 right), class 1 ↔ cluster 2 (3); cluster 1 unmatched → 5/6
    assert cluster_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 2]) == pytest.approx(5 / 6)
    # 6 singleton clusters for 2 classes: only two images can be matched
    assert cluster_accuracy([0, 0, 0, 1, 1, 1], [0, 1, 2, 3, 4, 5]) == pytest.approx(2 / 6)
    # 2 clusters for 3 classes: the best matching covers 4 of 6
    assert cluster_accuracy(true, [0, 0, 0, 0, 1, 1]) == pytest.approx(4 / 6)
    with pytest.raises(ValueError):
        cluster_accuracy([0, 1], [0])


def test_nmi_ari_identical_and_independent_labelings():
    same = clustering_scores([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 4, 4])
    assert same == {"images": 6, "accuracy": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}
    # independent: every (class, cluster) pair once. MI = 0 → NMI 0.
    # ARI: Σ C(n_ij, 2) = 0, Σ C(a_i, 2) = Σ C(b_j, 2) = 2, C(4, 2) = 6 → expected 2·2/6 = 2/3, max 2:
    # (0 − 2/3) / (2 − 2/3) = −1/2.
    ind = clustering_scores([0, 0, 1, 1], [0, 1, 0, 1])
    assert ind["nmi"] == pytest.approx(0.0, abs=1e-12) and ind["ari"] == pytest.approx(-0.5)
    assert ind["accuracy"] == 0.5
    assert clustering_scores([], [])["accuracy"] is None


def test_mode_recovery_counts_images_with_a_mode_and_reports_inliers_alone():
    truth = {
        "a": {"mode": 0, "outlier": False},
        "b": {"mode": 0, "outlier": False},
        "c": {"mode": 1, "outlier": False},
        "d": {"mode": 1, "outlier": False},
        "e": {"mode": 1, "outlier": True, "outlier_kind": "degraded"},  # keeps its mode
        "f": {"mode": None, "outlier": True, "outlier_kind": "graphic"},  # no mode: left out
    }
    labels = {"a": 3, "b": 3, "c": 7, "d": 7, "e": 3, "f": 7, "zz": 0}  # zz has no ground truth
    r = mode_recovery(labels, truth)
    assert r["images"] == 5 and r["modes"] == 2 and r["clusters_used"] == 2
    assert r["accuracy"] == pytest.approx(4 / 5)
    assert r["inliers"]["images"] == 4 and r["inliers"]["accuracy"] == 1.0
    assert r["inliers"]["nmi"] == pytest.approx(1.0) and r["inliers"]["ari"] == pytest.approx(1.0)
    assert 0 <= r["nmi"] < 1 and -1 <= r["ari"] < 1
    assert not math.isnan(r["nmi"])

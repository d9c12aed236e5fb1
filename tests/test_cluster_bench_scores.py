"""cluster_bench.scores: ACC/NMI/ARI against hand-computed cases and sklearn, silhouette, choice of k."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from sdstylegan.cluster_bench.scores import choose_k, elbow, k_curve, labelled_scores, silhouette


def test_accuracy_hand_computed_with_more_clusters_than_classes():
    # classes 0,0,0,1,1,1; clusters a,a,b,c,c,c: a↔0 (2 right), c↔1 (3 right), b unmatched (its image wrong)
    s = labelled_scores(np.array([0, 0, 0, 1, 1, 1]), np.array([5, 5, 7, 9, 9, 9]))
    assert s["accuracy"] == pytest.approx(5 / 6)
    # fewer clusters than classes: one cluster holding everything matches one class only
    assert labelled_scores(np.array([0, 1, 2, 2]), np.zeros(4, int))["accuracy"] == pytest.approx(2 / 4)
    # a permutation of the labels is perfect; no re-labelling tricks: 3 clusters for 2 classes cannot reach 1
    assert labelled_scores(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))["accuracy"] == 1.0
    assert labelled_scores(np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1]))["accuracy"] == pytest.approx(3 / 4)


def test_nmi_ari_equal_sklearn_and_unlabelled_images_are_left_out():
    rng = np.random.default_rng(0)
    true, pred = rng.integers(0, 4, 200), rng.integers(0, 6, 200)
    s = labelled_scores(true, pred)
    assert s["nmi"] == pytest.approx(normalized_mutual_info_score(true, pred))
    assert s["ari"] == pytest.approx(adjusted_rand_score(true, pred))
    masked = true.copy()
    masked[:50] = -1
    s2 = labelled_scores(masked, pred)
    assert s2["images"] == 150
    assert s2["nmi"] == pytest.approx(normalized_mutual_info_score(true[50:], pred[50:]))
    with pytest.raises(ValueError, match="labels but"):
        labelled_scores(true, pred[:10])


def blobs(k: int, per: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (k, 5))
    return np.concatenate([c + rng.normal(0, 0.3, (per, 5)) for c in centres])


def test_silhouette_and_k_choice_find_planted_blobs():
    x = blobs(4)
    pred = np.repeat(np.arange(4), 40)
    assert silhouette(x, pred) > 0.8
    assert silhouette(x, np.zeros(len(x))) is None
    curve = k_curve(x, range(2, 9), seed=0)
    assert [c["k"] for c in curve] == list(range(2, 9))
    assert choose_k(curve, "silhouette") == 4
    assert choose_k(curve, "elbow") == 4
    with pytest.raises(ValueError, match="silhouette or elbow"):
        choose_k(curve, "gap")


def test_elbow_hand_curve():
    curve = [{"k": k, "inertia": v, "silhouette": None} for k, v in zip(range(1, 7), [100, 40, 12, 10, 9, 8])]
    assert elbow(curve) == 3
    assert choose_k(curve) is None  # no silhouette to choose by

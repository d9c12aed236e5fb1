"""Each claim is judged on its figure: holds on a passing report, fails when the figure is wrong or absent."""

from __future__ import annotations

import copy

from sdstylegan.proof.claims import judge_claims


def _report(
    auroc=0.9, precision=0.6, random_auroc=0.51, multi=(0.3, 0.25, 0.25, 0.2), glob=(0.7, 0.3, 0.0, 0.0)
):
    def row(shares):
        return {
            "shares": list(shares),
            "modes_covered": sum(s >= 0.1 for s in shares),
            "min_share": min(shares),
            "entropy": 0.9 if shares == multi else 0.4,
        }

    return {
        "min_share": 0.1,
        "self_filter": {
            "detection": {
                "outlier_base_rate": 0.15,
                "methods": {
                    "filter_score_standin": {"auroc": auroc, "removed_precision": precision},
                    "feature_mean_distance_standin": {"auroc": 0.7},
                    "random": {"draw": {"auroc": random_auroc}},
                },
            }
        },
        "coverage_standin": {"psi_0.5": {"multimodal": row(multi), "global": row(glob)}},
    }


def test_a_passing_report_holds_every_claim():
    claims = judge_claims(_report(), "_standin")
    assert set(claims) == {
        "self_filter_auroc",
        "removed_precision",
        "sdip_best_detector",
        "random_at_chance",
        "multimodal_covers_all_modes",
        "multimodal_beats_global",
    }
    assert all(c["holds"] for c in claims.values()), claims


def test_each_failure_is_seen():
    assert not judge_claims(_report(auroc=0.79), "_standin")["self_filter_auroc"]["holds"]
    assert not judge_claims(_report(precision=0.44), "_standin")["removed_precision"]["holds"]  # < 3 × 0.15
    assert not judge_claims(_report(random_auroc=0.6), "_standin")["random_at_chance"]["holds"]
    assert not judge_claims(_report(auroc=0.65), "_standin")["sdip_best_detector"][
        "holds"
    ]  # the baseline wins
    c = judge_claims(_report(multi=(0.5, 0.3, 0.15, 0.05)), "_standin")
    assert (
        not c["multimodal_covers_all_modes"]["holds"]
        and "0.050" in c["multimodal_covers_all_modes"]["figure"]
    )
    same = (0.7, 0.3, 0.0, 0.0)
    r = _report(multi=same)
    assert not judge_claims(r, "_standin")["multimodal_beats_global"]["holds"]


def test_missing_figures_do_not_hold():
    r = copy.deepcopy(_report())
    r["self_filter"]["detection"]["methods"]["filter_score_standin"]["auroc"] = None
    del r["self_filter"]["detection"]["methods"]["random"]
    claims = judge_claims(r, "_standin")
    assert not claims["self_filter_auroc"]["holds"] and not claims["random_at_chance"]["holds"]
    assert "multimodal_covers_all_modes" not in judge_claims(r, "")  # coverage stored under another key

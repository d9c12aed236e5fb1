"""method_proof.md from a hand-made report: exact rows, number formats, missing figures as '–', well-formed tables.

tests/test_proof_stage.py only checks that a real run's Markdown names the stand-in and a few rows.
"""

from __future__ import annotations

import copy

import pytest

from sdstylegan.proof.markdown import proof_markdown

MODES = ["calabash", "imperial", "palo_santo", "ceramic"]


def _row(shares, fid_inliers=0.0012345, modes_covered=3, entropy=0.5, min_share=0.05):
    return {
        "shares": list(shares),
        "modes_covered": modes_covered,
        "entropy": entropy,
        "min_share": min_share,
        "fid": {"all": 0.002, "inliers": fid_inliers},
    }


def _report(sfx: str = "_standin") -> dict:
    return {
        "lpips": f"lpips_alex{sfx}",
        "fid_extractor": f"inception{sfx}",
        "modes": MODES,
        "min_share": 0.1,
        "num_samples": 24,
        "claims": {
            "self_filter_auroc": {"holds": True, "figure": "AUROC 0.91 (≥ 0.8)"},
            "random_at_chance": {"holds": False, "figure": "random-removal AUROC 0.7 (0.5 ± 0.05)"},
        },
        "self_filter": {
            "theta": 0.456789,
            "kept": 14,
            "total": 20,
            "detection": {
                "outlier_base_rate": 0.15,
                "removed": 6,
                "matched": 20,
                "outliers_by_kind": {"no_subject": 2, "graphic": 1},
                "methods": {
                    f"filter_score{sfx}": {
                        "auroc": 0.91234,
                        "average_precision": 0.5,
                        "removed_precision": 0.25,
                        "removed_recall": None,
                        "by_kind": {"graphic": {"auroc": 1.0}},  # no_subject missing
                    },
                    "random": {
                        "draw": {
                            "auroc": 0.4,
                            "average_precision": 0.1,
                            "by_kind": {"no_subject": {"auroc": 0.25}},
                        },
                        "expected": {"auroc": 0.5},
                    },
                },
            },
            "removed_share_by_mode": {"calabash": 0.1, "ceramic": 0.3333},
        },
        "cluster": {
            "num_clusters": 4,
            "mode_recovery": {
                "images": 17,
                "accuracy": 0.8,
                "nmi": 0.61,
                "ari": 0.5,
                "inliers": {"images": 15, "accuracy": 0.9, "nmi": None, "ari": 0.55},
            },
        },
        "mode_classifier": {"holdout_accuracy": 0.875, "holdout_images": 8},
        f"generators{sfx}": {
            "train": {
                "trained_on": "kept set (self-filtered)",
                "images": 14,
                "kimg": 0.008,
                f"fid{sfx}": {"all": 0.0018850335, "inliers": 123.456},
                "modes": {"shares": [0.25, 0.25, 0.5, 0.0]},
            },
            "train_all": {
                "trained_on": "all images",
                "images": 20,
                "kimg": 0.008,
                f"fid{sfx}": {"all": None, "inliers": 1.0},
                "modes": {"shares": [0.1, 0.2, 0.3, 0.4]},
            },
        },
        "real_inlier_modes": {"samples": 15, "shares": [0.2, 0.2, 0.2, 0.4]},
        f"coverage{sfx}": {
            "psi_0.5": {
                "global": _row([0.7, 0.3, 0.0, 0.0], modes_covered=2),
                "multimodal": _row([0.25, 0.25, 0.25, 0.25], modes_covered=4, entropy=1.0, min_share=0.25),
            },
            "psi_0.75": {"multimodal": _row([0.4, 0.2, 0.2, 0.2], fid_inliers=None)},
        },
    }


@pytest.fixture
def md() -> list[str]:
    return proof_markdown(_report(), "_standin").splitlines()


def test_title_and_networks_say_stand_in_only_with_a_suffix():
    standin = proof_markdown(_report(), "_standin")
    real = proof_markdown(_report(""), "")
    assert standin.startswith("# Method proof (STAND-IN networks: figures are not real FIDs)\n")
    assert real.startswith("# Method proof\n") and "STAND-IN" not in real
    assert "LPIPS: `lpips_alex`; FID features: `inception`." in real
    assert "| FID vs all | FID vs inliers |" in real and "| FID_standin vs all |" in standin
    assert standin.endswith("|\n") and not standin.endswith("\n\n")


def test_claims_rows(md):
    assert "| self_filter_auroc | yes | AUROC 0.91 (≥ 0.8) |" in md
    assert "| random_at_chance | **no** | random-removal AUROC 0.7 (0.5 ± 0.05) |" in md


def test_detection_table_kinds_sorted_random_from_its_draw_missing_as_dash(md):
    assert "## Self-filter as an outlier detector (θ = 0.4568, kept 14 of 20)" in md
    head = md.index(
        "| method | AUROC | AP | removed precision | removed recall | AUROC graphic | AUROC no_subject |"
    )
    assert md[head + 1] == "|---|---|---|---|---|---|---|"
    assert md[head + 2] == "| filter_score_standin | 0.912 | 0.500 | 0.250 | – | 1.000 | – |"
    assert md[head + 3] == "| random removal (seeded draw) | 0.400 | 0.100 | – | – | – | 0.250 |"
    assert (
        "Outlier base rate 0.150; 6 of 20 images removed; outliers by kind {'no_subject': 2, 'graphic': 1}."
        in md
    )
    assert "Inliers removed, by planted mode: calabash 0.100, ceramic 0.333." in md


def test_no_removed_share_line_without_figures():
    report = _report()
    del report["self_filter"]["removed_share_by_mode"]
    assert "Inliers removed" not in proof_markdown(report, "_standin")


def test_cluster_recovery_rows(md):
    assert "## Real images' clusters vs planted modes (4 clusters)" in md
    assert "| all with a mode (17) | 0.800 | 0.610 | 0.500 |" in md
    assert "| inliers (15) | 0.900 | – | 0.550 |" in md


def test_generator_rows_fid_to_three_significant_digits(md):
    assert "Mode classifier: held-out accuracy 0.875 on 8 real inliers." in md
    assert "## Final generators (24 samples each, untruncated)" in md
    assert (
        "| generator | trained on | images | kimg | FID_standin vs all | FID_standin vs inliers | "
        "calabash | imperial | palo_santo | ceramic |"
    ) in md
    assert (
        "| train | kept set (self-filtered) | 14 | 0.008 | 0.00189 | 123 | 0.250 | 0.250 | 0.500 | 0.000 |"
        in md
    )
    assert "| train_all | all images | 20 | 0.008 | – | 1 | 0.100 | 0.200 | 0.300 | 0.400 |" in md
    assert "| (real inliers) | | 15 | | | | 0.200 | 0.200 | 0.200 | 0.400 |" in md


def test_coverage_rows_per_psi_and_set(md):
    assert (
        "| ψ | set | modes ≥ 0.1 | entropy | smallest share | calabash | imperial | palo_santo | ceramic "
        "| FID_standin vs inliers |"
    ) in md
    assert "| 0.5 | global | 2 | 0.500 | 0.050 | 0.700 | 0.300 | 0.000 | 0.000 | 0.00123 |" in md
    assert "| 0.5 | multimodal | 4 | 1.000 | 0.250 | 0.250 | 0.250 | 0.250 | 0.250 | 0.00123 |" in md
    assert "| 0.75 | multimodal | 3 | 0.500 | 0.050 | 0.400 | 0.200 | 0.200 | 0.200 | – |" in md


@pytest.mark.parametrize("modes", [MODES, MODES[:2]])
def test_every_table_row_has_as_many_cells_as_its_header(modes):
    report = _report()
    if len(modes) != len(MODES):  # fewer planted modes: every mode column follows `modes`
        report = copy.deepcopy(report)
        report["modes"] = modes
        n = len(modes)
        for g in report["generators_standin"].values():
            g["modes"]["shares"] = g["modes"]["shares"][:n]
        report["real_inlier_modes"]["shares"] = report["real_inlier_modes"]["shares"][:n]
        for row in report["coverage_standin"].values():
            for r in row.values():
                r["shares"] = r["shares"][:n]
    lines = proof_markdown(report, "_standin").splitlines()
    tables, current = [], []
    for line in [*lines, ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert len(tables) == 5  # claims, detection, clusters, generators, coverage
    for table in tables:
        cells = {line.count("|") for line in table}
        assert len(cells) == 1, table
        assert set(table[1].replace("|", "")) == {"-"}  # the separator row right under the header

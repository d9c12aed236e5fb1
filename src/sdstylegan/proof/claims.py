"""The method proof's pass/fail lines, each judged on a figure of the proof report (never asserted).

Thresholds (issue #11): self-filter outlier AUROC ≥ 0.80; removed-set outlier precision ≥ 3× the base rate;
random removal at chance; multi-modal truncation at ψ = 0.5 gives every planted mode ≥ `min_share` of the
samples and covers more modes than global truncation, or covers them more evenly (higher entropy).
"""

from __future__ import annotations

from typing import Any

AUROC_MIN = 0.80
PRECISION_FACTOR = 3.0
CHANCE_BAND = 0.05  # |AUROC − 0.5| of the random draw counted as chance


def _claim(holds: bool | None, figure: str) -> dict[str, Any]:
    return {"holds": bool(holds), "figure": figure}


def _r(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def judge_claims(report: dict[str, Any], sfx: str = "", psi: float = 0.5) -> dict[str, dict[str, Any]]:
    """Evaluate each claim on `report` (the proof stage's); a claim whose figure is missing does not hold."""
    claims: dict[str, dict[str, Any]] = {}
    det = report.get("self_filter", {}).get("detection") or {}
    methods = det.get("methods") or {}
    sdip = next((v for k, v in methods.items() if k.startswith("filter_score")), None)
    if sdip is not None:
        a = sdip.get("auroc")
        claims["self_filter_auroc"] = _claim(
            a is not None and a >= AUROC_MIN, f"AUROC {_r(a)} (≥ {AUROC_MIN})"
        )
        p, base = sdip.get("removed_precision"), det.get("outlier_base_rate")
        ok = p is not None and base is not None and p >= PRECISION_FACTOR * base
        claims["removed_precision"] = _claim(
            ok, f"precision {_r(p)} vs base rate {_r(base)} (≥ {PRECISION_FACTOR:g}×)"
        )
        best = max(
            ((k, v.get("auroc")) for k, v in methods.items() if k != "random" and v.get("auroc") is not None),
            key=lambda kv: kv[1],
            default=(None, None),
        )
        claims["sdip_best_detector"] = _claim(
            best[0] is not None and best[0].startswith("filter_score"),
            f"highest AUROC: {best[0]} {_r(best[1])}",
        )
    rnd = (methods.get("random") or {}).get("draw", {}).get("auroc")
    claims["random_at_chance"] = _claim(
        rnd is not None and abs(rnd - 0.5) <= CHANCE_BAND,
        f"random-removal AUROC {_r(rnd)} (0.5 ± {CHANCE_BAND})",
    )
    row = (report.get(f"coverage{sfx}") or {}).get(f"psi_{psi:g}")
    if row:
        m, g = row["multimodal"], row["global"]
        n_modes, share = len(m["shares"]), report.get("min_share", 0.10)
        claims["multimodal_covers_all_modes"] = _claim(
            m["modes_covered"] == n_modes,
            f"ψ={psi:g}: {m['modes_covered']}/{n_modes} modes ≥ {share:g}, "
            f"smallest share {m['min_share']:.3f}",
        )
        better = m["modes_covered"] > g["modes_covered"] or m["entropy"] > g["entropy"]
        claims["multimodal_beats_global"] = _claim(
            better,
            f"ψ={psi:g}: modes {m['modes_covered']} vs {g['modes_covered']}, "
            f"entropy {m['entropy']:.3f} vs {g['entropy']:.3f}",
        )
    return claims

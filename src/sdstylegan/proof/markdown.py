"""The proof report as Markdown tables (`proof/method_proof.md`), from the report dict alone."""

from __future__ import annotations

from typing import Any


def _f(v: Any, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _g(v: Any) -> str:
    """Three significant digits: stand-in FIDs live on tiny scales."""
    return "–" if v is None else f"{v:.3g}"


def _detection(det: dict[str, Any]) -> list[str]:
    kinds = sorted(det.get("outliers_by_kind") or {})
    head = (
        "| method | AUROC | AP | removed precision | removed recall | "
        + " | ".join(f"AUROC {k}" for k in kinds)
        + " |"
    )
    lines = [head, "|" + "---|" * (5 + len(kinds))]
    for name, m in (det.get("methods") or {}).items():
        m = m.get("draw", m) if name == "random" else m
        label = "random removal (seeded draw)" if name == "random" else name
        by = m.get("by_kind") or {}
        lines.append(
            f"| {label} | {_f(m.get('auroc'))} | {_f(m.get('average_precision'))} | "
            f"{_f(m.get('removed_precision'))} | {_f(m.get('removed_recall'))} | "
            + " | ".join(_f((by.get(k) or {}).get("auroc")) for k in kinds)
            + " |"
        )
    lines.append(
        f"\nOutlier base rate {_f(det.get('outlier_base_rate'))}; {det.get('removed')} of "
        f"{det.get('matched')} images removed; outliers by kind {det.get('outliers_by_kind')}."
    )
    return lines


def proof_markdown(report: dict[str, Any], sfx: str = "") -> str:
    """Tables: claims, detection, mode recovery, final generators, coverage per ψ."""
    modes = report["modes"]
    out = [
        f"# Method proof{' (STAND-IN networks: figures are not real FIDs)' if sfx else ''}",
        "",
        f"LPIPS: `{report['lpips']}`; FID features: `{report['fid_extractor']}`.",
        "",
        "## Claims",
        "",
        "| claim | holds | figure |",
        "|---|---|---|",
    ]
    out += [
        f"| {k} | {'yes' if c['holds'] else '**no**'} | {c['figure']} |" for k, c in report["claims"].items()
    ]
    sf = report["self_filter"]
    out += [
        "",
        f"## Self-filter as an outlier detector (θ = {_f(sf.get('theta'), 4)}, kept {sf.get('kept')} of "
        f"{sf.get('total')})",
        "",
    ]
    out += _detection(sf.get("detection") or {})
    by_mode = sf.get("removed_share_by_mode") or {}
    if by_mode:
        out.append(
            "\nInliers removed, by planted mode: "
            + ", ".join(f"{m} {_f(v)}" for m, v in by_mode.items())
            + "."
        )
    rec = report["cluster"].get("mode_recovery") or {}
    out += [
        "",
        f"## Real images' clusters vs planted modes ({report['cluster'].get('num_clusters')} clusters)",
        "",
        "| images | accuracy (Hungarian) | NMI | ARI |",
        "|---|---|---|---|",
        f"| all with a mode ({rec.get('images')}) | {_f(rec.get('accuracy'))} | {_f(rec.get('nmi'))} | "
        f"{_f(rec.get('ari'))} |",
    ]
    inl = rec.get("inliers") or {}
    out.append(
        f"| inliers ({inl.get('images')}) | {_f(inl.get('accuracy'))} | {_f(inl.get('nmi'))} | {_f(inl.get('ari'))} |"
    )
    mc = report["mode_classifier"]
    out += [
        "",
        f"## Final generators ({report['num_samples']} samples each, untruncated)",
        "",
        f"Mode classifier: held-out accuracy {_f(mc['holdout_accuracy'])} on {mc['holdout_images']} real inliers.",
        "",
        f"| generator | trained on | images | kimg | FID{sfx} vs all | FID{sfx} vs inliers | "
        + " | ".join(modes)
        + " |",
        "|" + "---|" * (6 + len(modes)),
    ]
    for stage, g in report[f"generators{sfx}"].items():
        fid = g[f"fid{sfx}"]
        out.append(
            f"| {stage} | {g['trained_on']} | {g['images']} | {_f(g['kimg'])} | {_g(fid['all'])} | "
            f"{_g(fid['inliers'])} | " + " | ".join(_f(s) for s in g["modes"]["shares"]) + " |"
        )
    real = report["real_inlier_modes"]
    out.append(
        f"| (real inliers) | | {real['samples']} | | | | " + " | ".join(_f(s) for s in real["shares"]) + " |"
    )
    out += [
        "",
        "## Mode coverage of the final generator's samples",
        "",
        "| ψ | set | modes ≥ {:g} | entropy | smallest share | ".format(report["min_share"])
        + " | ".join(modes)
        + f" | FID{sfx} vs inliers |",
        "|" + "---|" * (6 + len(modes)),
    ]
    for psi, row in report[f"coverage{sfx}"].items():
        for name, r in row.items():
            out.append(
                f"| {psi[4:]} | {name} | {r['modes_covered']} | {_f(r['entropy'])} | {_f(r['min_share'])} | "
                + " | ".join(_f(s) for s in r["shares"])
                + f" | {_g(r['fid']['inliers'])} |"
            )
    return "\n".join(out) + "\n"

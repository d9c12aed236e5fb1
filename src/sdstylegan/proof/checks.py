"""Start-of-run check of the `proof` stage's config (pipeline `validate`): one line per problem."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

NEEDED = ("self_filter", "train", "cluster")  # stages whose outputs the proof reads


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_proof(cfg: DictConfig) -> list[str]:
    """`proof`: demo ground truth, the stages it reads, sample counts, ψ values, classifier settings."""
    get = lambda key: OmegaConf.select(cfg, key, default=None, throw_on_missing=False)  # noqa: E731
    lines = []
    if get("dataset.name") != "demo":
        lines.append(
            f"dataset.name={get('dataset.name')}: the proof needs the demo's planted ground truth "
            "(dataset=demo, e.g. experiment=demo_proof)"
        )
    stages = [str(s) for s in (get("pipeline.stages") or [])]
    before = stages[: stages.index("proof")] if "proof" in stages else stages
    missing = [s for s in NEEDED if s not in before]
    if missing:
        lines.append(f"pipeline.stages: proof reads the outputs of {', '.join(missing)}; list them before it")
    for key, low in (
        ("proof.num_samples", 2),
        ("proof.batch_size", 1),
        ("proof.grid_size", 2),
        ("proof.classifier.epochs", 1),
        ("proof.classifier.batch", 1),
    ):
        v = get(key)
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= low):
            lines.append(f"{key}={v}: must be an integer ≥ {low}")
    for key in ("proof.min_share", "proof.classifier.holdout"):
        v = get(key)
        if not (_number(v) and 0 < v < 1):
            lines.append(f"{key}={v}: must be a number in (0, 1)")
    if not (_number(get("proof.classifier.lr")) and get("proof.classifier.lr") > 0):
        lines.append(f"proof.classifier.lr={get('proof.classifier.lr')}: must be a number > 0")
    psis = get("proof.psis")
    is_list = isinstance(psis, (list, tuple, ListConfig))
    if not is_list or not psis or not all(_number(p) and 0 <= p <= 1 for p in psis):
        shown = list(psis) if is_list else psis
        lines.append(f"proof.psis={shown}: must be a non-empty list of ψ in [0, 1]")
    return lines

"""Metrics: FID, KID, precision/recall, FD-DINO (generator vs real images) and LPIPS.

- `evaluate.generator_metrics` — the entry point for the training callback and the evaluate stage.
- `lpips.LPIPS` — perceptual distance/loss (self-filtering, projection, multi-modal truncation).
- `extractors` / `inception` / `dino` — feature extractors with one interface; random stand-ins
  carry `_standin` in every metric and file name.
- `frechet`, `kid`, `precision_recall`, `features`, `stats_cache` — the pieces, usable alone
  (e.g. FID between two real subsets for SDIP's threshold search).
- `evaluate_stage.run_evaluate` — the `evaluate` pipeline stage.
Nothing heavy is imported here: import the submodule you need.
"""

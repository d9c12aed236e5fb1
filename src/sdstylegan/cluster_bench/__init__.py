"""Clustering benchmark: which encoder and which algorithm recover a collection's modes.

- `images` / `labels` — the image set (a run's manifest or a folder) and its classes (demo ground truth,
  class subfolders, a CSV).
- `encoders` / `run_networks` — DINO ViT-S/16, DINOv2, CLIP, the FID Inception, raw pixels; a run's E and D.
- `extract` / `cache` — features with progress in images/s, cached per encoder identity and image set.
- `algorithms` / `scores` — scikit-learn's and this project's clusterings; ACC/NMI/ARI, silhouette, k curve.
- `table` / `pictures` — `cluster_bench.md`/`.csv`, per-cluster grids, 2-D embeddings.
- `bench` (the run), `stage` (pipeline stage `cluster_bench`), `__main__` (python -m sdstylegan.cluster_bench).
- `assignments` / `subset` — per-image cluster files; `dataset.cluster_subset` trains `train` on chosen clusters.
- `mapper_net` / `mapper_train` / `mapper` — frozen encoder features → MLP → w, trained against a fixed G and
  scored like the inversion methods (python -m sdstylegan.cluster_bench.mapper).
Nothing heavy is imported here.
"""

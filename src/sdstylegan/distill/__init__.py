"""SDIP distillation: self-filtering (stage `self_filter`) and multi-modal truncation (stage `cluster`).

- `reconstruction`: d(x) = LPIPS(x, G(E(x))) with FID features in one pass;
- `threshold`: θ search (FID(kept, all) < FID(G(E(all)), all), floor on |kept|);
- `kmeans`: torch KMeans (init='random', Lloyd) in W;
- `truncation`: `multimodal_truncate(G, ws, centres, psi, distance='lpips'|'w')`;
- `filter_stage` / `cluster_stage`: the pipeline stages (run once, on rank 0, under DDP: `ranks`);
  `records`, `pictures`: manifests, ground truth, figures;
- `ground_truth`, `baselines`: scores against the demo's planted outliers/modes (AUROC, AP, ACC, NMI, ARI)
  and the outlier scores self-filtering is compared with.
"""

"""StyleGAN2(-ADA) training: LightningModule, phased loss, ADA, EMA, checkpoints, callbacks, stages.

Modules: `module` (StyleGAN2Module), `loss` (phases + lazy-regularisation Adam correction),
`augment` (ADA pipeline), `ada` (p heuristic), `ema` (G_ema), `data` (exactly resumable stream),
`checkpoint` (atomic I/O, `load_generator`), `callbacks` (checkpoints, sample grids, FID),
`stage` (pipeline stages `train_raw` and `train`).
"""

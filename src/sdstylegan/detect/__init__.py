"""Object discovery with TokenCut (normalized cut on DINO ViT keys) and the `crop` stage.

tokencut (ncut solver) · backbone (ViT keys, pixel tokens, weights) · detector (LightningModule)
· crop (square-crop geometry) · crop_stage (pipeline stage) · corloc (evaluation + CLI) · visualize.
"""

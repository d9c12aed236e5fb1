"""Sketch-guided fine-tuning (Sketch Your Own GAN, Wang et al. ICCV 2021): stage `sketch`, sketchers, losses."""

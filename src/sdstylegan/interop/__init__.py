"""Interoperability with NVlabs StyleGAN2-ADA / StyleGAN3 / SDIP files: safe pickle import, NVlabs-layout export."""

"""sdstylegan: a self-distilled StyleGAN2 pipeline from raw internet photos.

Importing the package is cheap and never compiles or downloads anything.
"""

__version__ = "0.1.0"

"""Artify: find the artwork whose VGG patches best match a content image, and transfer its style patch by patch.

- `vgg` — VGG-16/19 feature maps by layer name; weights through `utils.weights` (or a labelled stand-in).
- `patches` — 3×3 neighbourhood patches, the patch-match score, nearest patches, the global descriptor.
- `index` — features of a folder of art, sharded float16 on disk, resumable; `search` — exact brute force
  and the two-stage search (faiss ANN short list → exact score).
- `losses` / `transfer` — matched-feature Gram, histogram and TV losses; the optimisation (Adam, L-BFGS).
- `content` (image files or a run's generator), `outputs` (triptych, result, top-5 JSON), `procedural`
  (an offline "art" collection with a known answer), `run` (the jobs from a config), `__main__` (the CLI).
Nothing heavy is imported here.
"""

"""Image inversion: optimisation projector (W / W+, batched), the SDIP encoder, encoder + refinement."""

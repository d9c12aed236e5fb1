"""The method proof on the demo's ground truth (`experiment=demo_proof`): does self-filtering find the planted
outliers, does multi-modal truncation keep the planted modes, does training on the kept set beat a random
subset of the same size and the whole set? Stages `train_random`, `train_all` and `proof`."""

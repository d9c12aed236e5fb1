"""sdstylegan entry point: compose the Hydra config and run the pipeline stages it lists.

python train.py experiment=demo                      # offline demo on CPU
python train.py experiment=yerba_mate trainer=ddp trainer.devices=4
python train.py -m experiment=demo dataset.num_images=200,400   # one run dir per job, named by its overrides
python train.py -m experiment=demo hparams_search=optuna_demo   # Optuna search ([optuna] extra)
"""

import hydra
from omegaconf import DictConfig

from sdstylegan.utils.resolvers import register

register()  # ${sdstylegan_job:...} in conf/hydra, resolved by Hydra before main runs


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run the stages; return the value `optimized_metric` names (what a Hydra sweeper optimises)."""
    from sdstylegan.pipeline.entry import (
        optimized_value,
        run_from_config,
    )  # after Hydra parsed the command line

    return optimized_value(cfg, run_from_config(cfg))


if __name__ == "__main__":
    main()

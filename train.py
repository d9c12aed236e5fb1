"""sdstylegan entry point: compose the Hydra config and run the pipeline stages it lists.

python train.py experiment=demo                      # offline demo on CPU
python train.py experiment=yerba_mate trainer=ddp trainer.devices=4
python train.py -m experiment=demo dataset.num_images=200,400   # one run dir per job
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from sdstylegan.pipeline.entry import run_from_config  # after Hydra has parsed the command line

    run_from_config(cfg)


if __name__ == "__main__":
    main()

"""What `train.py` does with a composed config: show and save it, seed, run the stages."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from sdstylegan.pipeline.preflight import StartupError
from sdstylegan.pipeline.runner import run_pipeline
from sdstylegan.utils.config_tree import config_tree, save_config
from sdstylegan.utils.logging import get_logger, global_rank
from sdstylegan.utils.seeding import seed_everything

log = get_logger(__name__)


def run_from_config(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Print the config tree, save it in the run directory, seed, and run `pipeline.stages`.

    A failure is logged with the run directory before it propagates, so the log of a multirun
    job says where to look; loggers are closed by the stages that opened them. A StartupError (bad
    config values, damaged outputs, missing weights: found before any stage ran) is logged as its
    message alone, one line per problem, without a traceback; Hydra prints it the same way.
    """
    if not logging.getLogger().handlers:  # called outside Hydra (tests, notebooks)
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stdout,
            format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s",
        )
    run_dir = Path(cfg.paths.run_dir)
    if global_rank() == 0:
        if cfg.get("print_config", True):
            print(config_tree(cfg), flush=True)
        save_config(cfg, run_dir)
    seed_everything(int(cfg.seed))
    try:
        outputs = run_pipeline(cfg)
    except StartupError as e:
        log.error("%s", e)
        raise
    except Exception:
        log.exception("run failed; run directory: %s", run_dir)
        raise
    log.info("all stages done; run directory: %s", run_dir)
    return outputs

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


def optimized_value(cfg: DictConfig, outputs: dict[str, dict[str, Any]]) -> float | None:
    """The number `optimized_metric` names in the stages' outputs (for Hydra sweepers such as Optuna), or None.

    `optimized_metric` is a dotted path `<stage>.<key>[.<key>…]`, e.g. `evaluate.metrics.val/fid50k`; its last
    part may be a prefix matching exactly one key (`evaluate.metrics.val/fid` finds `val/fid2k_standin`), so a
    search config need not know the sample count or whether a stand-in network is configured.
    """
    path = cfg.get("optimized_metric")
    if not path:
        return None
    node: Any = outputs
    parts = str(path).split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict):
            raise ValueError(f"optimized_metric={path}: '{'.'.join(parts[:i])}' is not a group of outputs")
        if part not in node:
            matches = [k for k in node if i == len(parts) - 1 and str(k).startswith(part)]
            if len(matches) != 1:
                raise ValueError(
                    f"optimized_metric={path}: no unique '{part}' under '{'.'.join(parts[:i]) or 'stages'}' "
                    f"(has: {sorted(node)})"
                )
            part = matches[0]
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ValueError(f"optimized_metric={path} is {node!r}, not a number")
    log.info("optimized_metric %s = %s", path, node)
    return float(node)

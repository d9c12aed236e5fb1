"""Print the composed config as a tree and save it (resolved) into the run directory."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sdstylegan.utils.io import atomic_open

# Groups printed first, in pipeline order; everything else follows alphabetically.
_ORDER = (
    "experiment_name",
    "seed",
    "pipeline",
    "paths",
    "dataset",
    "collect",
    "detector",
    "model",
    "training",
    "filtering",
    "clustering",
    "metrics",
    "trainer",
    "logger",
)


def config_tree(cfg: DictConfig, resolve: bool = True) -> str:
    """Render `cfg` as a box-drawing tree, one branch per top-level key (hydra's own node left out)."""
    keys = [k for k in _ORDER if k in cfg] + sorted(k for k in cfg if k not in _ORDER and k != "hydra")
    lines = ["CONFIG"]
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        value = cfg[key]
        lines.append(("└── " if last else "├── ") + str(key))
        if isinstance(value, DictConfig) or OmegaConf.is_list(value):
            body = OmegaConf.to_yaml(value, resolve=resolve).rstrip("\n").splitlines()
        else:
            body = [str(value)]
        pad = "    " if last else "│   "
        lines.extend(pad + line for line in body)
    return "\n".join(lines)


def save_config(cfg: DictConfig, run_dir: str | Path) -> Path:
    """Write the resolved config (`config.yaml`) and its tree (`config_tree.txt`) into `run_dir`."""
    run_dir = Path(run_dir)
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("hydra", None)
    with atomic_open(run_dir / "config.yaml", "w", encoding="utf-8") as f:
        f.write(OmegaConf.to_yaml(OmegaConf.create(plain)))
    with atomic_open(run_dir / "config_tree.txt", "w", encoding="utf-8") as f:
        f.write(config_tree(cfg) + "\n")
    return run_dir / "config.yaml"

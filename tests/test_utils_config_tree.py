from __future__ import annotations

from omegaconf import OmegaConf

from sdstylegan.utils.config_tree import config_tree, save_config


def test_tree_lists_groups_and_saves_resolved_config(make_cfg, tmp_path):
    cfg = make_cfg(["experiment=demo"])
    tree = config_tree(cfg)
    assert tree.splitlines()[0] == "CONFIG"
    for group in ("dataset", "model", "trainer", "pipeline", "logger"):
        assert f"── {group}" in tree
    assert "hydra" not in [line.strip("├└─ ") for line in tree.splitlines()]
    path = save_config(cfg, tmp_path)
    saved = OmegaConf.load(path)
    assert saved.experiment_name == "demo"
    assert saved.logger.csv.save_dir == cfg.paths.run_dir  # interpolations resolved
    assert (tmp_path / "config_tree.txt").read_text().startswith("CONFIG")

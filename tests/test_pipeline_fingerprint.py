"""Config fingerprints: what they cover, what they leave out, and misspelt keys stopping the run at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sdstylegan.pipeline.fingerprint import fingerprint, missing_keys, select_config
from sdstylegan.pipeline.runner import _resolve_stages, _state, run_pipeline


def test_fingerprint_is_canonical_and_sensitive():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})  # key order
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.5})
    assert fingerprint({"a": None}) != fingerprint({})


def test_missing_keys_tell_a_null_value_from_a_misspelt_key():
    cfg = OmegaConf.create({"training": {"init_from": None, "loss": {"r1": 1}}})
    assert missing_keys(cfg, ["training.init_from", "training.loss.r1", "training"]) == []
    assert missing_keys(cfg, ["training.init_form", "training.loss.r2", "nope"]) == [
        "training.init_form",
        "training.loss.r2",
        "nope",
    ]


def test_select_config_resolves_and_leaves_out_excluded_sub_keys():
    cfg = OmegaConf.create({"det": {"tau": 0.2, "workers": 4, "pic": {"n": 3, "m": 1}, "x": "${det.tau}"}})
    sel = select_config(cfg, ["det"], exclude=["det.workers", "det.pic.n", "det.absent"])
    assert sel == {"det": {"tau": 0.2, "pic": {"m": 1}, "x": 0.2}}
    assert OmegaConf.select(cfg, "det.workers") == 4  # the config itself is untouched


def test_speed_only_keys_do_not_change_the_crop_fingerprint_but_real_ones_do(make_cfg):
    def crop_fp(overrides):
        cfg = make_cfg(["experiment=demo", *overrides])
        crop = next(s for s in _resolve_stages(cfg) if s.name == "crop")
        return _state(cfg, crop, [], Path(cfg.paths.run_dir) / "crop")[0]

    base = crop_fp([])
    assert (
        crop_fp(["detector.num_workers=7", "detector.batch_size=3", "detector.picture.num_images=2"]) == base
    )
    assert crop_fp(["detector.tau=0.3"]) != base
    assert crop_fp(["dataset.resolution=64"]) != base


def test_train_fingerprint_covers_xflip(make_cfg):
    def train_fp(overrides):
        cfg = make_cfg(["experiment=demo", *overrides])
        train = next(s for s in _resolve_stages(cfg) if s.name == "train")
        return _state(cfg, train, [], Path(cfg.paths.run_dir) / "train")[0]

    assert train_fp(["dataset.datamodule.xflip=false"]) != train_fp([])


def test_a_misspelt_registry_key_stops_the_run_before_any_stage(make_cfg):
    cfg = make_cfg(["experiment=demo", "pipeline.registry.train.config=[model, training.batch_sise]"])
    with pytest.raises(ValueError, match=r"stage 'train'.*training.batch_sise.*do not exist"):
        run_pipeline(cfg)
    assert not (Path(cfg.paths.run_dir) / "demo_data").exists()


def test_keys_at_their_neutral_value_stay_out_of_the_fingerprint():
    """A key added later, at the value that keeps the old behaviour, leaves older runs' fingerprints as they were."""
    old = OmegaConf.create({"enc": {"lr": 1}})
    new = OmegaConf.create({"enc": {"lr": 1, "start": 0}})
    neutral = {"enc.start": 0}
    assert select_config(new, ["enc"], neutral=neutral) == select_config(old, ["enc"]) == {"enc": {"lr": 1}}
    assert select_config(new, ["enc"]) == {"enc": {"lr": 1, "start": 0}}
    changed = OmegaConf.create({"enc": {"lr": 1, "start": 5}})
    assert select_config(changed, ["enc"], neutral=neutral) == {"enc": {"lr": 1, "start": 5}}

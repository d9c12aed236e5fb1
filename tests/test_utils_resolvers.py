"""Sweep job folder names: readable, one level, unique, stable."""

from __future__ import annotations

from omegaconf import OmegaConf

from sdstylegan.utils.resolvers import MAX_NAME, job_dirname, register


def test_name_keeps_order_drops_excluded_keys_and_never_nests():
    name = job_dirname(
        ["training.r1_gamma=0.5", "experiment=demo", "+dataset.path=/data/x", "trainer=ddp"],
        exclude=["experiment", "trainer", "dataset.path"],
    )
    assert name == "training.r1_gamma=0.5"
    assert job_dirname(["dataset.path=/data/x"]) == "dataset.path=_data_x"
    assert job_dirname(["experiment=demo"], exclude=["experiment"]) == "default"


def test_long_names_are_cut_with_a_hash_that_tells_jobs_apart():
    common = [f"model.key{i}=value{i}" for i in range(20)]
    a = job_dirname(["training.r1_gamma=0.1", *common])
    b = job_dirname(["training.r1_gamma=0.2", *common])
    c = job_dirname([*common, "training.r1_gamma=0.1"])  # same prefix as d, different end
    d = job_dirname([*common, "training.r1_gamma=0.2"])
    assert len(a) <= MAX_NAME and a.startswith("training.r1_gamma=0.1,model.key0")
    assert len({a, b, c, d}) == 4
    assert a == job_dirname(["training.r1_gamma=0.1", *common])  # stable: a re-run finds its folder


def test_resolver_is_registered_for_the_hydra_config():
    register()
    register()  # idempotent
    cfg = OmegaConf.create({"o": ["a=1", "b=2"], "x": ["b"], "name": "${sdstylegan_job:${o},${x}}"})
    assert cfg.name == "a=1"

"""check_proof: the shipped proof config passes; each bad value gives exactly its line.

tests/test_proof_stage.py checks that the runner stops on a few of these lines; this file checks every rule.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sdstylegan.proof.checks import check_proof

CONF = Path(__file__).resolve().parents[1] / "conf"


def _cfg(**changes) -> OmegaConf:
    """dataset=demo, the shipped conf/proof/default.yaml, a pipeline with every stage proof reads."""
    base = {
        "dataset": {"name": "demo"},
        "proof": OmegaConf.to_container(OmegaConf.load(CONF / "proof" / "default.yaml")),
        "pipeline": {"stages": ["demo_data", "train_raw", "self_filter", "train", "cluster", "proof"]},
    }
    cfg = OmegaConf.create(copy.deepcopy(base))
    for key, value in changes.items():
        OmegaConf.update(cfg, key.replace("__", "."), value, force_add=True)
    return cfg


def test_shipped_defaults_pass():
    assert check_proof(_cfg()) == []


def test_the_demo_proof_experiment_passes(make_cfg):
    assert check_proof(make_cfg(["experiment=demo_proof"])) == []


def test_needs_the_demo_ground_truth():
    assert check_proof(_cfg(dataset__name="folder")) == [
        "dataset.name=folder: the proof needs the demo's planted ground truth (dataset=demo, e.g. experiment=demo_proof)"
    ]
    assert check_proof(_cfg(dataset=None))[0].startswith("dataset.name=None: the proof needs")


def test_stages_it_reads_must_come_before_it():
    after = ["demo_data", "train_raw", "proof", "self_filter", "train", "cluster"]
    assert check_proof(_cfg(pipeline__stages=after)) == [
        "pipeline.stages: proof reads the outputs of self_filter, train, cluster; list them before it"
    ]
    assert check_proof(_cfg(pipeline__stages=["demo_data", "train", "proof"])) == [
        "pipeline.stages: proof reads the outputs of self_filter, cluster; list them before it"
    ]
    # checked on its own (proof not listed): the whole list counts as "before"
    assert check_proof(_cfg(pipeline__stages=["self_filter", "train", "cluster"])) == []


@pytest.mark.parametrize(
    ("key", "low"),
    [
        ("proof.num_samples", 2),
        ("proof.batch_size", 1),
        ("proof.grid_size", 2),
        ("proof.classifier.epochs", 1),
        ("proof.classifier.batch", 1),
    ],
)
def test_counts_are_integers_at_or_above_their_floor(key, low):
    assert check_proof(_cfg(**{key.replace(".", "__"): low})) == []
    for bad in (low - 1, float(low), True, "8", None):
        assert check_proof(_cfg(**{key.replace(".", "__"): bad})) == [
            f"{key}={bad}: must be an integer ≥ {low}"
        ]


@pytest.mark.parametrize("key", ["proof.min_share", "proof.classifier.holdout"])
def test_fractions_lie_strictly_between_zero_and_one(key):
    assert check_proof(_cfg(**{key.replace(".", "__"): 0.5})) == []
    for bad in (0, 1, 1.5, -0.1, float("nan"), True, "0.2"):
        assert check_proof(_cfg(**{key.replace(".", "__"): bad})) == [
            f"{key}={bad}: must be a number in (0, 1)"
        ]


def test_learning_rate_must_be_positive():
    assert check_proof(_cfg(proof__classifier__lr=1)) == []
    for bad in (0, -0.001, "fast", False):
        assert check_proof(_cfg(proof__classifier__lr=bad)) == [
            f"proof.classifier.lr={bad}: must be a number > 0"
        ]


def test_psis_non_empty_and_each_in_the_unit_interval():
    assert check_proof(_cfg(proof__psis=[0, 1, 0.5])) == []  # the ends are allowed
    for bad, shown in (
        ([], "[]"),
        (None, "None"),
        ([0.5, -0.1], "[0.5, -0.1]"),
        ([0.5, 1.01], "[0.5, 1.01]"),
        ([True], "[True]"),
        (["0.5"], "['0.5']"),
    ):
        assert check_proof(_cfg(proof__psis=bad)) == [
            f"proof.psis={shown}: must be a non-empty list of ψ in [0, 1]"
        ], bad


def test_every_problem_is_reported_at_once_in_a_stable_order():
    cfg = _cfg(
        dataset__name="folder",
        pipeline__stages=["proof"],
        proof__num_samples=1,
        proof__min_share=2,
        proof__classifier__lr=0,
        proof__psis=[],
    )
    lines = check_proof(cfg)
    assert [line.split("=")[0].split(":")[0] for line in lines] == [
        "dataset.name",
        "pipeline.stages",
        "proof.num_samples",
        "proof.min_share",
        "proof.classifier.lr",
        "proof.psis",
    ]


def test_a_missing_proof_node_is_reported_not_raised():
    cfg = _cfg()
    del cfg["proof"]
    lines = check_proof(cfg)
    assert "proof.num_samples=None: must be an integer ≥ 2" in lines
    assert "proof.psis=None: must be a non-empty list of ψ in [0, 1]" in lines
    assert len(lines) == 9  # five counts, two fractions, the learning rate, ψ


def test_a_single_psi_instead_of_a_list_is_a_line_not_a_crash():
    """`proof.psis=0.5` on the command line (one ψ, not a list): the check iterates the float and raises
    TypeError, so the run reports 'the config of stage proof cannot be read: TypeError: 'float' object is not
    iterable' instead of the rule that was broken."""
    lines = check_proof(_cfg(proof__psis=0.5))
    assert len(lines) == 1
    assert lines[0].startswith("proof.psis=0.5") and "must be a non-empty list of ψ in [0, 1]" in lines[0]

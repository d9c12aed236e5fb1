"""Rank from the launcher's environment (RANK, then SLURM_PROCID, then LOCAL_RANK); only rank zero logs INFO."""

from __future__ import annotations

import logging
import uuid

import pytest

from sdstylegan.utils.logging import get_logger, global_rank

RANK_VARS = ("RANK", "SLURM_PROCID", "LOCAL_RANK")


@pytest.fixture(autouse=True)
def _no_rank(monkeypatch):
    for key in RANK_VARS:
        monkeypatch.delenv(key, raising=False)


def _name() -> str:
    return f"sdstylegan.test_logging.{uuid.uuid4().hex}"  # a fresh logger each time (loggers are global)


def test_not_distributed_is_rank_zero():
    assert global_rank() == 0


@pytest.mark.parametrize(
    ("env", "rank"),
    [
        ({"RANK": "3"}, 3),
        ({"SLURM_PROCID": "5"}, 5),
        ({"LOCAL_RANK": "1"}, 1),
        ({"RANK": "2", "SLURM_PROCID": "7", "LOCAL_RANK": "0"}, 2),  # the global rank wins
        ({"SLURM_PROCID": "6", "LOCAL_RANK": "0"}, 6),  # a node-local rank only as the last resort
        ({"RANK": "4", "LOCAL_RANK": "0"}, 4),  # first process of the second node: not global zero
    ],
)
def test_rank_precedence(monkeypatch, env, rank):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert global_rank() == rank


def test_unparsable_values_are_skipped(monkeypatch):
    monkeypatch.setenv("RANK", "")
    monkeypatch.setenv("SLURM_PROCID", "4")
    assert global_rank() == 4
    monkeypatch.setenv("SLURM_PROCID", "n/a")
    assert global_rank() == 0


def test_rank_zero_logs_info(caplog):
    log = get_logger(_name())
    assert log.level == logging.NOTSET  # inherits the root's level (Hydra's or the caller's)
    with caplog.at_level(logging.INFO):
        log.info("hello from rank zero")
    assert caplog.messages == ["hello from rank zero"]


def test_other_ranks_keep_warnings_and_errors_only(monkeypatch, caplog):
    monkeypatch.setenv("RANK", "1")
    name = _name()
    log = get_logger(name)
    assert log is logging.getLogger(name) and log.level == logging.WARNING
    with caplog.at_level(logging.DEBUG):
        log.debug("noise")
        log.info("stage done")
        log.warning("disk almost full")
        log.error("stage failed")
    assert caplog.messages == ["disk almost full", "stage failed"]

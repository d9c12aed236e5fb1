"""run_from_config: config shown and saved on rank zero, every stream seeded, failures logged with the run directory."""

from __future__ import annotations

import logging
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.pipeline.preflight import PreflightError, StartupError
from sdstylegan.pipeline.validate import ValidationError
from sdstylegan.utils.seeding import seed_everything

RAN: list[str] = []


def stage_draw(ctx) -> dict:
    """Test stage: one draw from each random stream, as the stage sees them."""
    RAN.append(ctx.name)
    return {"py": random.random(), "np": float(np.random.rand()), "torch": float(torch.rand(1))}


def stage_fail(ctx) -> dict:
    RAN.append(ctx.name)
    raise RuntimeError("boom in the stage")


def check_odd(cfg) -> list[str]:
    return [f"toy.value={cfg.toy.value}: must be even"] if cfg.toy.value % 2 else []


def needs_missing_class(cfg) -> list[str]:
    return ["toy.net"]


def _cfg(run: Path, stages=("draw",), seed: int = 7, **top) -> OmegaConf:
    return OmegaConf.create(
        {
            "seed": seed,
            "paths": {"run_dir": str(run)},
            "toy": {"value": 2, "seed_copy": "${seed}", "net": {"_target_": "no_such_module.Net"}},
            "pipeline": {
                "stages": list(stages),
                "force": [],
                "registry": {
                    "draw": {"fn": f"{__name__}.stage_draw", "config": ["toy.value"]},
                    "fail": {"fn": f"{__name__}.stage_fail", "config": []},
                    "checked": {
                        "fn": f"{__name__}.stage_draw",
                        "config": [],
                        "check": f"{__name__}.check_odd",
                    },
                    "needy": {
                        "fn": f"{__name__}.stage_draw",
                        "config": [],
                        "needs": f"{__name__}.needs_missing_class",
                    },
                },
            },
            **top,
        }
    )


@pytest.fixture(autouse=True)
def _clear(monkeypatch):
    RAN.clear()
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "WORLD_SIZE", "SLURM_NTASKS"):  # one process
        monkeypatch.delenv(key, raising=False)


def _expected_draws(seed: int) -> dict:
    seed_everything(seed)
    return {"py": random.random(), "np": float(np.random.rand()), "torch": float(torch.rand(1))}


def test_every_random_stream_is_seeded_from_cfg_seed_before_the_stages(tmp_path):
    random.seed(12345)  # whatever state the caller left behind does not matter
    np.random.seed(12345)
    torch.manual_seed(12345)
    out = run_from_config(_cfg(tmp_path / "a", seed=7, print_config=False))
    assert out["draw"] == _expected_draws(7)
    other = run_from_config(_cfg(tmp_path / "b", seed=8, print_config=False))["draw"]
    assert all(other[k] != out["draw"][k] for k in out["draw"])


def test_config_tree_printed_and_resolved_config_saved(tmp_path, capsys):
    run = tmp_path / "run"
    run_from_config(_cfg(run, seed=3))
    printed = capsys.readouterr().out
    assert printed.startswith("CONFIG\n") and "seed_copy: 3" in printed  # resolved
    saved = OmegaConf.load(run / "config.yaml")
    assert saved.toy.seed_copy == 3 and saved.seed == 3
    assert (run / "config_tree.txt").read_text().startswith("CONFIG\n")


def test_print_config_false_still_saves_the_config(tmp_path, capsys):
    run = tmp_path / "run"
    run_from_config(_cfg(run, print_config=False))
    assert "CONFIG" not in capsys.readouterr().out
    assert (run / "config.yaml").is_file() and RAN == ["draw"]


def test_other_ranks_neither_print_nor_write_the_config(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    run = tmp_path / "run"
    out = run_from_config(_cfg(run, seed=5))
    assert RAN == ["draw"] and out["draw"] == _expected_draws(5)  # the stages still run, seeded alike
    assert "CONFIG" not in capsys.readouterr().out
    assert not (run / "config.yaml").exists() and not (run / "config_tree.txt").exists()


def test_a_failing_stage_is_logged_with_the_run_directory_and_re_raised(tmp_path, caplog):
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="sdstylegan.pipeline.entry"):
        with pytest.raises(RuntimeError, match="boom in the stage"):
            run_from_config(_cfg(run, stages=("draw", "fail"), print_config=False))
    (rec,) = [
        r for r in caplog.records if r.name == "sdstylegan.pipeline.entry" and r.levelno == logging.ERROR
    ]
    assert rec.getMessage() == f"run failed; run directory: {run}"
    assert rec.exc_info is not None and rec.exc_info[0] is RuntimeError  # with its traceback
    assert "all stages done" not in caplog.text
    assert RAN == ["draw", "fail"]


def test_success_is_logged_with_the_run_directory(tmp_path, caplog):
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="sdstylegan.pipeline.entry"):
        run_from_config(_cfg(run, print_config=False))
    assert f"all stages done; run directory: {run}" in caplog.messages


def test_bad_config_value_is_logged_as_its_message_alone(tmp_path, caplog):
    cfg = _cfg(tmp_path / "run", stages=("checked",), print_config=False)
    cfg.toy.value = 3
    with pytest.raises(ValidationError) as err:
        run_from_config(cfg)
    assert "toy.value=3: must be even (for checked)" in str(err.value)
    (rec,) = [
        r for r in caplog.records if r.name == "sdstylegan.pipeline.entry" and r.levelno == logging.ERROR
    ]
    assert rec.getMessage() == str(err.value) and rec.exc_info is None  # no traceback
    assert RAN == []  # found before any stage ran


def test_missing_network_is_a_startup_error_without_traceback(tmp_path, caplog):
    with pytest.raises(PreflightError) as err:
        run_from_config(_cfg(tmp_path / "run", stages=("needy",), print_config=False))
    assert isinstance(err.value, StartupError) and "toy.net (for needy)" in str(err.value)
    (rec,) = [
        r for r in caplog.records if r.name == "sdstylegan.pipeline.entry" and r.levelno == logging.ERROR
    ]
    assert rec.exc_info is None and RAN == []


def test_outside_hydra_logging_goes_to_stdout_in_the_project_format(tmp_path):
    """A fresh interpreter (no logging handlers yet): run_from_config sets up INFO logging on stdout."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from omegaconf import OmegaConf
        from sdstylegan.pipeline.entry import run_from_config
        cfg = OmegaConf.create({{
            "seed": 0, "print_config": False, "paths": {{"run_dir": {str(tmp_path / "run")!r}}},
            "pipeline": {{"stages": ["draw"], "force": [],
                          "registry": {{"draw": {{"fn": "{__name__}.stage_draw", "config": []}}}}}},
        }})
        run_from_config(cfg)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "all stages done" in x)
    assert line.startswith("[") and line.endswith(
        f"][sdstylegan.pipeline.entry][INFO] - all stages done; run directory: {tmp_path / 'run'}"
    )

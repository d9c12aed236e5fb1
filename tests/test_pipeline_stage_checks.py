"""The SDIP stages' config checks, called directly (the runner's use of them: test_pipeline_validate.py)."""

from __future__ import annotations

import pytest

from sdstylegan.pipeline.stage_checks import check_config, check_crop, check_training, training_problems


def test_each_bad_value_is_one_line_naming_key_and_value(make_cfg):
    cfg = make_cfg(["experiment=demo", "training.batch_size=0", "dataset.resolution=48"])
    lines = check_training(cfg)
    assert any(line.startswith("training.batch_size=0:") for line in lines)
    assert any(line.startswith("dataset.resolution=48:") and "32 or 64" in line for line in lines)
    assert check_training(make_cfg(["experiment=demo"])) == []
    assert check_crop(make_cfg(["experiment=demo", "detector.batch_size=0"])) == [
        "detector.batch_size=0: must be an integer ≥ 1"
    ]


def test_check_config_raises_the_same_lines_training_problems_lists(make_cfg):
    cfg = make_cfg(["experiment=demo", "training.batch_size=-4"])
    lines = training_problems(cfg)
    assert lines
    with pytest.raises(ValueError) as err:
        check_config(cfg)
    assert str(err.value) == "\n".join(lines)


def test_demo_style_values_are_checked_before_any_stage(make_cfg):
    from sdstylegan.pipeline.stage_checks import check_demo_data

    assert check_demo_data(make_cfg(["experiment=demo_proof"])) == []
    lines = check_demo_data(make_cfg(["experiment=demo", "dataset.no_subject=person"]))
    assert len(lines) == 1 and "dataset.no_subject" in lines[0] and "'person'" in lines[0]
    assert "dataset.backdrop" in check_demo_data(make_cfg(["experiment=demo", "dataset.backdrop=2"]))[0]

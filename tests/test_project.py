"""`python -m sdstylegan.project`: a tiny run's photos in, latents/reconstructions/grid out; refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.project import main

sys.path.insert(0, str(Path(__file__).parent))
from conftest import compose_config, tiny_run  # noqa: E402

TINY = [
    *tiny_run(12, 16),
    "metrics.lpips.net=vgg",
    "training.total_kimg=0.004",
    "training.callbacks.samples.num=4",
    "training.callbacks.metrics.every_kimg=null",
    "pipeline.stages=[demo_data,train_raw]",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    cfg = compose_config(TINY, tmp_path_factory.mktemp("proj") / "run")
    run_from_config(cfg)
    return Path(cfg.paths.run_dir)


def photos(folder: Path) -> list[str]:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        p = folder / f"mate{i}.png"
        Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return [*paths, str(folder / "broken.jpg")]


def test_encoder_refined_writes_latents_pictures_and_skips_bad_files(run, tmp_path, capsys):
    files = photos(tmp_path / "in")
    out = tmp_path / "out"
    args = [
        str(run),
        *files,
        "--method",
        "encoder+projector",
        "--space",
        "wplus",
        "--refine-steps",
        "3",
        "--lpips",
        "run",
        "--outdir",
        str(out),
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "broken.jpg: not_image" in captured.err and "lpips_standin" in captured.out
    saved = np.load(out / "projected_w.npz")
    assert saved["w"].shape == (2, 6, 16) and list(saved["names"]) == ["mate0", "mate1"]
    assert str(saved["space"]) == "wplus" and saved["lpips"].shape == (2,)
    assert (out / "mate0.png").is_file() and Image.open(out / "before_after.png").size[0] > 0
    before = (out / "projected_w.npz").read_bytes()
    assert main(args) == 2  # never overwrites without --force
    assert "exists" in capsys.readouterr().err and (out / "projected_w.npz").read_bytes() == before
    # resume the projector from the stored latents
    assert (
        main(
            [
                str(run),
                *files[:2],
                "--space",
                "wplus",
                "--steps",
                "2",
                "--lpips",
                "standin",
                "--resume",
                str(out / "projected_w.npz"),
                "--outdir",
                str(tmp_path / "again"),
            ]
        )
        == 0
    )


def test_refusals(run, tmp_path, capsys):
    assert main([str(run), str(tmp_path / "nothing.png"), "--outdir", str(tmp_path / "o")]) == 2
    assert "none of the images" in capsys.readouterr().err
    files = photos(tmp_path / "in")
    ckpt = run / "train_raw" / "checkpoints" / "last.ckpt"
    assert (
        main(
            [
                str(ckpt),
                files[0],
                "--method",
                "encoder",
                "--lpips",
                "standin",
                "--outdir",
                str(tmp_path / "e"),
            ]
        )
        == 0
    )


def test_generate_renders_stored_latents_as_the_projector_saved_them(run, tmp_path):
    from sdstylegan.generate import main as generate

    files = photos(tmp_path / "in")
    out = tmp_path / "out"
    assert (
        main(
            [
                str(run),
                *files[:2],
                "--method",
                "encoder",
                "--space",
                "w",
                "--lpips",
                "standin",
                "--outdir",
                str(out),
            ]
        )
        == 0
    )
    assert (
        generate(
            [
                str(run / "train_raw" / "checkpoints" / "last.ckpt"),
                "--latents",
                str(out / "projected_w.npz"),
                "--which",
                "G_ema",
                "--truncation",
                "none",
                "--outdir",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    for name in ("mate0", "mate1"):
        np.testing.assert_array_equal(
            np.asarray(Image.open(tmp_path / "r" / f"{name}.png")),
            np.asarray(Image.open(out / f"{name}.png")),
        )
    assert generate([str(run), "--latents", str(out / "projected_w.npz"), "--truncation", "multimodal"]) == 2

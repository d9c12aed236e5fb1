"""artify.content: image files, a run directory's generator (one image per seed), and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sdstylegan.artify.content import ContentError, load_contents
from sdstylegan.artify.procedural import artwork
from sdstylegan.generate import generate
from sdstylegan.models.generator import Generator

TINY_G = {
    "z_dim": 16,
    "w_dim": 16,
    "img_resolution": 32,
    "mapping_layers": 2,
    "channel_base": 256,
    "channel_max": 16,
}


def tiny_run(root: Path) -> tuple[Path, Generator]:
    """A run directory holding an unfinished `train` stage's last.ckpt of a tiny (untrained) generator."""
    torch.manual_seed(0)
    G = Generator(**TINY_G).eval()
    ckpt = root / "train" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    state = {f"G_ema.{k}": v for k, v in G.state_dict().items()}
    model = {"generator": {"_target_": "sdstylegan.models.generator.Generator", **TINY_G}}
    torch.save({"state_dict": state, "sdstylegan": {"model": model}}, ckpt)
    return root, G


def test_image_files_of_any_size_come_back_square(tmp_path):
    artwork(1, (50, 30)).save(tmp_path / "wide.png")
    artwork(2, (20, 40)).save(tmp_path / "tall.jpg")
    out = load_contents([str(tmp_path / "wide.png"), str(tmp_path / "tall.jpg")], 24, seeds=[0])
    assert [c.name for c in out] == ["wide", "tall"]
    assert all(c.image.shape == (1, 3, 24, 24) and c.image.abs().max() <= 1 for c in out)
    assert out[0].source == str(tmp_path / "wide.png")


def test_run_directory_gives_the_generators_samples(tmp_path):
    run, G = tiny_run(tmp_path / "myrun")
    out = load_contents([str(run)], 32, seeds=[3, 5], psi=0.7)
    assert [c.name for c in out] == ["myrun_seed0003", "myrun_seed0005"]
    want = generate(G, [3, 5], psi=0.7, truncation="mean")
    assert torch.allclose(torch.cat([c.image for c in out]), want, atol=1e-5)
    resized = load_contents([str(run / "train" / "checkpoints" / "last.ckpt")], 16, seeds=[3])
    assert resized[0].image.shape == (1, 3, 16, 16)


def test_unusable_content_is_refused_with_the_reason(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ContentError, match="no such file"):
        load_contents([str(tmp_path / "absent.png")], 32, [0])
    with pytest.raises(ContentError, match="notes.txt: not_image.*not an image file nor a checkpoint"):
        load_contents([str(tmp_path / "notes.txt")], 32, [0])
    with pytest.raises(ContentError, match="cut.png"):
        load_contents([str(tmp_path / "cut.png")], 32, [0])
    with pytest.raises(ContentError, match="not a run directory"):
        load_contents([str(tmp_path / "folder")], 32, [0])
    with pytest.raises(ContentError, match="no content"):
        load_contents([], 32, [0])
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ContentError, match="bad.ckpt"):
        load_contents([str(tmp_path / "bad.ckpt")], 32, [0])

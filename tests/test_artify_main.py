"""`python -m sdstylegan.artify`: index a tiny collection, transfer files and a run's samples, refuse bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sdstylegan.artify.__main__ import main
from sdstylegan.artify.procedural import artwork, write_collection

sys.path.insert(0, str(Path(__file__).parent))
from test_artify_content import tiny_run  # noqa: E402

SMALL = [
    "--config",
    "standin",
    "--quiet",
    "artify.vgg.width=0.125",
    "artify.index.resolution=64",
    "artify.index.shard_size=4",
    "artify.transfer.resolution=32",
    "artify.transfer.iterations=3",
    "artify.search.shortlist=4",
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    write_collection(root / "art", 9, side=48)
    (root / "art" / "readme.txt").write_text("not art")
    assert (
        main(
            [
                "index",
                "--collection",
                str(root / "art"),
                "--out",
                str(root / "idx"),
                "--max-images",
                "5",
                *SMALL,
            ]
        )
        == 0
    )
    return root


def test_index_resumes_and_reports(indexed, capsys):
    root = indexed
    assert json.loads((root / "idx" / "index.json").read_text())["complete"] is False
    assert main(["index", "--collection", str(root / "art"), "--out", str(root / "idx"), *SMALL]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == {"indexed": 9, "skipped": {"not_image": 1}, "shards": 4, "complete": True}
    assert (root / "idx" / "ann.faiss").is_file()


def test_transfer_of_files_and_a_run(indexed, tmp_path, capsys):
    root = indexed
    main(["index", "--collection", str(root / "art"), "--out", str(root / "idx"), *SMALL])
    artwork(77, (40, 56)).save(tmp_path / "photo.png")
    run, _ = tiny_run(tmp_path / "gourds")
    args = [
        "transfer",
        str(tmp_path / "photo.png"),
        str(run),
        "--index",
        str(root / "idx"),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main([*args, "--seeds", "1-2", *SMALL]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["gourds_seed0001", "gourds_seed0002", "photo"]
    for name in names:
        files = sorted(p.name for p in (tmp_path / "out" / name).iterdir())
        assert files == ["result_standin.png", "top5_standin.json", "triptych_standin.png"]
    top = json.loads((tmp_path / "out" / "photo" / "top5_standin.json").read_text())
    scores = [s["score"] for s in top["styles"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert top["losses"][-1]["step"] == 3 and top["search"].startswith("two-stage")
    assert "photo:" in capsys.readouterr().out
    # the exact brute force agrees on the best style here (the short list holds 4 of 9)
    assert (
        main(
            [
                *args[:2],
                "--index",
                str(root / "idx"),
                "--out",
                str(tmp_path / "exact"),
                *SMALL,
                "artify.search.exact=true",
            ]
        )
        == 0
    )
    exact = json.loads((tmp_path / "exact" / "photo" / "top5_standin.json").read_text())
    assert exact["styles"][0]["score"] >= top["styles"][0]["score"] - 1e-4


def test_bad_inputs_give_clear_errors(indexed, tmp_path, capsys):
    root = indexed
    (tmp_path / "x.txt").write_text("no")
    cases = [
        (["transfer", str(tmp_path / "x.txt"), "--index", str(root / "idx")], "not_image"),
        (["transfer", str(tmp_path / "none.png"), "--index", str(root / "idx")], "no such file"),
        (["transfer", str(root / "art" / "art_000000.jpg"), "--index", str(tmp_path)], "not an artify index"),
        (["index", "--collection", str(tmp_path / "absent"), "--out", str(tmp_path / "i")], "no such folder"),
    ]
    for argv, message in cases:
        assert main([*argv, *SMALL]) == 2
        assert message in capsys.readouterr().err
    other_vgg = [*SMALL, "artify.vgg.width=0.25"]
    assert (
        main(["transfer", str(root / "art" / "art_000000.jpg"), "--index", str(root / "idx"), *other_vgg])
        == 2
    )
    assert "was built with VGG" in capsys.readouterr().err
    assert main(["index", "--collection", str(root / "art"), "--out", str(root / "idx"), *other_vgg]) == 2
    assert "other features" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["transfer", "a.png", "--index", "i", "--bogus"])

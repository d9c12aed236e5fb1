"""artify.outputs: triptych content | style | result, the result alone, top-5 JSON; `_standin` in the names."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from sdstylegan.artify.outputs import save_outputs


def test_files_panels_and_labels(tmp_path):
    content = torch.full((1, 3, 16, 16), -1.0)
    style = torch.full((1, 3, 40, 24), 1.0)  # another size: fitted to the result's
    result = torch.zeros(1, 3, 16, 16)
    report = {"styles": [{"key": "a.jpg", "score": 3.5}]}
    files = save_outputs(tmp_path / "x", content, style, result, report, standin=True)
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "result_standin.png",
        "top5_standin.json",
        "triptych_standin.png",
    ]
    tri = np.asarray(Image.open(files["triptych"]))
    assert tri.shape == (16, 48, 3)
    assert (tri[:, :16] == 0).all() and (tri[:, 16:32] == 255).all() and (tri[:, 32:] == 128).all()
    assert np.asarray(Image.open(files["result"])).shape == (16, 16, 3)
    saved = json.loads((tmp_path / "x" / "top5_standin.json").read_text())
    assert saved["styles"] == report["styles"] and saved["standin"] is True
    real = save_outputs(tmp_path / "y", content, style, result, report, standin=False)
    assert real["triptych"].endswith("/triptych.png") and not list(tmp_path.glob("y/.*.tmp"))

"""What the transfer leaves per content image: triptych, result alone, top-5 styles with scores (JSON).

    <out>/<name>/triptych.png   content | retrieved style | result, side by side
    <out>/<name>/result.png     the result alone
    <out>/<name>/top5.json      the retrieved styles (key, file, patch-match score), the loss history, timings
With a stand-in VGG every file name carries `_standin` (`triptych_standin.png`, …). All writes are atomic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from sdstylegan.utils.io import write_json
from sdstylegan.utils.pictures import image_grid, save_png
from sdstylegan.utils.weights import STANDIN_SUFFIX


def fit(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, 3, h, w) resized to `size` (antialiased bicubic) for side-by-side pictures."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image.float(), size=size, mode="bicubic", antialias=True).clamp(-1, 1)


def save_outputs(
    folder: str | Path,
    content: torch.Tensor,
    style: torch.Tensor,
    result: torch.Tensor,
    report: dict[str, Any],
    standin: bool,
) -> dict[str, str]:
    """Write the three files of one content image; returns their paths."""
    folder, sfx = Path(folder), STANDIN_SUFFIX if standin else ""
    size = tuple(result.shape[-2:])
    paths = {
        "triptych": folder / f"triptych{sfx}.png",
        "result": folder / f"result{sfx}.png",
        "top5": folder / f"top5{sfx}.json",
    }
    panels = torch.cat([fit(content, size), fit(style, size), result.float()])
    save_png(image_grid(panels, cols=3), paths["triptych"])
    save_png(image_grid(result, cols=1), paths["result"])
    write_json(paths["top5"], {**report, "standin": bool(standin)})
    return {k: str(v) for k, v in paths.items()}

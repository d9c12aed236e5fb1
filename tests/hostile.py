"""Hostile config nodes (code execution through `_target_`) and a file-system snapshot to prove nothing happened.

Each payload, if Hydra's `instantiate` ran it, would create, truncate or delete something under `root`:
the tests assert `snapshot(root)` is the same before and after.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

GEN = {
    "_target_": "sdstylegan.models.generator.Generator",
    "z_dim": 8,
    "w_dim": 8,
    "img_resolution": 8,
    "channel_base": 64,
    "channel_max": 8,
    "mapping_layers": 1,
}
PAYLOADS = [
    "open_truncate",
    "open_create",
    "os_system",
    "subprocess_popen",
    "shutil_rmtree",
    "project_non_constructor",
    "nested_target",
    "hydra_args",
    "hydra_partial",
]


def victims(root: Path) -> tuple[Path, Path]:
    """An existing file with content and an existing folder with a file: what the payloads aim at."""
    keep = root / "victim.txt"
    keep.write_text("user data\n")
    folder = root / "victim_dir"
    folder.mkdir(exist_ok=True)
    (folder / "inside.txt").write_text("more user data\n")
    return keep, folder


def payloads(root: Path) -> dict[str, dict[str, Any]]:
    """name → a `_target_` node that would touch the file system under `root` if it were called."""
    keep, folder = victims(root)
    created = str(root / "created_by_payload")
    nodes = {
        "open_truncate": {"_target_": "builtins.open", "_args_": [str(keep), "w"]},
        "open_create": {"_target_": "builtins.open", "_args_": [created, "w"]},
        "os_system": {"_target_": "os.system", "_args_": [f"touch {created}"]},
        "subprocess_popen": {"_target_": "subprocess.Popen", "_args_": [["touch", created]]},
        "shutil_rmtree": {"_target_": "shutil.rmtree", "_args_": [str(folder)]},
        "project_non_constructor": {
            "_target_": "sdstylegan.utils.io.atomic_open",
            "_args_": [str(keep), "w"],
        },
        # an allowed constructor smuggling a call in a nested node or in Hydra's own keys
        "nested_target": {**GEN, "resample_filter": {"_target_": "builtins.open", "_args_": [created, "w"]}},
        "hydra_args": {**GEN, "_args_": [{"_target_": "os.system", "_args_": [f"touch {created}"]}]},
        "hydra_partial": {"_target_": "builtins.open", "_partial_": True, "file": created, "mode": "w"},
    }
    assert list(nodes) == PAYLOADS
    return nodes


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under `root` with its kind, size, content hash and mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            out[str(p.relative_to(root))] = (
                p.is_dir(),
                st.st_size if p.is_file() else 0,
                digest,
                st.st_mtime_ns,
            )
    return out

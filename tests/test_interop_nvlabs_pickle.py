"""Reading NVlabs pickles as data: the stored module source is never executed, other globals are refused."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.interop.nvlabs_pickle import (
    PersistentStub,
    UnsafePickleError,
    read_nvlabs_pickle,
    stub_state_dict,
)

sys.path.insert(0, str(Path(__file__).parent))
from nvlabs_fake import Persistent, tree, write_snapshot  # noqa: E402


def small_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "mapping.fc0.weight": torch.randn(4, 4, generator=g),
        "mapping.w_avg": torch.randn(4, generator=g),
        "synthesis.b4.const": torch.randn(2, 4, 4, generator=g),
    }


def test_module_source_is_never_executed(tmp_path):
    victim = tmp_path / "written_by_module_src"
    src = f"open({str(victim)!r}, 'w').write('pwned')\nimport os\nos.system('touch {victim}_2')\n"
    path = tmp_path / "snap.pkl"
    write_snapshot(path, {"G_ema": tree(small_state(), "Generator", {"z_dim": 4}, src)})
    data = read_nvlabs_pickle(path)
    stub = data["G_ema"]
    assert isinstance(stub, PersistentStub) and stub.class_name == "Generator"
    assert stub.module_src_chars == len(src) and stub.init_kwargs == {"z_dim": 4}
    assert data["training_set_kwargs"] == {"path": "dogs.zip", "resolution": 32}
    assert not victim.exists() and not Path(f"{victim}_2").exists()
    state = stub_state_dict(stub)
    assert set(state) == set(small_state())
    for k, v in small_state().items():
        assert torch.equal(state[k], v) and type(state[k]) is torch.Tensor  # parameters come back as tensors


class _RunsCommand:
    def __init__(self, cmd: str):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


@pytest.mark.parametrize("protocol", [2, 4])
def test_payload_calling_os_system_is_refused(tmp_path, protocol):
    victim = tmp_path / "created_by_payload"
    net = tree(small_state(), "Generator", {"z_dim": 4}, "")
    net.state["evil"] = _RunsCommand(f"touch {victim}")
    path = tmp_path / "evil.pkl"
    write_snapshot(path, {"G_ema": net}, protocol=protocol)
    with pytest.raises(UnsafePickleError, match=r"os\.system|posix\.system") as err:
        read_nvlabs_pickle(path)
    assert "nothing was executed" in str(err.value)
    assert not victim.exists()


def test_plain_hostile_pickles_are_refused(tmp_path):
    for i, obj in enumerate([_RunsCommand("true"), {"G": eval}, {"G": pickle.loads}]):
        path = tmp_path / f"p{i}.pkl"
        path.write_bytes(pickle.dumps(obj))
        with pytest.raises(UnsafePickleError, match="refused"):
            read_nvlabs_pickle(path)


def test_broken_and_foreign_files_give_clear_errors(tmp_path):
    path = tmp_path / "snap.pkl"
    write_snapshot(path, {"G_ema": tree(small_state(), "Generator", {}, "")})
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable NVlabs network pickle"):
        read_nvlabs_pickle(cut)
    other = tmp_path / "list.pkl"
    other.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="not an NVlabs network snapshot"):
        read_nvlabs_pickle(other)
    ckpt = tmp_path / "model.pkl"
    torch.save({"a": torch.zeros(1)}, ckpt)  # a torch zip file, not a pickle stream
    with pytest.raises(ValueError):
        read_nvlabs_pickle(ckpt)
    with pytest.raises(FileNotFoundError):
        read_nvlabs_pickle(tmp_path / "absent.pkl")


def test_non_persistent_child_is_refused(tmp_path):
    net = tree(small_state(), "Generator", {}, "")
    net.state["_modules"]["odd"] = {"not": "a network"}
    path = tmp_path / "snap.pkl"
    write_snapshot(path, {"G_ema": net})
    with pytest.raises(ValueError, match="odd"):
        stub_state_dict(read_nvlabs_pickle(path)["G_ema"])


def test_fake_writer_matches_persistence_layout():
    p = Persistent("Generator", "src")
    fn, (meta,) = p.__reduce__()
    assert fn.__name__ == "_reconstruct_persistent_obj" and set(meta) == {
        "type",
        "version",
        "module_src",
        "class_name",
        "state",
    }

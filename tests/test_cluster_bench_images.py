"""cluster_bench.images: labelled folders, manifests with demo ground truth, label CSVs, set fingerprints."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from sdstylegan.cluster_bench.images import ImageDataset, from_folder, from_manifest
from sdstylegan.cluster_bench.labels import LabelFileError
from sdstylegan.data.manifest import ManifestRecord, write_manifest

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import class_folder, write_image  # noqa: E402


def test_labelled_folder_is_read_correctly(tmp_path):
    root = class_folder(tmp_path / "imgs", per_class=2)
    (root / "notes.txt").write_text("not an image")
    s = from_folder(root)
    assert s.keys == [
        "blue/00.png",
        "blue/01.png",
        "green/00.png",
        "green/01.png",
        "red/00.png",
        "red/01.png",
    ]
    assert s.class_names == ["blue", "green", "red"]
    assert s.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert s.labelled and s.num_classes == 3 and len(s) == 6
    assert not from_folder(root, labels=None).labelled


def test_flat_folder_has_no_labels_and_a_csv_labels_it_by_file_name(tmp_path):
    for i, rgb in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        write_image(tmp_path / "imgs" / f"{i}.png", rgb, seed=i)
    s = from_folder(tmp_path / "imgs")
    assert not s.labelled and (s.labels == -1).all()
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\n0.png,warm\n2.png,cold\n")
    s = from_folder(tmp_path / "imgs", csv)
    assert s.class_names == ["cold", "warm"] and s.labels.tolist() == [1, -1, 0]
    csv.write_text("file,label\nother.png,warm\n")
    with pytest.raises(LabelFileError, match="none of its 1 keys matches"):
        from_folder(tmp_path / "imgs", csv)
    with pytest.raises(FileNotFoundError):
        from_folder(tmp_path / "missing")


def test_manifest_with_demo_ground_truth(tmp_path):
    paths = [
        write_image(tmp_path / "run" / "images" / f"{i}.png", (40 * i, 50, 60), seed=i) for i in range(4)
    ]
    recs = [ManifestRecord(id=f"id{i}", source="demo", orig_path=f"images/{i}.png") for i in range(4)]
    recs[3].kept = False  # dropped by the self-filter: not in the set
    write_manifest(tmp_path / "run" / "manifest.jsonl", recs)
    gt = tmp_path / "run" / "ground_truth.jsonl"
    gt.write_text("\n".join(json.dumps({"id": f"id{i}", "mode": m}) for i, m in enumerate([3, None, 1, 3])))
    s = from_manifest(tmp_path / "run" / "manifest.jsonl", gt)
    assert s.keys == ["id0", "id1", "id2"] and s.paths == paths[:3]
    assert s.class_names == ["1", "3"] and s.labels.tolist() == [1, -1, 0]  # the outlier without a mode: -1


def test_fingerprint_follows_content_membership_and_order(tmp_path):
    root = class_folder(tmp_path / "imgs", per_class=2)
    fp = from_folder(root).fingerprint()
    assert from_folder(root).fingerprint() == fp
    target = root / "red" / "00.png"
    st = target.stat()
    write_image(target, (0, 0, 0), seed=9)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    fp2 = from_folder(root).fingerprint()
    assert fp2 != fp
    write_image(root / "red" / "02.png", (200, 0, 0), seed=3)
    assert from_folder(root).fingerprint() != fp2
    s = from_folder(root)
    assert s.subset(3).fingerprint() != s.fingerprint() and len(s.subset(3)) == 3 and s.subset(None) is s


def test_dataset_gives_uint8_squares(tmp_path):
    p = write_image(tmp_path / "a.png", (10, 20, 30), seed=0, size=20)
    x = ImageDataset([p], 8)[0]
    assert x.dtype.is_floating_point is False and tuple(x.shape) == (3, 8, 8)
    assert np.allclose(x.float().mean(dim=(1, 2)).numpy(), [10, 20, 30], atol=8)

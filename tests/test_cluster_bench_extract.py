"""cluster_bench.extract: features in order, cached; the cache is invalidated by new weights or images."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from sdstylegan.cluster_bench.cache import FeatureCache
from sdstylegan.cluster_bench.encoders import PixelEncoder
from sdstylegan.cluster_bench.extract import encode, extract
from sdstylegan.cluster_bench.images import from_folder
from sdstylegan.metrics.extractors import StandinExtractor

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import class_folder, write_image  # noqa: E402


def test_features_in_order_and_batch_independent(tmp_path):
    s = from_folder(class_folder(tmp_path / "imgs", per_class=3))
    a = encode(PixelEncoder(4), s, 16, batch_size=2, progress=False)
    b = encode(PixelEncoder(4), s, 16, batch_size=9, progress=False)
    assert a.shape == (9, 48) and np.allclose(a, b, atol=1e-6)
    assert a[s.labels == 2][:, 0].mean() > 0.7  # red images: high red channel (class 2 = red)


def test_cache_hit_and_invalidation_by_weights_and_images(tmp_path):
    root = class_folder(tmp_path / "imgs", per_class=2)
    cache = FeatureCache(tmp_path / "cache")
    enc = StandinExtractor(num_features=8, input_size=8, seed=0)
    first = extract(enc, from_folder(root), 16, cache, progress=False)
    assert not first.cached and first.images_per_second > 0
    again = extract(enc, from_folder(root), 16, cache, progress=False)
    assert again.cached and again.seconds == 0 and np.array_equal(again.features, first.features)

    reweighted = StandinExtractor(
        num_features=8, input_size=8, seed=1
    )  # same network and name, other weights
    assert reweighted.label == enc.label
    new = extract(reweighted, from_folder(root), 16, cache, progress=False)
    assert not new.cached and not np.allclose(new.features, first.features)

    target = root / "blue" / "00.png"
    mtime = target.stat().st_mtime_ns
    write_image(target, (255, 255, 0), seed=5)
    os.utime(target, ns=(mtime, mtime + 1_000_000))
    changed = extract(enc, from_folder(root), 16, cache, progress=False)
    assert not changed.cached and not np.allclose(changed.features[0], first.features[0])
    assert np.allclose(changed.features[1:], first.features[1:], atol=1e-6)
    assert extract(enc, from_folder(root), 16, cache, progress=False).cached
    assert not extract(enc, from_folder(root), 12, cache, progress=False).cached  # another resolution
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 4

"""cluster_bench.cache: keys follow encoder identity, image set and resolution; bad files are recomputed."""

from __future__ import annotations

import numpy as np

from sdstylegan.cluster_bench.cache import FeatureCache, cache_key


def test_key_changes_with_each_part():
    k = cache_key("enc(sha=1)", "imgs", 64)
    assert k == cache_key("enc(sha=1)", "imgs", 64)
    assert (
        len(
            {
                k,
                cache_key("enc(sha=2)", "imgs", 64),
                cache_key("enc(sha=1)", "imgs2", 64),
                cache_key("enc(sha=1)", "imgs", 32),
            }
        )
        == 4
    )


def test_round_trip_and_refusals(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    f = np.arange(12, dtype=np.float32).reshape(4, 3)
    key = cache_key("enc", "imgs", 8)
    assert cache.load("enc", key, 4) is None
    path = cache.save("enc", key, f, "enc")
    assert path.name.startswith("enc-") and path.suffix == ".npz"
    assert np.array_equal(cache.load("enc", key, 4), f)
    assert cache.load("enc", key, 5) is None  # another image count
    other = cache_key("enc", "imgs", 16)
    path.rename(cache.path("enc", other))  # a file under another key's name is not trusted
    assert cache.load("enc", other, 4) is None
    cache.path("enc", key).write_bytes(b"torn")
    assert cache.load("enc", key, 4) is None

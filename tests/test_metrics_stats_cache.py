"""Real-statistics cache: exact-key reuse only; another extractor or resolution is never reused."""

import logging

import torch

from sdstylegan.metrics.features import stats_from_features
from sdstylegan.metrics.stats_cache import cache_key, cache_path, load_stats, save_stats


def _stats(seed=0):
    return stats_from_features(torch.randn(20, 4, generator=torch.Generator().manual_seed(seed)))


def test_round_trip(tmp_path):
    key = cache_key("demo-abc", 64, "standin_cnn(sha=1)", 1000)
    path = cache_path(tmp_path, key, "standin_cnn_standin")
    assert path.name.startswith("demo-abc_64px_standin_cnn_standin_") and path.suffix == ".pt"
    s = _stats()
    save_stats(path, key, s)
    back = load_stats(path, key)
    assert back is not None and back.count == 20
    assert (
        torch.equal(back.mu, s.mu)
        and torch.equal(back.sigma, s.sigma)
        and torch.equal(back.features, s.features)
    )


def test_other_extractor_or_resolution_gets_another_file_and_is_not_reused(tmp_path, caplog):
    base = cache_key("demo", 64, "inception(sha=aaa)", None)
    other_ext = cache_key("demo", 64, "inception(sha=bbb)", None)
    other_res = cache_key("demo", 128, "inception(sha=aaa)", None)
    paths = {cache_path(tmp_path, k, "inception") for k in (base, other_ext, other_res)}
    assert len(paths) == 3
    p = cache_path(tmp_path, base, "inception")
    save_stats(p, base, _stats())
    # even when forced to read the same file, a different key is refused
    with caplog.at_level(logging.WARNING):
        assert load_stats(p, other_ext) is None
        assert load_stats(p, other_res) is None
    assert "recomputing" in caplog.text
    assert load_stats(p, base) is not None


def test_missing_and_corrupt_files_mean_recompute(tmp_path):
    key = cache_key("demo", 32, "x", 10)
    assert load_stats(tmp_path / "nope.pt", key) is None
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    assert load_stats(bad, key) is None

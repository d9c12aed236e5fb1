"""generator_metrics end to end with stand-in extractors: names, sensitivity, cache, DDP, bad input."""

import time

import pytest
import torch
import torch.multiprocessing as mp
from omegaconf import OmegaConf

from sdstylegan.metrics.evaluate import MetricSuite, count_tag, generator_metrics, rank_share
from sdstylegan.metrics.images import ImageFormatError

OVERRIDES = [
    "metrics=standin",
    "metrics.num_samples=200",
    "metrics.batch_size=50",
    "metrics.kid.subsets=5",
    "metrics.kid.subset_size=50",
]


def squares(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """A toy 'dataset': a bright square of random colour and place on a dark background (uint8)."""
    g = torch.Generator().manual_seed(seed)
    img = torch.full((n, 3, size, size), 30, dtype=torch.uint8)
    colour = torch.randint(120, 256, (n, 3), generator=g, dtype=torch.uint8)
    pos = torch.randint(0, size // 2, (n, 2), generator=g)
    for i in range(n):
        y, x = pos[i].tolist()
        img[i, :, y : y + size // 2, x : x + size // 2] = colour[i].view(3, 1, 1)
    return img


def sampler(pool: torch.Tensor):
    """sample_fn drawing float [-1, 1] images from `pool` in order."""
    state = {"i": 0}

    def sample_fn(n: int) -> torch.Tensor:
        out = pool[state["i"] : state["i"] + n].float() / 127.5 - 1
        state["i"] += n
        return out

    return sample_fn


class CountingLoader:
    """Real batches; counts how often it is iterated (0 = the cache was used)."""

    def __init__(self, images: torch.Tensor, batch: int = 40):
        self.batches, self.iterations = list(images.split(batch)), 0

    def __iter__(self):
        self.iterations += 1
        return iter(self.batches)


@pytest.fixture
def cfg(make_cfg, tmp_path):
    return make_cfg(OVERRIDES + [f"paths.cache_dir={tmp_path / 'cache'}"]).metrics


def test_names_carry_count_and_standin_and_scores_follow_the_data(cfg):
    real = squares(240, seed=0)
    same = generator_metrics(sampler(squares(200, seed=1)), CountingLoader(real), cfg)
    assert set(same) == {
        "val/fid200_standin",
        "val/kid200_standin",
        "val/kid200_std_standin",
        "val/precision_standin",
        "val/recall_standin",
    }
    noise = torch.randint(0, 256, (200, 3, 32, 32), dtype=torch.uint8)
    other = generator_metrics(sampler(noise), CountingLoader(real), cfg)
    assert other["val/fid200_standin"] > 10 * same["val/fid200_standin"]
    assert other["val/kid200_standin"] > 10 * abs(same["val/kid200_standin"])
    assert same["val/precision_standin"] > 0.5 > other["val/precision_standin"]
    assert same["val/recall_standin"] > 0.5 > other["val/recall_standin"]


def test_count_tag_and_rank_shares():
    assert [count_tag(n) for n in (10000, 50000, 500, 1500)] == ["10k", "50k", "500", "1500"]
    assert [rank_share(10, r, 4) for r in range(4)] == [3, 3, 2, 2]


def test_real_statistics_are_cached_and_only_reused_for_the_same_extractor_and_resolution(
    cfg, make_cfg, tmp_path
):
    real, fakes = squares(120, seed=0), squares(200, seed=1)
    loader = CountingLoader(real)
    first = generator_metrics(sampler(fakes), loader, cfg, cache_key="toy")
    files = sorted((tmp_path / "cache" / "metric_stats").glob("*.pt"))
    assert loader.iterations == 1 and len(files) == 1 and "_32px_standin_cnn_standin_" in files[0].name
    again = generator_metrics(sampler(fakes), loader, cfg, cache_key="toy")
    assert loader.iterations == 1 and again == first  # served from the cache
    # another extractor (stand-in seed) → another identity → recomputed, in its own file
    other_ext = make_cfg(
        OVERRIDES + [f"paths.cache_dir={tmp_path / 'cache'}", "metrics.inception.seed=7"]
    ).metrics
    generator_metrics(sampler(fakes), loader, other_ext, cache_key="toy")
    assert loader.iterations == 2 and len(list((tmp_path / "cache" / "metric_stats").glob("*.pt"))) == 2
    # another resolution → recomputed
    small = CountingLoader(squares(120, seed=0, size=16))
    generator_metrics(sampler(squares(200, seed=1, size=16)), small, cfg, cache_key="toy")
    assert small.iterations == 1 and len(list((tmp_path / "cache" / "metric_stats").glob("*.pt"))) == 3
    # no cache key → no cache
    generator_metrics(sampler(fakes), loader, cfg)
    assert loader.iterations == 3


def test_uint8_and_float_inputs_agree_and_real_max_caps(cfg):
    real, fakes = squares(160, seed=0), squares(200, seed=1)
    a = generator_metrics(sampler(fakes), CountingLoader(real), cfg)
    batches = iter(fakes.split(50))  # uint8 generated images, real images as float [-1, 1]
    b = generator_metrics(lambda n: next(batches), CountingLoader(real.float() / 127.5 - 1), cfg)
    assert a == pytest.approx(b, rel=1e-9)
    suite = MetricSuite(OmegaConf.merge(cfg, {"real_max": 70}))
    stats = suite.real_stats(CountingLoader(real), 32, None)
    assert stats["inception"].count == 70


def test_bad_input_is_a_clear_error(cfg):
    real = CountingLoader(squares(100, seed=0))
    with pytest.raises(ImageFormatError, match="generated images"):
        generator_metrics(lambda n: torch.full((n, 3, 32, 32), 255.0), real, cfg)
    with pytest.raises(ValueError, match="returned"):
        generator_metrics(lambda n: torch.zeros(2, 3, 32, 32), real, cfg)
    with pytest.raises(ValueError, match="16²"):
        generator_metrics(sampler(squares(200, seed=1, size=16)), real, cfg)
    with pytest.raises(ValueError, match="compute"):
        MetricSuite(OmegaConf.merge(cfg, {"compute": ["fid", "is"]}))


def _ddp_worker(rank: int, world: int, init: str, cfg_dict: dict, cache_dirs: list, out: dict) -> None:
    torch.distributed.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        cfg = OmegaConf.create({**cfg_dict, "cache_dir": cache_dirs[rank]})
        fakes = squares(200, seed=1)
        start = sum(rank_share(200, r, world) for r in range(rank))
        real_batches = list(squares(120, seed=0).split(40))
        mine = real_batches[:2] if rank == 0 else real_batches[2:]  # contiguous shards keep row order
        out[rank] = generator_metrics(sampler(fakes[start:]), mine, cfg, cache_key="toy")
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow  # two spawned processes: ~15 s of CPU
def test_ddp_ranks_share_the_work_and_agree_with_one_process(cfg, tmp_path):
    """Two gloo processes: each generates and reads half; statistics are combined across ranks.

    Rank 0 finds a real-statistics cache that rank 1 (another node's disk) does not: both must
    recompute together instead of one waiting forever in the synchronisation.
    """
    warm, cold = str(tmp_path / "cache0"), str(tmp_path / "cache1")
    single = generator_metrics(
        sampler(squares(200, seed=1)),
        list(squares(120, seed=0).split(40)),
        OmegaConf.merge(cfg, {"cache_dir": warm}),
        cache_key="toy",
    )
    out = mp.Manager().dict()
    cfg_dict = OmegaConf.to_container(cfg, resolve=True)
    procs = mp.spawn(
        _ddp_worker,
        args=(2, f"file://{tmp_path / 'store'}", cfg_dict, [warm, cold], out),
        nprocs=2,
        join=False,
    )
    deadline = time.time() + 180
    while not procs.join(timeout=2):
        if time.time() > deadline:
            for p in procs.processes:
                p.kill()
            pytest.fail("DDP workers hung (a rank waited in a collective the other never joined)")
    assert out[0] == out[1]
    assert out[0] == pytest.approx(single, rel=1e-6, abs=1e-9)

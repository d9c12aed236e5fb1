"""Generator metrics: FID, KID, precision/recall and FD-DINO of samples against a real image set.

Contract (training callback, evaluate stage):
    generator_metrics(sample_fn, real_loader, cfg_metrics, num_samples=None, cache_key=None,
                      device=None) -> dict[str, float]
- `sample_fn(n)` returns n generated images, float in [-1, 1] (or uint8), NCHW, n ≤ `batch_size`;
  it owns its randomness (seed it, and offset the seed by rank under DDP).
- `real_loader` yields real batches: uint8 NCHW or float [-1, 1] (or a tuple whose first item is).
  Under DDP it should yield this rank's share (Lightning's DistributedSampler does).
- Keys: `<prefix>fid10k`, `<prefix>kid10k` (+ `_std`), `<prefix>precision`, `<prefix>recall`,
  `<prefix>fd_dino10k` — the sample count in the name; `_standin` appended to every key computed
  with a random stand-in extractor. Which metrics: `cfg_metrics.compute`.
- `cache_key` names the real set (e.g. a manifest hash): its statistics are cached per resolution
  and extractor identity (`stats_cache`); None = no cache.
- Under DDP each rank generates its share of `num_samples`; the feature statistics are combined by
  torchmetrics' synchronisation (`FeatureAccumulator`), so every rank returns the same numbers.
Generated images are quantised to uint8 like saved PNGs before feature extraction (StyleGAN2-ADA).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from sdstylegan.metrics.extractors import FeatureExtractor
from sdstylegan.metrics.features import FeatureAccumulator, FeatureStats
from sdstylegan.metrics.frechet import frechet_distance, regularisation_for
from sdstylegan.metrics.images import to_uint8
from sdstylegan.metrics.kid import kernel_inception_distance
from sdstylegan.metrics.precision_recall import precision_recall
from sdstylegan.metrics.stats_cache import cache_key as make_cache_key
from sdstylegan.metrics.stats_cache import cache_path, load_stats, save_stats
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

KNOWN_METRICS = ("fid", "kid", "pr", "fd_dino")
SampleFn = Callable[[int], torch.Tensor]


def count_tag(n: int) -> str:
    """10000 → '10k', 50000 → '50k', 500 → '500' (the StyleGAN convention in metric names)."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _dist() -> tuple[int, int]:
    """(rank, world size) of the default process group, (0, 1) when not distributed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def rank_share(total: int, rank: int, world: int) -> int:
    """How many of `total` items rank `rank` handles (shares differ by at most one, sum to total)."""
    return total // world + (1 if rank < total % world else 0)


@dataclass
class MetricReport:
    """Metric values plus what they were computed with (for the JSON report)."""

    values: dict[str, float]
    num_samples: int
    num_real: dict[str, int] = field(default_factory=dict)
    extractors: dict[str, str] = field(default_factory=dict)  # label → identity
    seconds: float = 0.0


def _first_tensor(batch: Any) -> torch.Tensor:
    if isinstance(batch, (tuple, list)) and batch:
        batch = batch[0]
    if isinstance(batch, dict) and "image" in batch:
        batch = batch["image"]
    return batch


def metric_spaces(cfg_metrics: DictConfig) -> dict[str, str]:
    """Feature space (`inception` | `dino`, a node of `cfg_metrics`) of each metric in `compute`; checks the names."""
    wanted = list(cfg_metrics.compute)
    unknown = [m for m in wanted if m not in KNOWN_METRICS]
    if unknown or not wanted:
        raise ValueError(f"metrics.compute={wanted}: choose one or more of {list(KNOWN_METRICS)}")
    pr_space = str(cfg_metrics.precision_recall.extractor)
    if pr_space not in ("inception", "dino"):
        raise ValueError(f"metrics.precision_recall.extractor must be inception or dino, got {pr_space!r}")
    needs = {"fid": "inception", "kid": "inception", "pr": pr_space, "fd_dino": "dino"}
    return {m: needs[m] for m in wanted}


def extractor_keys(cfg_metrics: DictConfig, prefix: str = "metrics") -> list[str]:
    """Config keys of the feature extractors `compute` needs (for the pipeline's preflight)."""
    return [f"{prefix}.{space}" for space in dict.fromkeys(metric_spaces(cfg_metrics).values())]


class MetricSuite:
    """Builds the extractors `cfg_metrics.compute` needs once; `evaluate` may be called repeatedly."""

    def __init__(self, cfg_metrics: DictConfig, device: torch.device | str | None = None):
        self.cfg = cfg_metrics
        self.space_of = metric_spaces(cfg_metrics)
        self.wanted = list(cfg_metrics.compute)
        self.batch_size = int(cfg_metrics.batch_size)
        if self.batch_size < 1:
            raise ValueError(f"metrics.batch_size must be ≥ 1, got {self.batch_size}")
        self.extractors: dict[str, FeatureExtractor] = {}
        for metric in self.wanted:
            space = self.space_of[metric]
            if space not in self.extractors:
                self.extractors[space] = instantiate(cfg_metrics[space])
        self.device = torch.device(device) if device is not None else None
        self._placed = False

    # -- features -------------------------------------------------------------------------
    def _place(self, device: torch.device | None = None) -> None:
        """Fix the device (the given one, else the first batch's, else CPU) and move the extractors there once."""
        if self.device is None:
            self.device = device or torch.device("cpu")
        if not self._placed:
            for ext in self.extractors.values():
                ext.to(self.device)
            self._placed = True

    def _accumulators(self) -> dict[str, FeatureAccumulator]:
        return {s: FeatureAccumulator(e.num_features).to(self.device) for s, e in self.extractors.items()}

    def _update(
        self, accs: dict[str, FeatureAccumulator], images: torch.Tensor, spaces: Iterable[str]
    ) -> None:
        images = images.to(self.device)
        for s in spaces:
            accs[s].update(self.extractors[s](images))

    @torch.no_grad()
    def fake_stats(self, sample_fn: SampleFn, num_samples: int) -> tuple[dict[str, FeatureStats], int]:
        """Feature statistics of `num_samples` generated images (this rank's share, combined) and their resolution."""
        rank, world = _dist()
        if num_samples < world:
            raise ValueError(
                f"num_samples={num_samples} is smaller than the {world} processes sharing the work"
            )
        mine = rank_share(num_samples, rank, world)
        accs: dict[str, FeatureAccumulator] | None = None
        resolution = None
        done = 0
        while done < mine:
            n = min(self.batch_size, mine - done)
            images = sample_fn(n)
            u8 = to_uint8(images, "generated images (sample_fn output)")
            if u8.shape[0] != n:
                raise ValueError(f"sample_fn({n}) returned {u8.shape[0]} images")
            if accs is None:
                self._place(images.device)
                accs = self._accumulators()
                resolution = int(u8.shape[-1])
            self._update(accs, u8, self.extractors)
            done += n
        return {s: a.compute() for s, a in accs.items()}, resolution

    @torch.no_grad()
    def real_stats(
        self, real_loader: Iterable, resolution: int | None, cache_key: str | None
    ) -> dict[str, FeatureStats]:
        """Feature statistics of the real images (from the cache when it matches exactly)."""
        rank, world = _dist()
        real_max = self.cfg.get("real_max")
        found: dict[str, FeatureStats] = {}
        paths = {}
        if cache_key is not None and resolution is not None:
            for s, ext in self.extractors.items():
                key = make_cache_key(cache_key, resolution, ext.identity, real_max)
                paths[s] = (cache_path(self.cfg.cache_dir, key, ext.label), key)
                cached = load_stats(paths[s][0], key)
                if cached is not None:
                    found[s] = cached
        self._place()
        if world > 1:  # reuse the cache only if every rank found it (node-local disks may differ)
            hit = torch.tensor([float(s in found) for s in self.extractors], device=self.device)
            torch.distributed.all_reduce(hit, op=torch.distributed.ReduceOp.MIN)
            found = {s: found[s] for s, h in zip(self.extractors, hit.tolist()) if h == 1.0}
        missing = [s for s in self.extractors if s not in found]
        if not missing:
            return found
        cap = math.inf if real_max is None else rank_share(int(real_max), rank, world)
        accs = self._accumulators()
        seen = 0
        for batch in real_loader:
            if seen >= cap:
                break
            u8 = to_uint8(_first_tensor(batch), "real images (real_loader batch)")
            if resolution is not None and u8.shape[-1] != resolution:
                raise ValueError(
                    f"real images are {u8.shape[-1]}² but generated images are {resolution}²; "
                    "evaluate at the dataset resolution"
                )
            if seen + u8.shape[0] > cap:
                u8 = u8[: int(cap - seen)]
            self._update(accs, u8, missing)
            seen += u8.shape[0]
        for s in missing:
            try:
                found[s] = accs[s].compute()
            except ValueError as e:
                raise ValueError(f"real images ({seen} read from real_loader on this rank): {e}") from e
            if s in paths and rank == 0:
                save_stats(paths[s][0], paths[s][1], found[s])
        return found

    # -- metrics --------------------------------------------------------------------------
    def evaluate(
        self,
        sample_fn: SampleFn,
        real_loader: Iterable,
        num_samples: int | None = None,
        cache_key: str | None = None,
    ) -> MetricReport:
        """Generate, extract, compare; see the module docstring for names and DDP behaviour."""
        t0 = time.time()
        n = int(num_samples if num_samples is not None else self.cfg.num_samples)
        if n < 2:
            raise ValueError(f"num_samples must be ≥ 2, got {n}")
        fake, resolution = self.fake_stats(sample_fn, n)
        real = self.real_stats(real_loader, resolution, cache_key)
        values = self.compare(real, fake, n)
        report = MetricReport(
            values=values,
            num_samples=n,
            num_real={self.extractors[s].label: st.count for s, st in real.items()},
            extractors={e.label: e.identity for e in self.extractors.values()},
            seconds=round(time.time() - t0, 3),
        )
        for k, v in values.items():
            log.info(
                "%s = %.5g%s",
                k,
                v,
                "  (STAND-IN extractor: not a real score)" if k.endswith("_standin") else "",
            )
        return report

    def compare(
        self, real: dict[str, FeatureStats], fake: dict[str, FeatureStats], n: int
    ) -> dict[str, float]:
        """The configured metrics from real and generated statistics; `n` names the sample count."""
        prefix, tag, out = str(self.cfg.prefix), count_tag(n), {}
        eps = float(self.cfg.frechet_eps)

        def name(base: str, space: str, counted: bool = True, extra: str = "") -> str:
            return f"{prefix}{base}{tag if counted else ''}{extra}" + (
                "_standin" if self.extractors[space].is_standin else ""
            )

        for metric in self.wanted:
            s = self.space_of[metric]
            f = fake[s]
            r = real[s].to(f.mu.device)  # cached statistics load on the CPU
            if metric in ("fid", "fd_dino"):
                reg = regularisation_for(r.count, f.count, r.dim, eps, metric)
                out[name(metric, s)] = frechet_distance(r.mu, r.sigma, f.mu, f.sigma, eps=reg)
            elif metric == "kid":
                k = self.cfg.kid
                mean, std = kernel_inception_distance(
                    r.features,
                    f.features,
                    subsets=int(k.subsets),
                    subset_size=int(k.subset_size),
                    degree=int(k.degree),
                    coef=float(k.coef),
                    seed=int(self.cfg.seed),
                )
                out[name("kid", s)] = mean
                out[name("kid", s, extra="_std")] = std
            elif metric == "pr":
                p = self.cfg.precision_recall
                precision, recall = precision_recall(r.features, f.features, k=int(p.k), block=int(p.block))
                out[name("precision", s, counted=False)] = precision
                out[name("recall", s, counted=False)] = recall
        return out


def generator_metrics(
    sample_fn: SampleFn,
    real_loader: Iterable,
    cfg_metrics: DictConfig,
    num_samples: int | None = None,
    cache_key: str | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """FID/KID/precision-recall/FD-DINO of `sample_fn`'s images against `real_loader` (see module doc)."""
    suite = MetricSuite(cfg_metrics, device=device)
    return suite.evaluate(sample_fn, real_loader, num_samples=num_samples, cache_key=cache_key).values

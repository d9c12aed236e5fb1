"""Infinite training stream: deterministic, resumable at any minibatch, disjoint across ranks."""

from __future__ import annotations

from itertools import islice

import pytest

from sdstylegan.training.data import InfiniteSampler


def take(sampler: InfiniteSampler, n: int) -> list[int]:
    return list(islice(iter(sampler), n))


def test_each_pass_is_a_permutation_and_passes_differ():
    s = InfiniteSampler(10, seed=0)
    stream = take(s, 30)
    for e in range(3):
        assert sorted(stream[e * 10 : (e + 1) * 10]) == list(range(10))
    assert stream[:10] != stream[10:20]
    assert take(InfiniteSampler(10, seed=0), 30) == stream and take(InfiniteSampler(10, seed=1), 30) != stream


def test_starting_at_k_continues_the_uninterrupted_stream():
    full = take(InfiniteSampler(7, seed=3), 40)
    assert take(InfiniteSampler(7, seed=3, start=13), 27) == full[13:]


def test_ranks_split_the_same_stream():
    full = take(InfiniteSampler(12, seed=0), 24)
    r0 = take(InfiniteSampler(12, seed=0, rank=0, world_size=2), 12)
    r1 = take(InfiniteSampler(12, seed=0, rank=1, world_size=2), 12)
    assert r0 == full[0::2] and r1 == full[1::2]
    assert take(InfiniteSampler(12, seed=0, rank=1, world_size=2, start=5), 7) == r1[5:]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        InfiniteSampler(0, seed=0)
    with pytest.raises(ValueError, match="rank 2"):
        InfiniteSampler(5, seed=0, rank=2, world_size=2)

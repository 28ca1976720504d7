"""Tenant assignment: weighted, reproducible from --seed, and different on every worker."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from obstack_load.users import tenancy


def environment(worker_index: int, seed: int = 7):
    return SimpleNamespace(
        parsed_options=SimpleNamespace(seed=seed, tenants_file=None),
        runner=SimpleNamespace(worker_index=worker_index),
    )


def streams(worker_index: int, seed: int = 7, users: int = 200) -> list[tuple[str, float]]:
    tenancy._instance_numbers = iter(range(users))  # a fresh process
    out = []
    for _ in range(users):
        tenant, rng = tenancy.assign(environment(worker_index, seed))
        out.append((tenant.tenant_id, rng.random()))
    return out


def test_same_seed_and_worker_reproduce_the_same_users():
    assert streams(0) == streams(0)


def test_workers_never_share_a_stream():
    first, second = streams(0), streams(1)
    assert not {r for _, r in first} & {r for _, r in second}, (
        "no user RNG is repeated on another worker"
    )
    assert [t for t, _ in first] != [t for t, _ in second]


def test_tenants_follow_their_weights_across_workers():
    picks = Counter(t for worker in range(4) for t, _ in streams(worker, users=500))
    population = tenancy.population(None)
    assert picks[population.tenants[0].tenant_id] > picks[population.tenants[-1].tenant_id] * 5

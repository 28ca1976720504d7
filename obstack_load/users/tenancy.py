"""Gives each Locust user instance a tenant, weighted by tenant size, reproducibly from ``--seed``."""

from __future__ import annotations

import itertools
import random

from locust.env import Environment

from obstack_load.core.tenants import Account, Tenant, population

_instance_numbers = itertools.count()


def assign(environment: Environment) -> tuple[Tenant, random.Random]:
    """A tenant and a private RNG for one new user instance.

    The RNG is seeded from the run seed, this process's worker index and the instance number, so
    two workers never draw the same sequence by accident.
    """
    options = environment.parsed_options
    seed = getattr(options, "seed", 1) if options else 1
    worker = getattr(environment.runner, "worker_index", 0)
    rng = random.Random(f"{seed}:{worker}:{next(_instance_numbers)}")
    tenants_file = getattr(options, "tenants_file", None) if options else None
    return population(tenants_file).pick(rng), rng


def pick_account(tenant: Tenant, rng: random.Random, role: str | None = None) -> Account:
    accounts = tenant.accounts_with_role(role) if role else list(tenant.accounts)
    return rng.choice(accounts or list(tenant.accounts))

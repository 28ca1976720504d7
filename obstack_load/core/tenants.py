"""The tenant population: who the tenants are, how big, and their credentials.

One module, used by both sides, so that the reference platform's seeded accounts and the suite's
users agree without any password being committed:

* A *generated* population (``tenants:`` is a mapping) is derived deterministically from a seed.
  Sizes follow a Zipf law, so a few large tenants make most of the traffic. Passwords and API keys
  are HMACs of a credential seed, which defaults to one derived from the population seed (fine for
  the reference platform) and can be overridden with the ``OBSTACK_CREDENTIAL_SEED`` environment
  variable.
* An *explicit* population (``tenants:`` is a list) describes a real platform's tenants; secrets
  are named by environment variable (``password_env``, ``api_key_env``) and read at load time.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import hmac
import itertools
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obstack_load.core.config import REPO_ROOT, ConfigError, Section, load_yaml

DEFAULT_TENANTS_FILE = REPO_ROOT / "config" / "tenants.yaml"
CREDENTIAL_SEED_ENV = "OBSTACK_CREDENTIAL_SEED"
ROLES = ("admin", "editor", "viewer")

# Realistic names so generated telemetry and dashboards read like a real estate of services.
SERVICE_NAMES = (
    "api-gateway", "frontend", "checkout", "cart", "payments", "auth", "search", "catalog",
    "inventory", "shipping", "orders", "billing", "users", "reviews", "recommendations", "ads",
    "notifications", "email", "fraud-detection", "ledger", "pricing", "profile", "sessions",
    "media", "reporting", "scheduler", "webhooks", "export", "import", "quotes", "currency",
    "accounting", "loyalty", "geo", "feature-flags", "audit", "analytics", "ingest", "alerting",
    "rules-engine",
)  # fmt: skip


@dataclass(frozen=True)
class Account:
    """A login on the platform. ``password`` is a secret: never log it."""

    username: str
    password: str = field(repr=False)
    role: str


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    weight: float
    accounts: tuple[Account, ...]
    api_key: str = field(repr=False)
    services: tuple[str, ...]
    hosts: tuple[str, ...]

    def accounts_with_role(self, role: str) -> list[Account]:
        return [a for a in self.accounts if a.role == role]

    def public_dict(self) -> dict[str, Any]:
        """Everything but the secrets: safe for logs, reports and the results database."""
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "weight": self.weight,
            "users": [{"username": a.username, "role": a.role} for a in self.accounts],
            "services": list(self.services),
            "hosts": list(self.hosts),
        }

    def secret_dict(self) -> dict[str, Any]:
        data = self.public_dict()
        data["api_key"] = self.api_key
        data["users"] = [
            {"username": a.username, "role": a.role, "password": a.password} for a in self.accounts
        ]
        return data


@dataclass(frozen=True)
class Population:
    """All tenants, plus weighted selection by tenant size."""

    seed: int
    source: str
    tenants: tuple[Tenant, ...]

    def __post_init__(self) -> None:
        cumulative = list(itertools.accumulate(t.weight for t in self.tenants))
        object.__setattr__(self, "_cumulative", cumulative)

    def pick(self, rng: random.Random) -> Tenant:
        """A tenant chosen with probability proportional to its weight."""
        cumulative: list[float] = self._cumulative  # type: ignore[attr-defined]
        return self.tenants[bisect.bisect(cumulative, rng.random() * cumulative[-1])]

    def by_id(self, tenant_id: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.tenant_id == tenant_id:
                return tenant
        raise KeyError(tenant_id)

    def secrets(self) -> list[str]:
        """Every secret in the population, so output can be checked or scrubbed for them."""
        out = [t.api_key for t in self.tenants]
        out += [a.password for t in self.tenants for a in t.accounts]
        return out


def derive_secret(credential_seed: str, purpose: str, length: int = 32) -> str:
    """A stable secret for ``purpose`` (e.g. ``password:admin0@tenant-01``)."""
    digest = hmac.new(credential_seed.encode(), purpose.encode(), hashlib.sha256).hexdigest()
    return digest[:length]


def _count_between(section: Section, key: str, share: float, default: tuple[int, int]) -> int:
    """Scale a per-tenant count between min and max by the tenant's share of the largest weight."""
    sub = section.section(key, {"min": default[0], "max": default[1]})
    low = sub.integer("min", default[0], minimum=1)
    high = sub.integer("max", default[1], minimum=low)
    return low + round((high - low) * share)


def generate_population(data: dict[str, Any], source: str | Path) -> Population:
    top = Section(source, "", data)
    seed = top.integer("seed", 1)
    spec = top.section("tenants")
    count = spec.integer("count", 20, minimum=1)
    prefix = spec.string("id_prefix", "tenant")
    size = spec.section("size", {"distribution": "zipf", "exponent": 1.1})
    distribution = size.string("distribution", "zipf", choices=("zipf", "uniform"))
    exponent = size.number("exponent", 1.1, minimum=0.0)
    role_weights = spec.section("users", {}).weights(
        "roles", {"admin": 1, "editor": 3, "viewer": 6}
    )
    for role in role_weights:
        if role not in ROLES:
            raise spec.section("users").error(f"roles.{role}", f"unknown role; use {ROLES}")

    credential_seed = os.environ.get(CREDENTIAL_SEED_ENV) or f"obstack-reference-{seed}"
    rng = random.Random(seed)
    width = len(str(count))
    tenants = []
    for rank in range(1, count + 1):
        weight = 1.0 / rank**exponent if distribution == "zipf" else 1.0
        share = weight  # weight of rank 1 is 1.0, so this is the share of the largest tenant
        tenant_id = f"{prefix}-{rank:0{width}d}"
        n_users = _count_between(spec, "users", share, (2, 40))
        roles = ["admin"] + rng.choices(
            list(role_weights), weights=list(role_weights.values()), k=n_users - 1
        )
        per_role: dict[str, int] = {}
        accounts = []
        for role in roles:
            index = per_role[role] = per_role.get(role, -1) + 1
            username = f"{role}{index}@{tenant_id}"
            password = derive_secret(credential_seed, f"password:{username}", 24)
            accounts.append(Account(username=username, password=password, role=role))
        n_services = min(_count_between(spec, "services", share, (3, 40)), len(SERVICE_NAMES))
        n_hosts = _count_between(spec, "hosts", share, (2, 120))
        services = tuple(rng.sample(SERVICE_NAMES, n_services))
        hosts = tuple(
            f"ip-10-{rank % 256}-{h // 256}-{h % 256}.ec2.internal" for h in range(n_hosts)
        )
        api_key = "obk_" + derive_secret(credential_seed, f"apikey:{tenant_id}", 32)
        tenants.append(
            Tenant(
                tenant_id=tenant_id,
                name=f"Tenant {rank}",
                weight=round(weight, 6),
                accounts=tuple(accounts),
                api_key=api_key,
                services=services,
                hosts=hosts,
            )
        )
    return Population(seed=seed, source=str(source), tenants=tuple(tenants))


def _secret_from_env(entry: Section, key: str) -> str:
    env_name = entry.string(key)
    value = os.environ.get(env_name)
    if not value:
        raise entry.error(key, f"environment variable {env_name} is not set")
    return value


def explicit_population(data: dict[str, Any], source: str | Path) -> Population:
    items = data["tenants"]
    tenants = []
    for index, raw in enumerate(items):
        entry = Section(source, f"tenants[{index}]", raw)
        tenant_id = entry.string("id")
        users = entry.data.get("users")
        if not isinstance(users, list) or not users:
            raise entry.error("users", "must be a non-empty list")
        accounts = []
        for u_index, raw_user in enumerate(users):
            user = Section(source, f"tenants[{index}].users[{u_index}]", raw_user)
            accounts.append(
                Account(
                    username=user.string("username"),
                    password=_secret_from_env(user, "password_env"),
                    role=user.string("role", "viewer", choices=ROLES),
                )
            )
        services = entry.data.get("services", ["unknown-service"])
        hosts = entry.data.get("hosts", ["unknown-host"])
        for key, value in (("services", services), ("hosts", hosts)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise entry.error(key, "must be a list of strings")
        tenants.append(
            Tenant(
                tenant_id=tenant_id,
                name=entry.string("name", tenant_id),
                weight=entry.number("weight", 1.0, minimum=0.0),
                accounts=tuple(accounts),
                api_key=_secret_from_env(entry, "api_key_env"),
                services=tuple(services),
                hosts=tuple(hosts),
            )
        )
    if not tenants:
        raise ConfigError(source, "tenants", "must list at least one tenant")
    if sum(t.weight for t in tenants) <= 0:
        raise ConfigError(source, "tenants", "at least one tenant needs a weight > 0")
    seed = Section(source, "", data).integer("seed", 1)
    return Population(seed=seed, source=str(source), tenants=tuple(tenants))


def load_population(path: str | Path | None = None) -> Population:
    """Load the population from a tenants file (default ``config/tenants.yaml``)."""
    path = Path(path) if path else DEFAULT_TENANTS_FILE
    data = load_yaml(path)
    if isinstance(data.get("tenants"), list):
        return explicit_population(data, path)
    return generate_population(data, path)


@functools.cache
def population(path: str | None) -> Population:
    """The population from ``path``, read once per process: every user of a run shares it."""
    return load_population(path)

"""The tenant population: deterministic, skewed, and strict about its input."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from obstack_load.core.config import ConfigError
from obstack_load.core.tenants import load_population


def write(tmp_path, text: str):
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def test_same_seed_same_population_and_credentials():
    first, second = load_population(), load_population()
    assert first == second
    assert first.secrets() == second.secrets()
    assert len(set(first.secrets())) == len(first.secrets()), "every secret is distinct"


def test_credential_seed_from_environment_changes_secrets_only(monkeypatch):
    default = load_population()
    monkeypatch.setenv("OBSTACK_CREDENTIAL_SEED", "another-secret")
    other = load_population()
    assert [t.public_dict() for t in default.tenants] == [t.public_dict() for t in other.tenants]
    assert set(default.secrets()).isdisjoint(other.secrets())


def test_sizes_are_skewed_and_every_tenant_has_an_admin():
    population = load_population()
    users = [len(t.accounts) for t in population.tenants]
    assert users[0] > 5 * users[-1]
    assert all(t.accounts_with_role("admin") for t in population.tenants)
    picks = Counter(population.pick(random.Random(5)).tenant_id for _ in range(1))
    rng = random.Random(5)
    picks = Counter(population.pick(rng).tenant_id for _ in range(20_000))
    top = picks[population.tenants[0].tenant_id] / 20_000
    expected = population.tenants[0].weight / sum(t.weight for t in population.tenants)
    assert abs(top - expected) < 0.02
    assert picks[population.tenants[0].tenant_id] > picks[population.tenants[-1].tenant_id] * 10


def test_secrets_stay_out_of_repr_and_public_dict():
    population = load_population()
    tenant = population.tenants[0]
    shown = repr(tenant) + str(tenant.public_dict())
    assert not any(secret in shown for secret in population.secrets())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("tenants: {count: ten}", "tenants.count"),
        ("tenants: {count: 0}", "tenants.count"),
        ("tenants: {size: {distribution: pareto}}", "tenants.size.distribution"),
        ("tenants: {users: {roles: {wizard: 1}}}", "tenants.users.roles.wizard"),
        ("tenants: {users: {min: 5, max: 2}}", "tenants.users.max"),
        ("tenants: [{id: acme}]", "tenants[0].users"),
        ("seed: [1]\ntenants: {count: 2}", "seed"),
    ],
)
def test_bad_files_name_file_and_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_population(path)
    assert caught.value.key == key
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_yaml_syntax_error_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_population(write(tmp_path, "tenants: {count: [1,"))
    with pytest.raises(ConfigError, match="cannot read file"):
        load_population(tmp_path / "missing.yaml")


def test_explicit_population_reads_secrets_from_environment(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        """
tenants:
  - id: acme
    weight: 3
    api_key_env: ACME_KEY
    services: [checkout]
    users:
      - {username: load@acme, password_env: ACME_PASSWORD, role: viewer}
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_population(path)
    assert caught.value.key == "tenants[0].users[0].password_env"
    assert "ACME_PASSWORD is not set" in str(caught.value)
    monkeypatch.setenv("ACME_PASSWORD", "pw")
    monkeypatch.setenv("ACME_KEY", "key")
    population = load_population(path)
    tenant = population.tenants[0]
    assert (tenant.tenant_id, tenant.api_key, tenant.accounts[0].password) == ("acme", "key", "pw")

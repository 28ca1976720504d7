"""The cross-tenant leak check finds another tenant's id wherever it is, fast path or not."""

from __future__ import annotations

import json

import pytest

from obstack_load.users.session import ApiSession


@pytest.fixture
def session(tenants):
    tenant = tenants.tenants[0]
    return ApiSession(None, tenant, tenant.accounts[0])


def check(session, answer, **dumps) -> str | None:
    raw = json.dumps(answer, **dumps).encode()
    return session.foreign_tenant(json.loads(raw), raw)


def test_clean_answers_pass(session):
    ours = session.tenant.tenant_id
    compact = {"separators": (",", ":")}
    assert check(session, {"records": [{"tenant_id": ours, "body": "x"}] * 3}, **compact) is None
    assert check(session, {"records": []}, **compact) is None
    assert check(session, {"tenant_id": ours, "note": 'a "tenant_id" in text'}, **compact) is None


@pytest.mark.parametrize(
    "dumps", [{"separators": (",", ":")}, {}, {"indent": 2}, {"ensure_ascii": True}]
)
def test_a_foreign_id_is_found_in_any_formatting(session, dumps):
    ours = session.tenant.tenant_id
    answer = {"records": [{"tenant_id": ours}, {"nested": [{"tenant_id": ours + "0"}]}]}
    assert check(session, answer, **dumps) == ours + "0"
    assert check(session, {"x": {"tenant_id": 7}}, **dumps) == "7"


def test_an_escaped_key_takes_the_walk(session):
    raw = b'{"tenant\\u005fid":"someone-else"}'
    assert session.foreign_tenant(json.loads(raw), raw) == "someone-else"

"""The same points give the same answers in memory and on PostgreSQL: every aggregation, with
and without ``by``, with label matchers, over the same buckets."""

from __future__ import annotations

import random
import time

import pytest
import requests

from obstack_load.telemetry import metrics, otlp
from tests.support import start_platform

QUERIES = [
    {"name": "system.cpu.utilization", "aggregation": aggregation, "by": by, "match": match}
    for aggregation in ("avg", "sum", "min", "max", "count")
    for by, match in (
        ("", []),
        ("service.name", []),
        ("", ["service.name=~a.*"]),
        ("host.name", ["service.name!=checkout"]),
    )  # fmt: skip
]


@pytest.fixture(scope="module")
def both(postgres, tenants):
    platforms = {
        "memory": start_platform(),
        "postgresql": start_platform("--db", postgres.database("parity")),
    }
    tenant = tenants.tenants[2]
    for seed in range(4):  # the same requests to both, points a few seconds apart
        message = metrics.metrics_request(tenant, random.Random(seed), 20, {})
        for platform in platforms.values():
            response = requests.post(
                f"{platform.url}/v1/metrics", data=otlp.encode(message),
                headers={"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key}, timeout=60,
            )  # fmt: skip
            assert response.status_code == 200 and not response.content
    yield platforms
    for platform in platforms.values():
        assert platform.stop() == 0, "".join(platform.output)


def normalised(series: list[dict]) -> list:
    return sorted(
        (sorted((k, str(v)) for k, v in s["labels"].items()),
         [[t, round(v, 9)] for t, v in s["points"]])
        for s in series
    )  # fmt: skip


def test_every_query_answers_the_same_in_memory_and_on_postgresql(both, tenants):
    end = time.time() + 60
    params_common = {"start": str(end - 3600), "end": str(end), "step": "20s"}
    answers = {}
    for kind, platform in both.items():
        token = platform.token_for(tenants, 2, "viewer")
        names = platform.get("/api/v1/metrics/names", token).json()["names"]
        answers[kind] = {"names": names}
        for query in QUERIES:
            params = {**params_common, **{k: v for k, v in query.items() if v}}
            response = platform.get("/api/v1/metrics/query", token, params=params)
            assert response.status_code == 200, response.text
            key = (query["aggregation"], query["by"], tuple(query["match"]))
            answers[kind][key] = normalised(response.json()["series"])
    assert answers["memory"]["names"] == answers["postgresql"]["names"]
    assert any(answers["memory"][k] for k in answers["memory"] if k != "names")
    for key in answers["memory"]:
        assert answers["memory"][key] == answers["postgresql"][key], key

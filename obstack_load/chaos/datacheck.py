"""Data lost to a fault, measured by ingesting and reading back: the ingest-then-verify path.

While an experiment runs, ``MarkedPoints.send`` ingests one gauge point at a time
(``obstack.chaos.marker``, labelled with the experiment's id) with the first tenant's key, and
counts those the platform accepted (2xx) and those it refused (503, 429, no answer: never
promised). Afterwards ``read_back`` counts the points the API returns; every accepted point
that is missing was lost.
"""

from __future__ import annotations

import time
import uuid

import requests
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from obstack_load.chaos.verdict import DataCheck
from obstack_load.monitor.checks import login
from obstack_load.telemetry import otlp

METRIC = "obstack.chaos.marker"
LABEL = "chaos.experiment"


class MarkedPoints:
    def __init__(self, host: str, tenant, timeout: float = 2.0) -> None:
        self.host, self.tenant, self.timeout = host, tenant, timeout
        self.experiment = uuid.uuid4().hex[:12]
        self.session = requests.Session()
        self.count = DataCheck()
        self.first_at: float | None = None

    def request(self) -> ExportMetricsServiceRequest:
        message = ExportMetricsServiceRequest()
        metric = message.resource_metrics.add().scope_metrics.add().metrics.add(name=METRIC)
        point = metric.gauge.data_points.add(time_unix_nano=time.time_ns(), as_double=1.0)
        point.attributes.append(KeyValue(key=LABEL, value=AnyValue(string_value=self.experiment)))
        return message

    def send(self) -> None:
        """One point; counted as accepted only when the platform answered 2xx."""
        self.first_at = self.first_at or time.time()
        try:
            answer = self.session.post(
                f"{self.host}/v1/metrics", data=otlp.encode(self.request()), timeout=self.timeout,
                headers={"Content-Type": otlp.PROTOBUF, "X-API-Key": self.tenant.api_key},
            )  # fmt: skip
        except requests.RequestException:
            self.count.refused += 1
            return
        if answer.ok:
            self.count.accepted += 1
        else:
            self.count.refused += 1

    def read_back(self) -> DataCheck:
        """How many of the points are found now; ``found`` stays None if they cannot be read."""
        if self.first_at is None:
            self.count.found = 0
            return self.count
        try:
            token = login(self.session, self.host, self.tenant, self.timeout * 5)
            if token.startswith("login HTTP"):
                return self.count
            start, end = self.first_at - 60, time.time() + 60
            answer = self.session.get(
                f"{self.host}/api/v1/metrics/query", timeout=self.timeout * 15,
                params={"name": METRIC, "match": f"{LABEL}={self.experiment}",
                        "aggregation": "count", "start": start, "end": end, "step": "1m"},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
        except requests.RequestException:
            return self.count
        if answer.ok:
            self.count.found = int(
                sum(v for series in answer.json()["series"] for _, v in series["points"] if v)
            )  # fmt: skip
        return self.count

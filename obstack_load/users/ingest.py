"""High-volume OTLP ingestion users: ``LogsIngestUser``, ``MetricsIngestUser``, ``TracesIngestUser``.

Each instance belongs to one tenant (weighted by the tenant population) and posts OTLP/HTTP
batches of its signal as fast as it can, or at ``--otlp-rate`` items/s, or its share of
``--otlp-total-rate``. Bodies come from the process's ``PayloadPool`` (see
``obstack_load.telemetry.payloads`` for why), and each batch goes through ``OtlpExporter``,
which retries by the OTLP rules and accounts for every attempt, over the lean transport
(``obstack_load.users.lean_http``) or, with ``--otlp-transport fasthttp``, ``self.client``.
With ``--otlp-verify`` each batch is built fresh, tagged, and read back
(``obstack_load.users.verify``).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, events, task

import obstack_load.run.accounting  # noqa: F401  (the ledger these users write: shipped, summed, summarised)
from obstack_load.run import workers
from obstack_load.run.arrival import Schedule, wait_for_slot
from obstack_load.run.context import run_of
from obstack_load.run.events import suite
from obstack_load.run.options import preflight, validator
from obstack_load.telemetry.clock import Clock
from obstack_load.telemetry.fleet import Fleet
from obstack_load.telemetry.logs import LogsGenerator
from obstack_load.telemetry.metrics import MetricsGenerator
from obstack_load.telemetry.payloads import FreshPayloads, Payload, PayloadPool, encode_payload
from obstack_load.telemetry.traces import TracesGenerator
from obstack_load.users.ingest_options import IngestSettings, settings_from
from obstack_load.users.lean_http import LeanTransport
from obstack_load.users.otlp_client import OtlpExporter, RetryPolicy
from obstack_load.users.session import ApiSession
from obstack_load.users.tenancy import assign, pick_account
from obstack_load.users.verify import TAG_KEY, VERIFIABLE, Verifier

MAX_POOL = 4096
MAX_LAG_S = 1.0  # a paced user this far behind its schedule skips batches (counted) to catch up


def make_generator(signal: str, settings: IngestSettings, rng: random.Random, seed: int):
    fleet = Fleet(random.Random(f"fleet:{seed}"))  # one estate per run, the same on every worker
    clock = Clock(settings.timestamps, rng)
    if signal == "logs":
        return LogsGenerator(fleet, rng, clock)
    if signal == "metrics":
        return MetricsGenerator(fleet, rng, clock, settings.cardinality, settings.churn_per_minute)
    return TracesGenerator(fleet, rng, clock)


class Payloads:
    """This process's payload sources for the run, one per signal and settings, shared by all
    its users (in the run's ``RunContext``)."""

    def __init__(self) -> None:
        self.sources: dict[tuple[str, IngestSettings], Any] = {}

    def source(self, environment, signal: str, settings: IngestSettings):
        key = (signal, settings)
        if key not in self.sources:
            seed = getattr(environment.parsed_options, "seed", 1)
            worker = getattr(environment.runner, "worker_index", 0)
            generator = make_generator(
                signal, settings, random.Random(f"{seed}:{worker}:{signal}"), seed
            )

            def build() -> Payload:
                message = generator.batch(settings.batch_size)
                return encode_payload(signal, message, settings.content_type, settings.gzip)

            size = settings.pool_size
            if size and signal == "metrics":  # enough distinct bodies to carry every series
                size = min(
                    MAX_POOL, max(size, math.ceil(settings.cardinality / settings.batch_size))
                )
            self.sources[key] = (
                PayloadPool(build, size, settings.pool_refresh_s) if size else FreshPayloads(build)
            )
        return self.sources[key]

    def close(self) -> None:
        for source in self.sources.values():
            source.close()
        self.sources.clear()


SPLIT_PREFIX = "otlp-"  # a signal's --otlp-total-rate among the run's split rates (run.workers)
# the ledger's tenant for batches that no worker sent: not any tenant's, the run's
NO_WORKER_TENANT = "(no worker)"


@suite.slots_skipped.add_listener
def _skipped(environment, name: str, slots: int, **kwargs: Any) -> None:
    """Batches of a signal's total rate that no worker sent (its users were between workers)."""
    if name.startswith(SPLIT_PREFIX):
        run_of(environment).ledger.record(
            name.removeprefix(SPLIT_PREFIX), NO_WORKER_TENANT, skipped_batches=slots
        )


class TotalRateSchedules(dict[str, Schedule]):
    """--otlp-total-rate: one schedule per signal that this process's users of it share."""


@events.test_stop.add_listener
def _stop(environment, **kwargs: Any) -> None:
    """On every process, workers too: the run's payload pools stop refreshing."""
    payloads = run_of(environment).get(Payloads)
    if payloads is not None:
        payloads.close()


class OtlpIngestUser(FastHttpUser):
    abstract = True
    signal = "logs"

    def on_start(self) -> None:
        self.settings = settings = settings_from(self.environment.parsed_options)
        self.tenant, self.rng = assign(self.environment)
        self.transport = None
        if settings.transport == "lean":
            self.transport = LeanTransport(self.host, self.network_timeout, self.insecure)
        self.exporter = OtlpExporter(
            self.client,
            self.signal,
            self.tenant.tenant_id,
            settings.headers(self.tenant),
            settings.path(self.signal),
            RetryPolicy(settings.retries, settings.backoff_s, settings.retry_max_wait_s),
            self.rng,
            self.transport,
            ledger=run_of(self.environment).ledger,
        )
        self.schedule = self._schedule(settings)
        self.verifier: Verifier | None = None
        if settings.verify and self.signal in VERIFIABLE:
            seed = getattr(self.environment.parsed_options, "seed", 1)
            self.generator = make_generator(self.signal, settings, self.rng, seed)
            session = ApiSession(self.client, self.tenant, pick_account(self.tenant, self.rng))
            lookback = (
                settings.timestamps.backfill_s if settings.timestamps.mode == "backfill" else 0
            )
            lookback += settings.timestamps.out_of_order_max_s + 3600
            self.verifier = Verifier(
                session,
                self.tenant.tenant_id,
                settings.verify_timeout_s,
                settings.verify_poll_s,
                lookback,
                self.exporter.ledger,
            )
        else:
            sources = run_of(self.environment).slot(Payloads)
            self.payloads = sources.source(self.environment, self.signal, settings)
        if self.schedule is not None:  # the first export on the schedule, as every later one
            gevent.sleep(self.wait_time())

    def _schedule(self, settings: IngestSettings) -> Schedule | None:
        batch = settings.batch_size
        if settings.rate_per_user:
            schedule = Schedule()
            schedule.configure(settings.rate_per_user / batch, MAX_LAG_S, time.time())
            return schedule
        if settings.total_rate:
            schedules = run_of(self.environment).slot(TotalRateSchedules)
            total = settings.total_rate / batch
            if self.signal not in schedules:
                schedule = schedules[self.signal] = Schedule()
                schedule.configure(workers.process_share(self.environment, total), MAX_LAG_S,
                                   time.time())  # fmt: skip
            # its share re-split as workers and their users change (``run.workers``)
            workers.workers_of(self.environment).split(
                self.environment, SPLIT_PREFIX + self.signal, total, schedules[self.signal], self
            )
            return schedules[self.signal]
        return None

    def wait_time(self) -> float:
        if self.schedule is None:
            return 0.0
        slot, skipped, _ = wait_for_slot(self.schedule)
        if skipped:
            self.exporter.ledger.record(self.signal, self.tenant.tenant_id, skipped_batches=skipped)
        return max(0.0, slot - time.time())

    @task
    def export(self) -> None:
        if self.verifier is None:
            self.exporter.send(self.payloads.take())
            return
        tag = self.verifier.next_tag()
        trace_id = (
            self.rng.getrandbits(128).to_bytes(16, "big") if self.signal == "traces" else None
        )
        extra = {TAG_KEY: tag}
        if trace_id:
            message = self.generator.batch(self.settings.batch_size, extra, trace_id=trace_id)
        else:
            message = self.generator.batch(self.settings.batch_size, extra)
        payload = encode_payload(
            self.signal, message, self.settings.content_type, self.settings.gzip
        )
        written_at = time.time()
        if self.exporter.send(payload):  # refused items (partial success) are not looked for
            accepted = payload.items - self.exporter.last_rejected
            self.verifier.written(
                self.signal, tag, accepted, written_at, trace_id.hex() if trace_id else ""
            )
        self.verifier.poll()

    def on_stop(self) -> None:
        if self.verifier is not None:
            self.verifier.drain()
            self.verifier.session.logout()
        if self.transport is not None:
            self.transport.close()


class LogsIngestUser(OtlpIngestUser):
    signal = "logs"


class MetricsIngestUser(OtlpIngestUser):
    signal = "metrics"


class TracesIngestUser(OtlpIngestUser):
    signal = "traces"


@validator
def _check_knobs(options) -> None:
    """A bad ingestion knob stops the run (or a start from the web UI) before any load."""
    settings_from(options)


@preflight
def _fix_counts(environment) -> None:
    """``--otlp-users-per-signal N`` becomes Locust's ``fixed_count`` on each signal's class,
    so that a locustfile mixing API and ingestion users keeps ingestion at N users per signal
    while the shape moves the rest. It is set where users are dispatched (master or standalone).
    """
    count = settings_from(environment.parsed_options).users_per_signal
    for user_class in (LogsIngestUser, MetricsIngestUser, TracesIngestUser):
        user_class.fixed_count = count

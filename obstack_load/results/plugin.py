"""The results plugin: streams every run into the Test Results Database.

Load it by importing it in a locustfile. It adds ``--results-db``, ``--run-label``, ``--run-tag``,
``--results-requests`` and friends (web UI, ``--config`` files, environment variables).

Where the work happens:

* every process: the ``request`` listener adds to an interval histogram and, per
  ``--results-requests``, keeps the raw row; a sampler records this process's CPU and memory;
* workers: ship all of that to the master with each Locust report (``report_to_master``), so
  workers need no database access and no options of their own;
* the master (or the standalone process): owns the run id, merges worker shipments
  (``worker_report``), closes finished intervals into the outbox, and runs the one writer.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import uuid
from array import array
from collections import defaultdict
from dataclasses import asdict
from typing import Any

import gevent
import psutil
from locust import __version__ as locust_version
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import StatsError

from obstack_load import __version__
from obstack_load.accounting import ledger
from obstack_load.config import REPO_ROOT, ConfigError
from obstack_load.options import preflight
from obstack_load.results.intervals import IntervalAggregator, interval_row
from obstack_load.results.rows import (
    REQUEST_FIELDS,
    RawRows,
    success_rows,
    take_requests,
    unship,
)
from obstack_load.results.schema import INGEST_COUNT_FIELDS
from obstack_load.results.store import (
    DEFAULT_SQLITE_PATH,
    StoreError,
    open_store,
    redact,
)
from obstack_load.results.writer import Outbox, ResultsWriter
from obstack_load.summary import contributors

logger = logging.getLogger("obstack_load.results")
REPORT_KEY = "obstack_results"
SAMPLE_INTERVAL = 2.0
# 24 bytes a raw row (rows.py): 10 million is 240 MB, about 12 minutes of a database outage at
# 14,000 requests/s
DEFAULT_BUFFER_ROWS = 10_000_000
GENERATOR_BOUND_CPU = 90.0
GENERATOR_BOUND_SHARE = 0.2  # of a node's samples, before a run is called generator-bound
SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "credential")


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    parser.add_argument(
        "--results-db",
        default=os.environ.get("OBSTACK_RESULTS_DB", DEFAULT_SQLITE_PATH),
        is_secret=True,
        help=f"postgresql:// DSN or SQLite path (default {DEFAULT_SQLITE_PATH}; env OBSTACK_RESULTS_DB)",
    )
    parser.add_argument(
        "--run-label",
        default=os.environ.get("OBSTACK_RUN_LABEL", ""),
        help="a name for this run (env OBSTACK_RUN_LABEL)",
    )
    parser.add_argument(
        "--run-tag",
        action="append",
        default=[t for t in os.environ.get("OBSTACK_RUN_TAGS", "").split(",") if t],
        help="k=v tag for this run; repeat for more (env OBSTACK_RUN_TAGS=k=v,k2=v2)",
    )
    parser.add_argument(
        "--results-requests",
        choices=("all", "failures", "none"),
        default=os.environ.get("OBSTACK_RESULTS_REQUESTS", "failures"),
        help="raw per-request rows to keep (default failures; aggregates are always kept)",
    )
    parser.add_argument(
        "--results-buffer-rows",
        type=int,
        default=int(os.environ.get("OBSTACK_RESULTS_BUFFER_ROWS", str(DEFAULT_BUFFER_ROWS))),
        help="raw rows held in memory while the database is slow or away; more are dropped and counted",
    )
    parser.add_argument(
        "--results-interval",
        type=float,
        default=5.0,
        help="seconds per interval aggregate (default 5)",
    )


def parse_tags(values: list[str] | None) -> dict[str, str]:
    tags = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--run-tag", "", f"{item!r} is not k=v")
        tags[key.strip()] = value.strip()
    return tags


def safe_options(options: Any) -> dict[str, Any]:
    """The effective options with secrets removed, fit for the runs table and reports."""
    out = {}
    for key, value in sorted(vars(options).items()):
        if key == "results_db":
            value = redact(str(value))
        elif any(word in key.lower() for word in SECRET_WORDS) and value:
            value = "***"
        if isinstance(value, str | int | float | bool | type(None)):
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [v if isinstance(v, str | int | float | bool) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out


def git_revision() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
        return result.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class NodeRecorder:
    """What every process records; on a worker it is shipped, elsewhere handed to the run."""

    def __init__(self) -> None:
        self.mode = "failures"
        self.keep_all, self.keep_failures = False, True
        self.interval_s = 5.0
        self.max_rows = DEFAULT_BUFFER_ROWS
        self.requests: dict[tuple[str, str], array] = {}  # (method, name) -> REQUEST_FIELDS...
        self.raw = RawRows()
        self.errors: dict[tuple[str, str, str], list] = {}
        self.system: list[tuple] = []
        self.dropped = 0
        self.node = "local"
        self.role = "standalone"
        self.sampler: gevent.Greenlet | None = None

    def configure(self, options: Any, node: str, role: str) -> None:
        self.mode = getattr(options, "results_requests", "failures")
        self.keep_all = self.mode == "all"
        self.keep_failures = self.mode == "failures"
        self.interval_s = float(getattr(options, "results_interval", 5.0))
        self.max_rows = int(getattr(options, "results_buffer_rows", DEFAULT_BUFFER_ROWS))
        self.requests, self.raw, self.errors, self.system, self.dropped = {}, RawRows(), {}, [], 0
        self.node, self.role = node, role

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: Any = None,
        context: dict | None = None,
        **kwargs: Any,
    ) -> None:
        """The ``request`` listener itself: the hot path, run inline for every request.

        It appends five numbers (``rows.REQUEST_FIELDS``) and returns: at 14,000 requests/s on
        one core each microsecond here is 1.4% of the generator. Histograms and raw rows are
        made from these numbers in bulk when they are shipped (``ship``).
        """
        try:
            values = self.requests.get((request_type, name))
            if values is None:
                values = self.requests[(request_type, name)] = array("d")
            now = time.time()
            response_time = response_time or 0.0
            response_length = response_length or 0
            values.extend(
                (
                    now,
                    response_time,
                    response_length,
                    context.get("obstack_items", 0) if context else 0,
                    0.0 if exception is None else 1.0,
                )
            )
            if exception is not None:
                self._failed(request_type, name, now, response_time, response_length, exception)
        except Exception:  # counted, never raised: a raise here would change Locust's exit code
            self.dropped += 1
            values = self.requests.get((request_type, name))
            if values is not None:  # a value that was not a number: undo its partial row
                del values[len(values) - len(values) % len(REQUEST_FIELDS) :]

    def _failed(
        self, method: str, name: str, now: float, response_time: float, length: int, exception: Any
    ) -> None:
        """A failed request's error, counted, and its raw row kept with the error text."""
        error = StatsError.parse_error(exception)
        entry = self.errors.get((method, name, error))
        if entry is None:
            self.errors[(method, name, error)] = [1, now, now]
        else:
            entry[0] += 1
            entry[2] = now
        if self.keep_all or self.keep_failures:
            if self.raw.count < self.max_rows:
                self.raw.add(method, name, error, now, response_time, length)
            else:
                self.dropped += 1

    def sample_forever(self) -> None:
        process = psutil.Process()
        process.cpu_percent(None)
        while True:
            gevent.sleep(SAMPLE_INTERVAL)
            memory = process.memory_info().rss
            self.system.append(
                (
                    time.time(),
                    self.node,
                    self.role,
                    process.cpu_percent(None),
                    memory,
                    process.memory_percent(),
                )
            )

    def start_sampler(self) -> None:
        if self.sampler is None or self.sampler.dead:
            self.sampler = gevent.spawn(self.sample_forever)

    def ship(self) -> dict[str, Any]:
        """Everything recorded since the last call, for the master (or the local run)."""
        log, self.requests = self.requests, {}  # the listener appends to fresh arrays from now
        intervals = IntervalAggregator(self.interval_s)
        for method, name, table in take_requests(log):
            intervals.add_table(method, name, table)
            if self.keep_all:
                rows = success_rows(table)
                room = max(self.max_rows - self.raw.count, 0)
                if len(rows) > room:
                    self.dropped += len(rows) - room
                    rows = rows[:room]
                if len(rows):
                    self.raw.add_block(method, name, None, rows)
        data = {
            "node": self.node,
            "intervals": intervals.ship(),
            "requests": self.raw.ship(),
            "errors": [[*k, *v] for k, v in self.errors.items()],
            "system": self.system,
            "dropped": self.dropped,
        }
        self.errors, self.system, self.dropped = {}, [], 0
        return data


class RunRecorder:
    """On the master or standalone process: the run row, the outbox and its writer."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        options = environment.parsed_options
        self.target = options.results_db or DEFAULT_SQLITE_PATH
        self.location = redact(self.target)
        self.outbox = Outbox(options.results_buffer_rows)
        self.writer = ResultsWriter(lambda: self._connect(), self.outbox)
        self.aggregator = IntervalAggregator(options.results_interval)
        self.run: dict[str, Any] | None = None
        self.cpu_samples: dict[str, list[float]] = defaultdict(list)
        self.dropped_on_workers = 0
        self.ticker: gevent.Greenlet | None = None
        self.finalized_run: str | None = None

    def _connect(self):
        store = open_store(self.target)
        store.migrate()
        return store

    @property
    def run_id(self) -> str | None:
        return self.run["run_id"] if self.run else None

    def start_run(self) -> None:
        self.finish_run("stopped")  # a restart from the web UI: close the previous run first
        env = self.environment
        options = env.parsed_options
        self.aggregator = IntervalAggregator(options.results_interval)
        self.cpu_samples.clear()
        self.dropped_on_workers = 0
        self.outbox.dropped = 0
        self.run = {
            "run_id": uuid.uuid4().hex,
            "label": options.run_label or None,
            "tags": parse_tags(options.run_tag),
            "profile": _profile_name(options),
            "locustfile": options.locustfile,
            "user_classes": sorted(c.__name__ for c in env.user_classes),
            "users": options.num_users,
            "spawn_rate": options.spawn_rate,
            "host": env.host,
            "git_revision": git_revision(),
            "suite_version": __version__,
            "locust_version": locust_version,
            "started_at": time.time(),
            "ended_at": None,
            "status": "running",
            "exit_code": None,
            "thresholds_verdict": None,
            "options": safe_options(options),
            "total_requests": 0,
            "total_failures": 0,
            "dropped_rows": 0,
            "generator_bound": False,
            "max_cpu_percent": None,
            "notes": {},
        }
        self.outbox.set_run(self.run)
        self.writer.start()
        if self.ticker is None or self.ticker.dead:
            self.ticker = gevent.spawn(self._tick_forever)

    def take_node_data(self, data: dict[str, Any]) -> None:
        """Merge one node's recordings (a worker's shipment, or the local recorder's)."""
        if self.run is None:
            return
        run_id = self.run_id
        self.aggregator.merge(data["intervals"])
        self.outbox.add_requests(unship(data["requests"], run_id, data["node"]))
        for method, name, error, count, first, last in data["errors"]:
            self.outbox.count_error(run_id, method, name, error, count, first, last)
        for row in data["system"]:
            self.outbox.system.append((run_id, *row))
            self.cpu_samples[row[1]].append(row[3])
        self.dropped_on_workers += data.get("dropped", 0)

    def _tick_forever(self) -> None:
        while True:
            gevent.sleep(min(self.aggregator.interval_s, 2.0))
            try:
                self.tick()
            except Exception:
                logger.exception("obstack-load results: interval tick failed")

    def tick(self, close_all: bool = False) -> None:
        if self.run is None:
            return
        self.take_node_data(recorder.ship())  # this process's own rows and CPU samples
        # Worker reports come every 3 s; leave an interval open that long before closing it.
        cutoff = None if close_all else time.time() - 7.0
        run_id = self.run_id
        for key, bucket in self.aggregator.close(cutoff):
            self.outbox.intervals.append(
                interval_row(run_id, self.aggregator.interval_s, key, bucket)
            )
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            self._note_missing_workers(runner)
        if runner is not None and self.run["status"] == "running":
            self.outbox.user_counts.append(
                (
                    run_id,
                    time.time(),
                    runner.user_count,
                    json.dumps(dict(runner.user_classes_count)),
                )
            )

    def _note_missing_workers(self, runner: MasterRunner) -> None:
        """Record workers that stopped sending heartbeats: the run goes on without them, and its
        row says so, since its load was lower than asked from then on."""
        known = {w["worker"] for w in self.run["notes"].get("missing_workers", [])}
        missing = [
            c.id for c in runner.clients.values() if c.state == "missing" and c.id not in known
        ]
        if missing:
            notes = self.run["notes"]
            notes.setdefault("missing_workers", []).extend(
                {"worker": w, "noticed_at": time.time()} for w in missing
            )
            for worker in missing:
                logger.warning(
                    "obstack-load results: worker %s went missing; the run goes on without it",
                    worker,
                )
            self.outbox.set_run(self.run)

    def generator_bound(self) -> tuple[bool, float | None]:
        peak = None
        bound = False
        for samples in self.cpu_samples.values():
            if not samples:
                continue
            peak = max(peak or 0.0, max(samples))
            hot = sum(1 for s in samples if s >= GENERATOR_BOUND_CPU)
            if len(samples) >= 3 and hot / len(samples) >= GENERATOR_BOUND_SHARE:
                bound = True
        return bound, peak

    def finish_run(self, status: str, exit_code: int | None = None) -> None:
        if self.run is None:
            return
        self.tick(close_all=True)
        stats = self.environment.stats.total
        bound, peak = self.generator_bound()
        self.run.update(
            ended_at=time.time(),
            status=status,
            exit_code=exit_code if exit_code is not None else self.run["exit_code"],
            total_requests=stats.num_requests,
            total_failures=stats.num_failures,
            dropped_rows=self.outbox.dropped + self.dropped_on_workers,
            generator_bound=bound,
            max_cpu_percent=peak,
        )
        self.outbox.set_run(self.run)
        self.queue_ingest_counts()

    def queue_ingest_counts(self) -> None:
        """The run's ingestion ledger (merged from every worker), one row per signal and tenant."""
        for (signal, tenant_id), counts in sorted(ledger.counts.items()):
            values = asdict(counts)
            self.outbox.set_ingest(
                (self.run_id, signal, tenant_id, *(values[f] for f in INGEST_COUNT_FIELDS))
            )

    def set_thresholds(self, verdict: str, rows: list[tuple]) -> None:
        """Called by the thresholds plugin: verdict per run, one row per expression and scope."""
        if self.run is None:
            return
        self.run["thresholds_verdict"] = verdict
        self.outbox.set_run(self.run)
        self.outbox.thresholds.extend((self.run_id, *row) for row in rows)

    def set_note(self, key: str, value: Any) -> None:
        if self.run is None:
            return
        self.run["notes"][key] = value
        self.outbox.set_run(self.run)

    def finalize(self, exit_code: int) -> dict[str, Any]:
        """The last word at quit: close everything, write it all, report what happened."""
        if self.run is not None and self.finalized_run != self.run_id:
            self.finish_run("finished", exit_code)
            self.finalized_run = self.run_id
        if self.run is not None:
            self.queue_ingest_counts()  # the workers' last reports may land after test_stop
        written = self.writer.flush(timeout=60.0)
        pending = self.outbox.pending()
        dropped = self.outbox.dropped + self.dropped_on_workers
        info = {
            "results_db": self.location,
            "run_id": self.run_id,
            "written": written,
            "rows_not_written": pending,
            "dropped_rows": dropped,
            "generator_bound": bool(self.run and self.run["generator_bound"]),
            "missing_workers": [
                w["worker"] for w in (self.run or {}).get("notes", {}).get("missing_workers", [])
            ],
        }
        if not written:
            logger.error(
                "obstack-load results: %d rows could not be written to %s (%s)",
                pending,
                self.location,
                self.writer.last_error,
            )
        if dropped:
            logger.error(
                "obstack-load results: %d raw request rows were DROPPED (buffer full while the database was away)",
                dropped,
            )
        return info


recorder = NodeRecorder()
events.request.add_listener(recorder.on_request)
_run_recorder: list[RunRecorder] = []


def _profile_name(options: Any) -> str | None:
    config = getattr(options, "config", None)
    if config and config != "~/.locust.conf":
        return os.path.splitext(os.path.basename(config))[0]
    return None


def _guard(function):
    """Listeners must never raise into Locust: it would set exit code 2 or kill a greenlet."""

    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception:
            logger.exception("obstack-load results: %s failed", function.__name__)

    wrapped.__name__ = function.__name__
    return wrapped


@preflight
def _on_init(environment: Environment) -> None:
    """An unreachable database or a bad tag stops the run before any load."""
    options = environment.parsed_options
    parse_tags(options.run_tag)
    try:
        store = open_store(options.results_db)
        store.migrate()
        store.close()
    except StoreError as exc:
        raise ConfigError("--results-db", "", str(exc)) from None
    _run_recorder[:] = [RunRecorder(environment)]
    contributors.append(_contribute)


@events.test_start.add_listener
@_guard
def _on_test_start(environment: Environment, **kwargs: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        recorder.configure(environment.parsed_options, runner.client_id, "worker")
    else:
        role = "master" if isinstance(runner, MasterRunner) else "standalone"
        if _run_recorder:
            _run_recorder[0].start_run()
        recorder.configure(environment.parsed_options, role, role)
    recorder.start_sampler()


@events.report_to_master.add_listener
@_guard
def _on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
    data[REPORT_KEY] = recorder.ship()


@events.worker_report.add_listener
@_guard
def _on_worker_report(client_id: str, data: dict[str, Any]) -> None:
    shipment = data.get(REPORT_KEY)
    if shipment and _run_recorder:
        _run_recorder[0].take_node_data(shipment)


@events.test_stop.add_listener
@_guard
def _on_test_stop(environment: Environment, **kwargs: Any) -> None:
    if _run_recorder:
        _run_recorder[0].finish_run("stopped")
        _run_recorder[0].writer.wake.set()


def current() -> RunRecorder | None:
    """The master's (or standalone process's) run recorder, for other plugins such as thresholds."""
    return _run_recorder[0] if _run_recorder else None


def _contribute(exit_code: int) -> dict[str, Any]:
    return {"results": _run_recorder[0].finalize(exit_code)} if _run_recorder else {}

"""The run on the master (or the standalone process): its row and metadata, the merge of every
node's shipments into interval aggregates, the outbox and its one writer, and the run's end.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
import uuid
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
from locust import __version__ as locust_version
from locust.env import Environment
from locust.runners import MasterRunner

from obstack_load import __version__
from obstack_load.core.config import REPO_ROOT, ConfigError
from obstack_load.core.outcome import EXIT_RESULTS_INCOMPLETE, Ending
from obstack_load.results.intervals import IntervalAggregator, interval_row
from obstack_load.results.node import NodeRecorder
from obstack_load.results.rows import unship
from obstack_load.results.schema import INGEST_COUNT_FIELDS
from obstack_load.results.spool import write_spool
from obstack_load.results.store import DEFAULT_SQLITE_PATH, StoreError, open_migrated, redact
from obstack_load.results.writer import Outbox, ResultsWriter
from obstack_load.run.context import run_of
from obstack_load.run.events import suite

logger = logging.getLogger("obstack_load.results")
GENERATOR_BOUND_CPU = 90.0
GENERATOR_BOUND_SHARE = 0.2  # of a node's samples, before a run is called generator-bound
SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "metrics_key", "credential")


def parse_tags(values: list[str] | str | None) -> dict[str, str]:
    """``k=v`` tags: a list from the command line, or one text from the web UI's form, where
    several tags are separated by commas or new lines."""
    if isinstance(values, str):
        values = [v for v in values.replace("\n", ",").split(",") if v.strip()]
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
        elif key == "prometheus" and value and "@" in str(value):  # user:password@ in its URL
            value = str(value).split("://", 1)[0] + "://***@" + str(value).rsplit("@", 1)[1]
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


def profile_name(options: Any) -> str | None:
    config = getattr(options, "config", None)
    if config and config != "~/.locust.conf":
        return os.path.splitext(os.path.basename(config))[0]
    return None


class RunRecorder:
    """On the master or standalone process: the run row, the outbox and its writer."""

    def __init__(self, environment: Environment, node: NodeRecorder) -> None:
        """``node`` is this process's own recorder: its rows join the run at every tick."""
        self.environment = environment
        self.node = node
        options = environment.parsed_options
        self.target = options.results_db or DEFAULT_SQLITE_PATH
        self.location = redact(self.target)
        self.outbox = Outbox(options.results_buffer_rows)
        self.writer = ResultsWriter(lambda: open_migrated(self.target), self.outbox)
        self.aggregator = IntervalAggregator(options.results_interval)
        self.run: dict[str, Any] | None = None
        self.cpu_samples: dict[str, list[float]] = defaultdict(list)
        self.dropped_on_workers = 0
        self.ticker: gevent.Greenlet | None = None
        self.database_away = False  # the end-of-run wait for the database ran out

    @property
    def run_id(self) -> str | None:
        return self.run["run_id"] if self.run else None

    def start_run(self) -> None:
        if self.run is not None and self.run["status"] in ("running", "stopped"):
            # a new start in the web UI: the last run ended when it was stopped; its totals were
            # taken then (Locust has reset its stats for this one by now)
            if self.run["status"] == "running":
                self.finish_run()
            self.run.update(status="finished")
            self.outbox.set_run(self.run)
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
            "profile": profile_name(options),
            "locustfile": options.locustfile,
            "user_classes": sorted(c.__name__ for c in env.user_classes),
            "users": options.num_users,
            "spawn_rate": options.spawn_rate,
            "host": env.host,
            "git_revision": git_revision(),
            "suite_version": __version__,
            "locust_version": locust_version,
            "started_at": run_of(env).started_at,  # before any plugin's start
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
            # so that `runs` can tell a run whose process died (abandoned) from a running one
            "notes": {"process": {"host": socket.gethostname(), "pid": os.getpid()}},
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
        self.take_node_data(self.node.ship())  # this process's own rows and CPU samples
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
        limit = getattr(self.environment.parsed_options, "generator_bound_cpu", GENERATOR_BOUND_CPU)
        for samples in self.cpu_samples.values():
            if not samples:
                continue
            peak = max(peak or 0.0, max(samples))
            hot = sum(1 for s in samples if s >= limit)
            if len(samples) >= 3 and hot / len(samples) >= GENERATOR_BOUND_SHARE:
                bound = True
        return bound, peak

    def finish_run(self, status: str | None = None, exit_code: int | None = None) -> None:
        """Close every interval and take the run's totals from Locust's stats (still the
        run's own: Locust resets them only when the next run starts)."""
        if self.run is None:
            return
        self.tick(close_all=True)
        stats = self.environment.stats.total
        bound, peak = self.generator_bound()
        self.run.update(
            ended_at=time.time(),
            status=status or self.run["status"],
            exit_code=exit_code if exit_code is not None else self.run["exit_code"],
            total_requests=stats.num_requests,
            total_failures=stats.num_failures,
            dropped_rows=self.dropped(),
            generator_bound=bound,
            max_cpu_percent=peak,
        )
        self.outbox.set_run(self.run)
        self.queue_ingest_counts()

    def dropped(self) -> int:
        return self.outbox.dropped + self.dropped_on_workers

    def queue_ingest_counts(self) -> None:
        """The run's ingestion ledger (merged from every worker), one row per signal and tenant."""
        for (signal, tenant_id), counts in sorted(run_of(self.environment).ledger.counts.items()):
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

    def missing_workers(self) -> list[str]:
        return [w["worker"] for w in (self.run or {}).get("notes", {}).get("missing_workers", [])]

    def close(self, ending: Ending, wait_s: float) -> None:
        """The run's end, before its status is decided: every row goes to the database, waiting
        up to ``wait_s`` for one that is away; what is not stored is reported in ``ending``."""
        if self.run is None:
            return
        self.finish_run()  # the workers' last reports may land after test_stop
        ending.missing_workers = sorted({*ending.missing_workers, *self.missing_workers()})
        self.database_away = not self.flush_or_wait(wait_s)
        if self.database_away:
            ending.rows_not_stored += self.outbox.pending()
        ending.rows_not_stored += self.dropped()

    def flush_or_wait(self, wait_s: float) -> bool:
        """Write the outbox; while the database is away, say every few seconds how many rows
        wait and for how long more. False when the wait ran out."""
        deadline = time.monotonic() + wait_s
        step = 1.0  # the first word comes at once
        while not self.writer.flush(timeout=min(step, max(deadline - time.monotonic(), 0))):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            logger.warning(
                "obstack-load results: %s is unavailable (%s): %d rows waiting; waiting %.0f s "
                "more before spooling them to a local file",
                self.location, self.writer.last_error or "no answer yet", self.outbox.pending(), left,
            )  # fmt: skip
            step = 5.0
        return True

    def record_rows(self, rows: dict) -> int:
        """The plugins' own rows (``suite.rows_recording``), in one transaction of their own;
        returns how many could not be stored, said loudly."""
        count = sum(len(r) for r in rows.values())
        if not count:
            return 0
        try:
            store = open_migrated(self.target)
            try:
                store.record(rows)
            finally:
                store.close()
        except StoreError as exc:
            names = ", ".join(sorted(table.name for table in rows))
            logger.error("obstack-load results: %d rows of %s could NOT be stored: %s",
                         count, names, exc)  # fmt: skip
            return count
        return 0

    def end(self, status: str, exit_code: int, wait_s: float, spool_dir: Path) -> dict[str, Any]:
        """Write the run's final row (status and exit code); spool what the database never took."""
        if self.run is None:
            return {}
        run_id = self.run_id
        self.run.update(status=status, exit_code=exit_code)
        self.outbox.set_run(self.run)
        spooled, pending = None, 0
        # a database that already kept us waiting the whole wait gets one more second, no more
        if not self.writer.flush(timeout=1.0 if self.database_away else wait_s):
            self.writer.stop()
            pending = self.outbox.pending()
            self.run.update(status="results-incomplete", exit_code=EXIT_RESULTS_INCOMPLETE)
            self.outbox.set_run(self.run)
            path = spool_dir / f"{run_id}.spool.jsonl"
            try:
                spooled = write_spool(path, self.outbox.drain(), run_id, self.location)
            except OSError as exc:
                logger.error(
                    "obstack-load results: %d rows could NOT be written to %s nor spooled to %s "
                    "(%s): they are LOST",
                    pending, self.location, path, exc.strerror or exc,
                )  # fmt: skip
            else:
                logger.error(
                    "obstack-load results: %d rows could NOT be written to %s (%s); they are "
                    "spooled to %s: load them with `obstack-load results replay %s`",
                    pending, self.location, self.writer.last_error, spooled, spooled,
                )  # fmt: skip
        dropped = self.dropped()
        if dropped:
            logger.error(
                "obstack-load results: %d raw request rows were DROPPED (buffer full while the database was away)",
                dropped,
            )
        info = {
            "results_db": self.location,
            "run_id": run_id,
            "status": self.run["status"],
            "written": not pending,
            "rows_not_written": pending if spooled is None else 0,  # lost: not even spooled
            "rows_spooled": pending if spooled is not None else 0,
            "spool": str(spooled) if spooled else None,
            "dropped_rows": dropped,
            "generator_bound": bool(self.run["generator_bound"]),
            "missing_workers": self.missing_workers(),
        }
        suite.run_finalised.fire(
            environment=self.environment,
            run_id=run_id,
            status=self.run["status"],
            exit_code=self.run["exit_code"],
            info=info,
        )
        return info


def summary_lines(info: dict[str, Any]) -> list[str]:
    """The results section of the printed summary."""
    lines = [
        f"  results database {info['results_db']}: run {info['run_id']}, status {info['status']}"
    ]
    if info["rows_spooled"]:
        lines.append(
            f"  !! {info['rows_spooled']} rows could NOT be written to the results database: "
            f"spooled to {info['spool']}; load them with `obstack-load results replay {info['spool']}`"
        )
    if info["dropped_rows"]:
        lines.append(
            f"  !! {info['dropped_rows']} raw request rows were DROPPED (results buffer full)"
        )
    if info["rows_not_written"]:
        lines.append(
            f"  !! {info['rows_not_written']} rows could NOT be written to the results database "
            "nor spooled: they are LOST"
        )
    if info.get("missing_workers"):
        lines.append(
            f"  !! worker(s) went missing during the run: {', '.join(info['missing_workers'])}"
        )
    if info["generator_bound"]:
        lines.append(
            "  !! generator-bound: a load generator stayed CPU-saturated; latencies measure the generator"
        )
    return lines

"""The reference stack a ready experiment runs against when ``obstack-load chaos run`` is given
no ``--host``: a throwaway PostgreSQL from the system's binaries, the fault proxy on both sides
of the platform (load to platform: ``platform``; platform to database: ``postgres``), and the
platform itself, supervised (``obstack-load supervise``, which restarts it when killed).

Everything lives in one temporary directory and on free loopback ports, each process in a
session of its own (a Ctrl-C in the terminal reaches ``chaos run``, which ends the run and its
rollbacks first, then this stack), and ``stop()`` leaves no process, port or file behind."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from obstack_load.core.errors import ObstackLoadError

STARTUP_TIMEOUT_S = 120.0
PROXY_READY = "obstack-load proxy API on"  # chaos/proxy_api.py's READY_LINE
PLATFORM_READY = "obstack platform listening on"  # platform/server.py's (the suite never
# imports the platform: import-linter's contract)


class StackError(ObstackLoadError):
    """The reference stack could not be started; one line says why and what to do."""


def postgres_binary(name: str) -> str | None:
    """``name`` (initdb, pg_ctl) on PATH or in Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Started:
    """A process of the stack, with its output (merged) as it came."""

    name: str
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)


def start(name: str, command: list[str], ready: str, env: dict | None = None) -> Started:
    """Start ``command`` in a session of its own and return once a line of its output holds
    ``ready``; a ``StackError`` with its last lines if it exits or never says so."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    started = Started(name, process)
    seen = threading.Event()

    def pump() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            started.output.append(line)
            if ready in line:
                seen.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not seen.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            last = "".join(started.output[-5:]).strip().replace("\n", " | ")[-400:]
            raise StackError(f"{name} did not start: {last or 'no output'}")
    return started


def stop_process(process: subprocess.Popen, timeout: float = 60.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ThrowawayPostgres:
    """A PostgreSQL server of its own in ``directory``: initdb, pg_ctl start on a free loopback
    port, a database ``obstack`` with a random password. Run as root, the server runs as the
    ``postgres`` user, since PostgreSQL refuses to run as root."""

    def __init__(self, directory: Path) -> None:
        missing = [n for n in ("initdb", "pg_ctl") if postgres_binary(n) is None]
        if missing:
            raise StackError(
                f"no PostgreSQL server binaries ({', '.join(missing)}) to start the reference "
                "stack: apt-get install postgresql (or give --host for a stack of your own)"
            )
        self.directory = directory
        self.datadir = directory / "postgres"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.run_as = "postgres" if os.geteuid() == 0 else None

    @property
    def dsn(self) -> str:
        return f"postgresql://obstack:{self.password}@127.0.0.1:{self.port}/obstack"

    def _run(self, *command: str) -> None:
        if self.run_as:
            command = ("runuser", "-u", self.run_as, "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              start_new_session=True)  # fmt: skip
        if done.returncode != 0:
            why = " ".join((done.stderr or done.stdout).split())[-300:]
            raise StackError(
                f"PostgreSQL: {Path(command[-1]).name if command else ''} failed: {why}"
            )

    def start(self) -> None:
        pwfile = self.directory / "pw"
        pwfile.write_text(self.password)
        if self.run_as:
            shutil.chown(self.directory, self.run_as)
            shutil.chown(pwfile, self.run_as)
        self._run(postgres_binary("initdb"), "-D", str(self.datadir), "-U", "obstack",  # type: ignore[arg-type]
                  "--pwfile", str(pwfile), "-A", "scram-sha-256", "--no-sync", "-E", "UTF8")  # fmt: skip
        pwfile.unlink()
        self._run(postgres_binary("pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",  # type: ignore[arg-type]
                  "-l", str(self.directory / "postgres.log"), "-o",
                  f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off", "start")  # fmt: skip
        import psycopg

        admin = self.dsn.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE DATABASE obstack")

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            try:
                self._run(postgres_binary("pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",  # type: ignore[arg-type]
                          "-m", "fast", "stop")  # fmt: skip
            except StackError:
                self._run(postgres_binary("pg_ctl"), "-D", str(self.datadir), "-m",  # type: ignore[arg-type]
                          "immediate", "stop")  # fmt: skip


class ReferenceStack:
    """The platform on a throwaway PostgreSQL, supervised, behind the fault proxy; or, given
    ``dsn``, on that database (the tests' shared server), with ``platform_args`` added."""

    def __init__(self, dsn: str | None = None, platform_args: tuple[str, ...] = ()) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="obstack-chaos-stack-"))
        self.dsn, self.platform_args = dsn, platform_args
        self.postgres: ThrowawayPostgres | None = None
        self.started: list[Started] = []
        self.host = ""
        self.env: dict[str, str] = {}
        self.said: list[str] = []

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        cli = [sys.executable, "-m", "obstack_load.cli"]
        if self.dsn is None:
            self.postgres = ThrowawayPostgres(self.directory)
            self.postgres.start()
            self.said.append(f"PostgreSQL on 127.0.0.1:{self.postgres.port} (data in "
                             f"{self.directory})")  # fmt: skip
        database = conninfo_to_dict(self.dsn or self.postgres.dsn)  # type: ignore[union-attr]
        upstream = f"{database.get('host') or '127.0.0.1'}:{database.get('port') or 5432}"
        db_listen, platform_listen, platform_port = free_port(), free_port(), free_port()
        proxy = start("the fault proxy", [
            *cli, "proxy", "--port", "0",
            "--proxy", f"postgres=127.0.0.1:{db_listen}={upstream}",
            "--proxy", f"platform=127.0.0.1:{platform_listen}=127.0.0.1:{platform_port}",
        ], PROXY_READY)  # fmt: skip
        self.started.append(proxy)
        api = next(line for line in proxy.output if PROXY_READY in line).split(" on ", 1)[1].strip()
        self.said.append(
            f"the fault proxy, API {api}: postgres 127.0.0.1:{db_listen} -> {upstream}, "
            f"platform 127.0.0.1:{platform_listen} -> 127.0.0.1:{platform_port}"
        )
        pidfile, fault_file = self.directory / "platform.pid", self.directory / "fault"
        dsn = make_conninfo(self.dsn or self.postgres.dsn, host="127.0.0.1", port=db_listen)  # type: ignore[union-attr]
        # the platform reads its DSN from the environment, so that the password is on no
        # command line (ps) and in no log
        self.started.append(start("the platform", [
            *cli, "supervise", "--pidfile", str(pidfile), "--ready-line", PLATFORM_READY, "--",
            *cli, "platform", "--port", str(platform_port), "--db-pool-timeout", "1",
            "--test-fault-file", str(fault_file), *self.platform_args,
        ], PLATFORM_READY, env={"OBSTACK_PLATFORM_DB": dsn}))  # fmt: skip
        self.host = f"http://127.0.0.1:{platform_listen}"
        self._wait_healthy()
        self.said.append(
            f"the platform on 127.0.0.1:{platform_port}, supervised (pid file {pidfile}), "
            f"reached through the proxy at {self.host}"
        )
        self.env = {"TOXIPROXY_URL": api, "OBSTACK_PLATFORM_PIDFILE": str(pidfile),
                    "OBSTACK_FAULT_FILE": str(fault_file), "OBSTACK_HOST": self.host}  # fmt: skip

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.host}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise StackError(f"the platform was not ready at {self.host}/readyz in time")

    def stop(self) -> None:
        """Every process stopped, the database too, and the directory removed."""
        for started in reversed(self.started):  # kept, with their output, for a post-mortem
            stop_process(started.process)
        if self.postgres is not None:
            try:
                self.postgres.stop()
            finally:
                self.postgres = None
        shutil.rmtree(self.directory, ignore_errors=True)

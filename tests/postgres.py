"""A throwaway PostgreSQL server for tests: initdb + pg_ctl from PATH or Debian's install.

It listens on a free loopback port in a temporary directory. Run as root (as CI is), the server
runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from obstack_load.chaos.stack import postgres_binary
from tests.support import REPO, free_port

PASSWORD = "pg-test-Secr3t"


def find_bin(name: str) -> str | None:
    return postgres_binary(name)


@dataclass
class PostgresServer:
    datadir: Path
    port: int
    run_as: str | None

    @property
    def dsn(self) -> str:
        return f"postgresql://obstack:{PASSWORD}@127.0.0.1:{self.port}/obstack"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.run_as:
            command = ("runuser", "-u", self.run_as, "--", *command)
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        self._run(
            find_bin("pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60", "-l", str(self.datadir / "server.log"),
            "-o", f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(
            find_bin("pg_ctl"),
            "-D",
            str(self.datadir),
            "-w",
            "-t",
            "60",
            "-m",
            mode,
            "stop",
            check=False,
        )

    def database(self, name: str) -> str:
        """A new, empty database on this server; its DSN."""
        import psycopg

        admin = self.dsn.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn.rsplit("/", 1)[0] + f"/{name}"

    def _admin(self):
        import psycopg

        return psycopg.connect(self.dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True)

    def take_away(self, name: str) -> None:
        """Database ``name`` goes away: new connections refused, open ones terminated."""
        with self._admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )

    def give_back(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    def wait_ready(self, timeout: float = 60) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.dsn, connect_timeout=5).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def available() -> bool:
    return bool(find_bin("initdb") and find_bin("pg_ctl"))


def start_postgres() -> PostgresServer:
    run_as = "postgres" if os.geteuid() == 0 else None
    datadir = Path(tempfile.mkdtemp(prefix="obstack-pg-"))
    if run_as:
        shutil.chown(datadir, run_as)
    server = PostgresServer(datadir / "data", free_port(), run_as)
    pwfile = datadir / "pw"
    pwfile.write_text(PASSWORD)
    if run_as:
        shutil.chown(pwfile, run_as)
    server._run(
        find_bin("initdb"), "-D", str(server.datadir), "-U", "obstack", "--pwfile", str(pwfile),
        "-A", "scram-sha-256", "--no-sync", "-E", "UTF8",
    )  # fmt: skip
    server.start()
    import psycopg

    admin = server.dsn.rsplit("/", 1)[0] + "/postgres"
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute("CREATE DATABASE obstack")
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return server


def seeded_database(server: PostgresServer, name: str, rows: int, days: int = 1) -> str:
    """A new database filled by ``obstack-load db seed`` with ``rows`` points; its DSN."""
    dsn = server.database(name)
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "db", "seed", "--rows", str(rows), "--days",
         str(days), "--db", dsn], cwd=REPO, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"db seed failed: {done.stderr}")
    return dsn

"""Process faults: a supervised process that can be killed and restarted ("a pod deleted") or
paused and resumed ("a hung process").

``Supervisor`` runs a command and restarts it when a fault kills it, as a pod's controller
would, after ``restart_delay`` seconds. It records what happened and when: the kill, the
restart, and the moment the new process says it is ready (a line of its output), so a
measured recovery time can be set against the true one. ``obstack-load supervise`` runs one
from the command line (``keep_running``), with a pid file for ``activities.kill_process``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Event:
    at: float  # unix seconds
    what: str  # started, ready, killed, paused, resumed, exited


@dataclass
class Supervisor:
    command: Sequence[str]
    ready_line: str = ""  # a process is ready once a line of its output contains this
    restart_delay: float = 0.0
    cwd: str | None = None
    env: dict[str, str] | None = None
    pidfile: str | None = None  # the running process's id, for a fault to find it
    echo: bool = False  # pass the process's output on, and say what happens to it
    events: list[Event] = field(default_factory=list)
    process: subprocess.Popen | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _stopping: bool = False

    def start(self) -> None:
        self._ready.clear()
        self.process = subprocess.Popen(
            list(self.command), cwd=self.cwd, env={**os.environ, **(self.env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        if self.pidfile:
            Path(self.pidfile).write_text(f"{self.process.pid}\n")
        self._note("started")
        threading.Thread(target=self._watch, args=(self.process,), daemon=True).start()

    def _watch(self, process: subprocess.Popen) -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            if self.echo:
                print(line, end="", flush=True)
            if self.ready_line and self.ready_line in line and not self._ready.is_set():
                self._note("ready")
                self._ready.set()

    def _note(self, what: str) -> None:
        self.events.append(Event(time.time(), what))
        if self.echo:
            pid = self.process.pid if self.process else "-"
            print(f"obstack supervise: {what} (pid {pid}) at {time.time():.3f}", flush=True)

    def keep_running(self) -> int:
        """Start the process and start it again whenever it dies, after ``restart_delay``, as a
        pod's controller does, until ``stop()``; return its last exit code."""
        self.start()
        while True:
            assert self.process is not None
            code = self.process.wait()
            if self._stopping:
                return code
            self._note(f"exited with {code}")
            time.sleep(self.restart_delay)
            if self._stopping:
                return code
            self.start()

    def wait_ready(self, timeout: float = 120.0) -> bool:
        return self._ready.wait(timeout)

    def kill_and_restart(self) -> None:
        """SIGKILL, as a pod deleted; a new process after ``restart_delay``."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)
        self._note("killed")
        if self.restart_delay:
            time.sleep(self.restart_delay)
        self.start()

    def pause(self, seconds: float) -> None:
        """SIGSTOP, then SIGCONT after ``seconds``: a process that hangs and comes back."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self._note("paused")
        time.sleep(seconds)
        self.process.send_signal(signal.SIGCONT)
        self._note("resumed")

    def last(self, what: str) -> float | None:
        found = [e.at for e in self.events if e.what == what]
        return found[-1] if found else None

    def request_stop(self) -> None:
        """Ask the process to end (SIGTERM) without waiting, so a signal handler can call it
        while ``keep_running`` waits on the process: that wait then returns, and so does it."""
        self._stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int | None:
        self.request_stop()
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=60)

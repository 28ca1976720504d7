"""``obstack-load chaos run FILE``: a chaos experiment under load, as one command.

It checks the experiment (one line naming the file and key if it is wrong, exit code 2), then
runs Locust as a child process (so this command imports no Locust) with the experiment's load
(``extensions.obstack.load``: locustfile, ``--config`` profile, users) and ``--chaos-experiment
FILE``. The run ends when the experiment does, bounded by the experiment's longest length; the
exit code is Locust's: 0 passed, 8 the verdict failed, 9 a rollback failed and left its fault in
place (docs/chaos.md). A signal to this command is passed on to Locust, and waited for.

Without ``--host``, it first brings up the reference stack (``chaos/stack.py``: a throwaway
PostgreSQL, the fault proxy on both sides, the supervised platform), says what it started,
runs the experiment against it, and takes it all down again, whatever way the run ends.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from obstack_load.core.config import ConfigError
from obstack_load.core.vocabulary import add_run_options, run_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", help="the experiment file (Chaos Toolkit's format)")
    parser.add_argument("--host", help="the target's base URL; without it, the reference stack "
                        "is started for the run and taken down after it")  # fmt: skip
    add_run_options(parser)
    parser.add_argument("--summary-json", help="write the run's summary, verdict included, here")


def locust_command(args: argparse.Namespace, settings, host: str) -> list[str]:
    load = settings.load
    command = [sys.executable, "-m", "locust", "-f", load.locustfile_path]
    if load.config_path:
        command += ["--config", load.config_path]
    command += [
        "--headless", "--host", host, "-u", str(load.users), "-r", str(load.spawn_rate),
        "-t", f"{settings.backstop_s()}s", "--stop-timeout", "10", "--monitor",
        # requests fail while a fault is on: the verdict, not Locust's failures, is the exit code
        "--exit-code-on-error", "0",
        "--chaos-experiment", args.experiment,
    ]  # fmt: skip
    command += run_options(args)
    if args.summary_json:
        command += ["--summary-json", args.summary_json]
    return command + list(args.after_dashes)


def run(args: argparse.Namespace) -> int:
    from obstack_load.chaos import experiment

    try:
        settings = experiment.load(args.experiment)
    except ConfigError as exc:
        print(f"obstack-load chaos: {exc}", file=sys.stderr)
        return 2
    if args.host:
        print(f"chaos experiment: {settings.title} ({args.experiment}) against {args.host}",
              flush=True)  # fmt: skip
        return run_passing_signals_on(locust_command(args, settings, args.host))
    return run_on_the_reference_stack(args, settings)


class Interrupted(Exception):
    """A signal came while the reference stack was starting: take it down, run nothing."""


def run_on_the_reference_stack(args: argparse.Namespace, settings) -> int:
    from obstack_load.chaos.stack import ReferenceStack, StackError

    def interrupt(signum: int, frame) -> None:
        raise Interrupted(signal.Signals(signum).name)

    handlers = {
        s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    stack = ReferenceStack()
    try:
        print("obstack-load chaos: no --host: starting the reference stack", flush=True)
        stack.start()
        for line in stack.said:
            print(f"  started {line}", flush=True)
        print(f"chaos experiment: {settings.title} ({args.experiment}) against {stack.host}",
              flush=True)  # fmt: skip
        return run_passing_signals_on(
            locust_command(args, settings, stack.host), env={**os.environ, **stack.env}
        )
    except StackError as exc:
        print(f"obstack-load chaos: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"obstack-load chaos: {exc} while the reference stack was starting", file=sys.stderr)
        return 130
    finally:
        for signum in handlers:  # a second signal must not cut the teardown
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
        print("obstack-load chaos: the reference stack is stopped and removed", flush=True)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def run_passing_signals_on(command: list[str], env: dict[str, str] | None = None) -> int:
    """Run Locust and wait for it, whatever signal this process gets: SIGTERM, SIGINT or SIGHUP
    is passed on to it, so that it ends its run as it would itself (rollbacks first, then the
    record) and no load or fault outlives this command. Locust runs in a session of its own,
    so a signal to the whole group reaches it once, through here."""
    child = subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL, env=env)

    def pass_on(signum: int, frame) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, pass_on)
    return child.wait()

"""``obstack-load proxy``, ``supervise`` and ``chaos run``: the fault proxy, the supervised
process, and a chaos experiment under load."""

from __future__ import annotations

import argparse
import sys

from obstack_load.cli.common import group, module_command, positive


def _proxy(args: argparse.Namespace) -> int:
    from obstack_load.chaos.proxy_api import parse_proxy, serve

    try:
        initial = [parse_proxy(text) for text in args.proxy]
    except ValueError as exc:
        print(f"obstack-load proxy: {exc}", file=sys.stderr)
        return 2
    serve(args.host, args.port, initial)
    return 0


def _supervise(args: argparse.Namespace) -> int:
    import signal

    from obstack_load.chaos.faults import Supervisor

    command = args.after_dashes
    if not command:
        print("obstack-load supervise: give the command to run after --", file=sys.stderr)
        return 2
    supervisor = Supervisor(command, ready_line=args.ready_line, restart_delay=args.restart_delay,
                            pidfile=args.pidfile, echo=True)  # fmt: skip
    for caught in (signal.SIGTERM, signal.SIGINT):
        signal.signal(caught, lambda *_: supervisor.request_stop())
    return supervisor.keep_running() or 0


def register(commands) -> None:
    proxy = commands.add_parser(
        "proxy",
        help="run the fault proxy (Toxiproxy's toxics and control API)",
        description="Run the fault proxy: TCP proxies with Toxiproxy's toxics, created and "
        "changed through Toxiproxy's HTTP control API (docs/chaos.md).",
    )
    proxy.add_argument("--host", default="127.0.0.1", help="the API's address (default 127.0.0.1)")
    proxy.add_argument("--port", type=positive(int), default=8474,
                       help="the API's port; 0 takes a free one (default 8474, Toxiproxy's)")  # fmt: skip
    proxy.add_argument("--proxy", action="append", default=[], metavar="NAME=LISTEN=UPSTREAM",
                       help="a proxy to make at start (repeatable), e.g. "
                       "db=127.0.0.1:6432=127.0.0.1:5432")  # fmt: skip
    proxy.set_defaults(func=_proxy)

    supervise = commands.add_parser(
        "supervise",
        help="run a command and restart it whenever it dies, as a pod's controller does",
        description="Run COMMAND, write its process id to --pidfile, and start it again "
        "--restart-delay seconds after it dies (a chaos experiment's kill_process finds it "
        'there): the "pod deleted" fault (docs/chaos.md).',
    )
    supervise.add_argument("--pidfile", required=True, help="where the running process's id goes")
    supervise.add_argument("--restart-delay", type=positive(float), default=0.0,
                           help="seconds between a death and the restart (default 0)")  # fmt: skip
    supervise.add_argument("--ready-line", default="", metavar="TEXT",
                           help="say when the process is ready: a line of its output holds TEXT")  # fmt: skip
    supervise.set_defaults(after_dashes=[])  # the command to run, after --
    supervise.set_defaults(func=_supervise)

    from obstack_load.chaos import command as chaos_command

    chaos_commands = group(
        commands, "chaos", "chaos experiments under load",
        "Chaos experiments in Chaos Toolkit's format, run under load and judged (docs/chaos.md).",
    )  # fmt: skip
    module_command(chaos_commands, "run", chaos_command,
                   "run an experiment under load and print its verdict")  # fmt: skip

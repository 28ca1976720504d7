"""``obstack-load profiles check`` and ``obstack-load options``: the load profiles, checked
without running them, and the suite's options as Locust's help shows them, in their groups."""

from __future__ import annotations

import argparse

from obstack_load.cli.common import group
from obstack_load.core.config import ConfigError


def _profiles_check(args: argparse.Namespace) -> int:
    import glob

    from obstack_load.plugins.profiles import check_profile

    paths = args.profiles or sorted(glob.glob("config/*.conf"))
    failures = 0
    for path in paths:
        try:
            check = check_profile(path)
        except ConfigError as exc:
            failures += 1
            print(f"FAIL {exc}")
            continue
        load = (
            f"{check.stages} stages ({check.shape})"
            if check.stages
            else f"{check.users} users for {check.run_time}s"
        )
        rate = f", {check.arrival_rate:g} iterations/s" if check.arrival_rate else ""
        print(
            f"ok   {path}: {check.locustfile} {', '.join(check.user_classes)}; {load}{rate}; {len(check.thresholds)} thresholds"
        )
    return 1 if failures else 0


def _options(args: argparse.Namespace) -> int:
    # A child process: this command imports no Locust (and Locust's own --help cannot show a
    # locustfile's options, locust#2917)
    import subprocess
    import sys

    command = [sys.executable, "-m", "obstack_load.plugins.help", *args.locustfiles]
    return subprocess.run(command).returncode


def register(commands) -> None:
    options = commands.add_parser(
        "options",
        help="every option of Locust and of the suite, in its group, with its OBSTACK_* variable",
        description="Locust's --help with the locustfile's suite options in their groups "
        "(`locust -f FILE --help` cannot show them: it prints before loading FILE).",
    )
    options.add_argument("locustfiles", nargs="*", metavar="LOCUSTFILE",
                         help="default locustfiles/mixed.py")  # fmt: skip
    options.set_defaults(func=_options)

    profiles_commands = group(
        commands, "profiles", "check load profiles", "Load profiles in config/."
    )
    check = profiles_commands.add_parser(
        "check",
        help="parse and validate profiles without running them",
        description="Parse and validate profiles (default config/*.conf).",
    )
    check.add_argument("profiles", nargs="*", help="profile files (default config/*.conf)")
    check.set_defaults(func=_profiles_check)

"""``obstack-load profiles check``: parse and validate load profiles without running them."""

from __future__ import annotations

import argparse

from obstack_load.cli.common import group
from obstack_load.config import ConfigError


def _profiles_check(args: argparse.Namespace) -> int:
    import glob

    from obstack_load.profiles import check_profile

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


def register(commands) -> None:
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

"""Checking a profile (``config/<name>.conf``) without running it.

Locust parses the file exactly as ``locust --config`` would, after the profile's locustfile is
imported so that every plugin option is known; then the suite's own checks run: thresholds,
load shape, arrival rate, ingestion knobs. ``obstack-load profiles check`` and the tests use it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obstack_load.core.config import REPO_ROOT, ConfigError


@dataclass(frozen=True)
class ProfileCheck:
    path: str
    locustfile: str
    user_classes: list[str]
    shape: str
    stages: int
    thresholds: list[str]
    users: int | None
    run_time: int | None
    arrival_rate: float


def _import_locustfile(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"obstack_profile_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def check_profile(path: str | Path) -> ProfileCheck:
    from locust import User
    from locust.argument_parser import get_parser

    from obstack_load.run.shapes import stages_for
    from obstack_load.thresholds.plugin import load_thresholds

    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "", "no such profile")
    locustfile = None
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "locustfile":
            locustfile = value.split("#")[0].strip()
    if not locustfile:
        raise ConfigError(path, "locustfile", "is required")
    locustfile_path = REPO_ROOT / locustfile
    if not locustfile_path.is_file():
        raise ConfigError(path, "locustfile", f"{locustfile} does not exist")
    module = _import_locustfile(locustfile_path)
    users = sorted(
        name for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, User) and not getattr(value, "abstract", False)
    )  # fmt: skip
    if not users:
        raise ConfigError(path, "locustfile", f"{locustfile} defines no user class")
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            # get_parser() is what locust's main uses: Locust's options plus every plugin's
            options = get_parser().parse_args(args=["--config", str(path)])
    except SystemExit:
        message = " ".join(errors.getvalue().split())
        raise ConfigError(path, "", message or "Locust could not parse it") from None
    thresholds = load_thresholds(options)
    stages = stages_for(options)
    if options.arrival_rate < 0:
        raise ConfigError(path, "arrival-rate", "must be >= 0")
    if hasattr(options, "otlp_batch_size"):  # the profile's locustfile has ingestion users
        from obstack_load.users.ingest_options import settings_from

        settings_from(options)
    if stages is None and not options.run_time and options.headless:
        raise ConfigError(
            path, "run-time", "a headless profile with a constant shape needs a run time"
        )
    return ProfileCheck(
        path=str(path),
        locustfile=locustfile,
        user_classes=users,
        shape=options.load_shape,
        stages=len(stages or []),
        thresholds=[t.expression for t in thresholds],
        users=options.num_users,
        run_time=options.run_time,
        arrival_rate=options.arrival_rate,
    )

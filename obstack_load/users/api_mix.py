"""The API session mix: behaviour weights, think times, time ranges, roles and endpoint paths.

Read from a YAML file (``--api-mix``, default ``config/api-mix.yaml``); every mistake names the
file and the key. Paths are templates with ``{id}``/``{panel}`` so the suite can be pointed at a
real platform whose routes differ.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from obstack_load.core.config import REPO_ROOT, Section, load_yaml, parse_duration

DEFAULT_MIX_FILE = REPO_ROOT / "config" / "api-mix.yaml"
BEHAVIOURS = ("dashboards", "logs", "traces", "alerts", "admin")
PATH_KEYS = (
    "login", "refresh", "logout", "dashboards", "dashboard", "panel_query", "logs_search", "traces_search",
    "trace", "alerts", "alert_ack", "admin_users", "admin_user", "admin_keys", "admin_key_rotate",
)  # fmt: skip


@dataclass(frozen=True)
class TimeRange:
    range: str
    step: str
    weight: float


@dataclass(frozen=True)
class ApiMix:
    behaviours: dict[str, float]
    think_min: float
    think_max: float
    ranges: tuple[TimeRange, ...]
    roles: dict[str, float]
    paths: dict[str, str]

    def path(self, key: str, **ids: str) -> str:
        return self.paths[key].format(**ids)

    def name(self, key: str) -> str:
        """The grouped request name: ids replaced by [id], so stats do not explode."""
        return self.paths[key].replace("{id}", "[id]").replace("{panel}", "[panel]")


@functools.cache
def load_mix(path: str | None = None) -> ApiMix:
    source = Path(path) if path else DEFAULT_MIX_FILE
    top = Section(source, "", load_yaml(source))
    behaviours = top.weights("mix", {b: 1 for b in BEHAVIOURS})
    for name in behaviours:
        if name not in BEHAVIOURS:
            raise top.error(f"mix.{name}", f"unknown behaviour; use {', '.join(BEHAVIOURS)}")
    think = top.section("think_time", {"min": 1.0, "max": 3.0})
    low = think.number("min", 1.0, minimum=0.0)
    high = think.number("max", 3.0, minimum=low)
    ranges = []
    raw_ranges = top.data.get("ranges", [{"range": "1h", "step": "1m", "weight": 1}])
    if not isinstance(raw_ranges, list) or not raw_ranges:
        raise top.error("ranges", "must be a non-empty list")
    for index, raw in enumerate(raw_ranges):
        entry = Section(source, f"ranges[{index}]", raw)
        for key in ("range", "step"):
            try:
                parse_duration(entry.string(key))
            except ValueError as exc:
                raise entry.error(key, str(exc)) from None
        ranges.append(
            TimeRange(
                entry.string("range"),
                entry.string("step"),
                entry.number("weight", 1.0, minimum=0.0),
            )
        )
    roles = top.weights("roles", {"viewer": 6, "editor": 3, "admin": 1})
    paths_section = top.section("paths", {})
    paths = {}
    for key in PATH_KEYS:
        value = paths_section.data.get(key)
        if value is None:
            raise paths_section.error(key, "is required")
        if not isinstance(value, str) or not value.startswith("/"):
            raise paths_section.error(key, f"must be a path starting with /, got {value!r}")
        paths[key] = value
    return ApiMix(behaviours, low, high, tuple(ranges), roles, paths)

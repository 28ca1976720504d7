"""Loading YAML config files with errors that name the file and the key.

Every configuration mistake a user can make should surface as one `ConfigError` line such as
``config/tenants.yaml: tenants.count: must be a positive integer, got 'ten'`` before any load starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from obstack_load.core.errors import ObstackLoadError

REPO_ROOT = Path(__file__).resolve().parents[2]
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``1h``, ``7d`` or a bare number of seconds; ValueError otherwise."""
    match = DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 1h or 7d")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The shortest ``parse_duration`` text for ``seconds``: 0.5 is ``500ms``, 3600 is ``1h``."""
    for unit in ("w", "d", "h", "m", "s"):
        if seconds >= UNIT_SECONDS[unit] and seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds / UNIT_SECONDS[unit]:g}{unit}"
    return f"{seconds * 1000:g}ms" if seconds else "0"


class ConfigError(ObstackLoadError, ValueError):
    """A configuration value is missing or wrong; the message names the file and the key."""

    def __init__(self, source: str | Path, key: str, problem: str) -> None:
        self.source = str(source)
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")


def as_number(raw: Any, kind: type, source: str | Path, key: str) -> Any:
    """``kind(raw)``, or a ``ConfigError`` saying that ``raw`` is not an integer (or a number)."""
    try:
        return kind(raw)
    except (TypeError, ValueError):
        problem = f"{raw!r} is not a{'n integer' if kind is int else ' number'}"
        raise ConfigError(source, key, problem) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, turning I/O and syntax problems into a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "syntax"
        raise ConfigError(path, where, f"invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", "top level must be a mapping")
    return data


class Section:
    """Typed access to one mapping inside a config file, remembering where it came from."""

    def __init__(self, source: str | Path, prefix: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(source, prefix, f"must be a mapping, got {type(data).__name__}")
        self.source = source
        self.prefix = prefix
        self.data = data

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self._key(key), problem)

    def section(self, key: str, default: dict | None = None) -> Section:
        value = self.data.get(key, default if default is not None else {})
        return Section(self.source, self._key(key), value)

    def integer(self, key: str, default: int | None = None, minimum: int | None = None) -> int:
        value = self.data.get(key, default)
        if value is None:
            raise self.error(key, "is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        return value

    def number(self, key: str, default: float | None = None, minimum: float | None = None) -> float:
        value = self.data.get(key, default)
        if value is None:
            raise self.error(key, "is required")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        return float(value)

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.error(key, "is required")
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def weights(self, key: str, default: dict[str, float]) -> dict[str, float]:
        raw = self.data.get(key, default)
        if not isinstance(raw, dict) or not raw:
            raise self.error(key, "must be a non-empty mapping of name: weight")
        out: dict[str, float] = {}
        for name, weight in raw.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise ConfigError(
                    self.source,
                    f"{self._key(key)}.{name}",
                    f"must be a number >= 0, got {weight!r}",
                )
            out[str(name)] = float(weight)
        if sum(out.values()) <= 0:
            raise self.error(key, "weights must not all be zero")
        return out

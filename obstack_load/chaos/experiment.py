"""A chaos experiment file: Chaos Toolkit's own format, with our additions in its extensions.

The file is what ``chaos run`` (Chaos Toolkit) reads: a ``steady-state-hypothesis`` of probes
with tolerances, a ``method`` of faults and pauses, and ``rollbacks`` that always run. What
Chaos Toolkit lacks is in ``extensions`` under ``name: obstack``:

- ``load``: the Locust run alongside (``locustfile``, ``config``, ``users``, ``spawn_rate``);
- ``warmup_s``: how long the load runs before the experiment starts;
- ``recovery_budget_s``: how long the steady state may take to come back after the fault;
- ``allowance``: probes with tolerances that must hold every second while the fault is on;
- ``probes``: more probes, each with a Litmus ``mode``: ``before`` (the fault), ``after``
  (recovery), ``continuous`` (every second throughout) or ``during`` (every second of the fault);
- ``verify_data``: ingest marked points during the fault and read them back afterwards;
  ``max_data_lost``: how many accepted points may be missing (0).

``load`` reads and checks a file, with every mistake one ``ConfigError`` line naming the file
and key, before any load starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from obstack_load.core.config import ConfigError, Section

EXTENSION = "obstack"
MODES = ("before", "after", "continuous", "during")


@dataclass
class LoadSpec:
    """The Locust run alongside the experiment (used by ``obstack-load chaos run``)."""

    locustfile: str = "locustfiles/mixed.py"
    config: str | None = None
    users: int = 10
    spawn_rate: float = 10.0
    # the two files as found from the experiment file (``located``), whatever the current
    # directory; as written when the experiment came from elsewhere (Chaos Toolkit's control)
    locustfile_path: str = ""
    config_path: str | None = None


def located(experiment_path: str | Path, written: str, source: str | Path, key: str) -> str:
    """A path written in an experiment file, found relative to the file's own folder or one of
    the folders holding it (so ``config/chaos/load.conf`` in ``config/chaos/x.yaml`` is found
    from any directory); a one-line ``ConfigError`` naming the key when it is nowhere."""
    if Path(written).is_absolute():
        found = Path(written)
    else:
        folder = Path(experiment_path).resolve().parent
        found = next(
            (base / written for base in (folder, *folder.parents) if (base / written).is_file()),
            Path(written),
        )  # fmt: skip
    if not found.is_file():
        raise ConfigError(source, key, f"{written}: no such file next to the experiment or "
                          "in a folder above it")  # fmt: skip
    return str(found)


# the probes' own time (a hung target makes each take its timeout), a busy machine
BACKSTOP_MARGIN_S = 120.0


def longest_window_s(experiment: dict[str, Any]) -> float:
    """The longest ``window_s`` of the hypothesis's load probes (0 when none has one)."""
    probes = (experiment.get("steady-state-hypothesis") or {}).get("probes", [])
    windows = [
        float(((probe.get("provider") or {}).get("arguments") or {}).get("window_s", 0) or 0)
        for probe in probes
    ]
    return max(windows, default=0.0)


@dataclass
class ChaosSettings:
    source: str
    experiment: dict[str, Any]
    load: LoadSpec
    warmup_s: float = 10.0
    recovery_budget_s: float = 30.0
    allowance: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)  # each with its "mode"
    verify_data: bool = True
    max_data_lost: int = 0

    @property
    def title(self) -> str:
        return str(self.experiment.get("title", ""))

    def longest_s(self) -> float:
        """An upper bound on the experiment's length: the warm-up and up to another one for the
        steady state (``plugin.await_steady_state``), the recovery budget and the window the
        recovered hypothesis must then hold for (``activities.wait_for_recovery``), and every
        pause."""
        total = 2 * self.warmup_s + self.recovery_budget_s + longest_window_s(self.experiment)
        for activity in [*self.experiment.get("method", []), *self.experiment.get("rollbacks", [])]:
            pauses = activity.get("pauses") or {}
            total += float(pauses.get("before", 0)) + float(pauses.get("after", 0))
            # our activities that take time of their own: observe, pause_process
            seconds = ((activity.get("provider") or {}).get("arguments") or {}).get("seconds")
            if seconds is not None:
                total += self.number(seconds)
        return total

    def backstop_s(self) -> int:
        """The load's ``--run-time``: the experiment ends the run, this only bounds it. The
        margin is for what no setting bounds: the probes' own time, the data read back, a
        busy machine."""
        return int(self.longest_s() + BACKSTOP_MARGIN_S)

    def number(self, value: Any) -> float:
        """An argument's value in seconds, a ``${name}`` read as Chaos Toolkit will: from the
        configuration's environment variable, else its default (0 when it cannot be read)."""
        import os

        text = str(value).strip()
        if text.startswith("${") and text.endswith("}"):
            entry = (self.experiment.get("configuration") or {}).get(text[2:-1])
            if isinstance(entry, dict):
                text = str(os.environ.get(str(entry.get("key", "")), entry.get("default", 0)))
            else:
                text = str(entry if entry is not None else 0)
        try:
            return float(text)
        except ValueError:
            return 0.0

    def mode_probes(self) -> list[dict[str, Any]]:
        """The allowance (mode ``during``) and the other probes, each with its mode."""
        return [{**p, "mode": "during"} for p in self.allowance] + self.probes


def read(path: str | Path) -> dict[str, Any]:
    """The experiment as a mapping, from YAML or JSON, or a one-line ``ConfigError``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read the experiment: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        problem = " ".join(str(exc).split())
        kind = path.suffix.lstrip(".") or "YAML"
        raise ConfigError(path, "", f"not valid {kind}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "", "an experiment must be a mapping")
    return data


def _check_probe(section: Section, index: int, probe: Any, modes: bool) -> dict[str, Any]:
    key = f"{section.prefix}[{index}]"
    if not isinstance(probe, dict):
        raise ConfigError(section.source, key, "must be a probe (a mapping)")
    for needed in ("name", "provider", "tolerance"):
        if needed not in probe:
            raise ConfigError(section.source, f"{key}.{needed}", "is required")
    if modes and probe.get("mode") not in MODES:
        raise ConfigError(
            section.source, f"{key}.mode", f"must be one of {', '.join(MODES)}, "
            f"got {probe.get('mode')!r}",
        )  # fmt: skip
    return {"type": "probe", **probe}


def load(path: str | Path) -> ChaosSettings:
    """Read and check an experiment: Chaos Toolkit's own checks, then the ``obstack`` extension."""
    return check(read(path), path)


def check(data: dict[str, Any], path: str | Path) -> ChaosSettings:
    """Check an experiment read from ``path``: Chaos Toolkit's own checks, then ours."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    try:
        ensure_experiment_is_valid(data)
    except ChaosException as exc:
        raise ConfigError(path, "", " ".join(str(exc).split())) from None
    found = [
        e for e in data.get("extensions") or [] if isinstance(e, dict) and e.get("name") == EXTENSION
    ]  # fmt: skip
    ours = Section(path, "extensions.obstack", found[0] if found else {})
    load_section = ours.section("load")
    config = load_section.data.get("config")
    spec = LoadSpec(
        locustfile=load_section.string("locustfile", LoadSpec.locustfile),
        config=load_section.string("config") if config is not None else None,
        users=load_section.integer("users", LoadSpec.users, minimum=1),
        spawn_rate=load_section.number("spawn_rate", LoadSpec.spawn_rate, minimum=0.1),
    )
    spec.locustfile_path, spec.config_path = spec.locustfile, spec.config
    if Path(path).is_file():  # a file: its paths are its own, not the current directory's
        key = "extensions.obstack.load"
        spec.locustfile_path = located(path, spec.locustfile, path, f"{key}.locustfile")
        if spec.config is not None:
            spec.config_path = located(path, spec.config, path, f"{key}.config")
    lists = {}
    for key in ("allowance", "probes"):
        raw = ours.data.get(key, [])
        if not isinstance(raw, list):
            raise ours.error(key, "must be a list of probes")
        section = Section(path, f"extensions.obstack.{key}", {})
        lists[key] = [_check_probe(section, i, p, key == "probes") for i, p in enumerate(raw)]
    verify = ours.data.get("verify_data", True)
    if not isinstance(verify, bool):
        raise ours.error("verify_data", f"must be true or false, got {verify!r}")
    return ChaosSettings(
        source=str(path),
        experiment=data,
        load=spec,
        warmup_s=ours.number("warmup_s", 10.0, minimum=0),
        recovery_budget_s=ours.number("recovery_budget_s", 30.0, minimum=1),
        allowance=lists["allowance"],
        probes=lists["probes"],
        verify_data=verify,
        max_data_lost=ours.integer("max_data_lost", 0, minimum=0),
    )

"""The seam's plain parts, without a process: the figures file's checks, the reference
platform's /metrics read as figures, and figures over a window (n/a stays n/a)."""

from __future__ import annotations

import pytest

from obstack_load.core.config import ConfigError
from obstack_load.figures.prometheus import REFERENCE_FIGURES, load_figures_file
from obstack_load.figures.target import FIGURES, Reading, change, usage


def test_the_ready_figures_files_name_only_known_figures():
    reference = load_figures_file(REFERENCE_FIGURES)
    assert set(reference.queries) == set(FIGURES) and reference.assumes


@pytest.mark.parametrize(("text", "key", "problem"), [
    ("figures: [1, 2]", "figures", "a mapping of figure name"),
    ("figures:\n  cpu: sum(x)", "figures.cpu", "not a figure the suite reads"),
    ("figures:\n  cpu_seconds: ''", "figures.cpu_seconds", "a PromQL query"),
    ("figures: {cpu_seconds: [", "", "is not YAML"),
])  # fmt: skip
def test_a_bad_figures_file_names_the_file_and_key(tmp_path, text, key, problem):
    path = tmp_path / "figures.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_figures_file(path)
    assert str(raised.value).startswith(f"{path}: {key}: " if key else f"{path}: ")
    assert problem in str(raised.value)


def test_a_missing_figures_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_figures_file(tmp_path / "nowhere.yaml")


def test_usage_over_a_window_from_counters_and_gauges():
    start = Reading(10.0, {"cpu_seconds": 5.0, "db_pool_size": 4, "db_pool_busy_seconds": 1.0,
                           "throttled_requests": 3, "memory_bytes": 100})  # fmt: skip
    end = Reading(20.0, {"cpu_seconds": 12.0, "db_pool_size": 4, "db_pool_busy_seconds": 21.0,
                         "throttled_requests": 5, "memory_bytes": 90, "db_pool_waiting": 2})  # fmt: skip
    got = usage([start, end])
    assert got == {"target_cpu": 0.7, "target_memory_bytes": 100, "pool_utilization": 0.5,
                   "pool_waiting": 2, "throttled": 2}  # fmt: skip


def test_without_a_busy_counter_the_pool_is_the_in_use_gauge_sampled():
    readings = [Reading(t, {"db_pool_size": 4, "db_pool_in_use": n})
                for t, n in ((0, 1), (5, 3), (10, 2))]  # fmt: skip
    assert usage(readings)["pool_utilization"] == pytest.approx(0.5)


def test_a_figure_the_source_lacks_stays_na_and_a_reset_counter_counts_from_zero():
    assert usage([Reading(0.0), Reading(10.0)]) == dict.fromkeys(
        ("target_cpu", "target_memory_bytes", "pool_utilization", "pool_waiting", "throttled")
    )
    restarted = change(Reading(0, {"cpu_seconds": 50.0}), Reading(5, {"cpu_seconds": 2.0}),
                       "cpu_seconds")  # fmt: skip
    assert restarted == 2.0

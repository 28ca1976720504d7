"""The options stored with a run carry no secret: a DSN's password, an API key for the target's
/metrics, a Prometheus URL's user and password."""

from __future__ import annotations

from argparse import Namespace

from obstack_load.results.run import safe_options


def test_secrets_are_removed_from_the_stored_options():
    stored = safe_options(Namespace(
        results_db="postgresql://u:pg-Secr3t@127.0.0.1/r", target_metrics_key="key-Secr3t",
        prometheus="https://ops:prom-Secr3t@prometheus.example:9090", users=5,
    ))  # fmt: skip
    assert "Secr3t" not in repr(stored)
    assert stored["prometheus"] == "https://***@prometheus.example:9090"
    assert stored["target_metrics_key"] == "***" and stored["users"] == 5

"""The web UI's Ingestion tab, rendered by a real headless Chromium against a real Locust."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests

from tests.support import REPO, free_port, start_locust, start_platform, wait_for

ARTIFACTS = REPO / "results" / "test-artifacts"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("the web UI test needs Debian's chromium (apt-get install chromium)")
    return found


def test_the_ingestion_tab_shows_the_ledger(tmp_path):
    browser = chromium()
    platform = start_platform()
    port = free_port()
    locust = start_locust(
        "-f", "locustfiles/ingest.py", "LogsIngestUser", "--host", platform.url, "--autostart",
        "-u", "2", "-r", "2", "--web-host", "127.0.0.1", "--web-port", str(port),
        "--otlp-rate", "500", "--results-db", str(tmp_path / "r.db"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def ledger_rows():
            try:
                answer = requests.get(f"{url}/stats/requests", timeout=5).json()
            except (requests.ConnectionError, ValueError):
                return None
            tabs = {e["key"]: e["data"] for e in answer.get("extended_stats", [])}
            rows = tabs.get("ingestion") or []
            return rows if rows and rows[0]["accepted_items"] > 0 else None

        rows = wait_for(ledger_rows, timeout=60, interval=0.5)
        assert rows[0]["signal"] == "logs" and rows[0]["sent_items"] >= rows[0]["accepted_items"]
        dumps: list[str] = []

        def rendered_with_rows():
            # The page fills its table from its own first poll of /stats/requests; on a busy
            # machine a dump can come before that answer, so render again until it is there.
            page = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu",
                 "--virtual-time-budget=15000", "--dump-dom", f"{url}/?tab=ingestion"],
                capture_output=True, text=True, timeout=120,
            ).stdout  # fmt: skip
            dumps.append(page)
            return page if "logs" in re.findall(r"<td[^>]*>(.*?)</td>", page) else None

        try:
            page = wait_for(rendered_with_rows, timeout=300, interval=1.0)
        except AssertionError:
            tail = dumps[-1][-2000:]
            raise AssertionError(f"no ledger row after {len(dumps)} renders: {tail}") from None
        assert "Ingestion" in page, page[-2000:]
        for title in ("Items sent", "Accepted", "Throttled", "Lost", "Bytes on the wire"):
            assert title in page, title
        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the page as Chromium drew it, kept
        screenshot = ARTIFACTS / "ingestion-tab.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
             "--window-size=1280,900", f"--screenshot={screenshot}", f"{url}/?tab=ingestion"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert screenshot.stat().st_size > 0
    finally:
        locust.terminate()
        locust.communicate(timeout=60)
        assert platform.stop() == 0

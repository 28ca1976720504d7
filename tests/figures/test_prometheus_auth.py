"""The bearer token for --prometheus: sent on every query, read from the variable that
--prometheus-token-env names, and never in a log line, even when Prometheus refuses it. The
server is a real HTTP server speaking Prometheus's query API, which checks the header (Debian's
Prometheus has no auth of its own to check it with)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from obstack_load.figures.prometheus import FiguresFile, Prometheus, PrometheusFigures

TOKEN = "prom-t0ken-Secr3t"


class QueryApi(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            body, code = {"status": "error", "error": "unauthorized"}, 401
        else:
            body = {"status": "success",
                    "data": {"resultType": "vector",
                             "result": [{"metric": {}, "value": [0, "12.5"]},
                                        {"metric": {}, "value": [0, "0.5"]}]}}  # fmt: skip
            code = 200
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), QueryApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def figures(url: str, token: str | None) -> PrometheusFigures:
    queries = FiguresFile(Path("f.yaml"), {"cpu_seconds": "sum(x)"}, "")
    return PrometheusFigures(Prometheus(url, token), queries)


def test_the_token_is_sent_and_the_vector_summed(api):
    assert figures(api, TOKEN).read().values == {"cpu_seconds": 13.0}


def test_a_refused_token_is_na_with_a_line_that_holds_no_token(api, caplog):
    caplog.set_level(logging.WARNING)
    assert figures(api, "wrong-" + TOKEN).read().values == {}
    said = caplog.text
    assert "n/a" in said and "HTTP 401: unauthorized" in said
    assert TOKEN not in said

"""The reference platform runs as its own program: `obstack-load platform` never imports Locust
or gevent, so nothing monkey-patches its uvicorn server (import-linter keeps the layers; this
proves the running process)."""

from __future__ import annotations

import random
import re

import requests

from obstack_load.telemetry import logs, otlp
from tests.support import start_platform

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$")


def test_the_platform_process_imports_neither_locust_nor_gevent(tenants):
    # Python's own import log (-X importtime) of the real process, through a full request mix
    platform = start_platform(env={"PYTHONPROFILEIMPORTTIME": "1"})
    try:
        tenant = tenants.tenants[0]
        message = logs.logs_request(tenant, random.Random(1), 5)
        answer = requests.post(
            f"{platform.url}/v1/logs",
            data=otlp.encode(message, otlp.PROTOBUF),
            headers={
                "Content-Type": otlp.PROTOBUF,
                "Authorization": f"Bearer {tenant.api_key}",
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        account = tenant.accounts[0]
        token = platform.login(account.username, account.password)["access_token"]
        assert platform.get("/api/v1/dashboards", token).status_code == 200
    finally:
        assert platform.stop() == 0, "".join(platform.output)
    modules = {
        match.group(1).strip()
        for line in platform.output
        if (match := IMPORTED.match(line.rstrip("\n")))
    }
    assert "uvicorn" in modules and "starlette" in modules, "the import log was not captured"
    top_level = {name.split(".")[0] for name in modules}
    assert "locust" not in top_level
    assert "gevent" not in top_level
    assert "geventhttpclient" not in top_level

"""A fast HTTP sink for benchmarks: nginx answering 200 to anything, on a free loopback port.

Benchmarks that measure the *generator* need a target far faster than the generator, so that
the target never sets the pace; nginx on its own core answers many times what one Locust core sends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
import urllib3

from tests.support import REPO, free_port

PREAMBLE = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 4096; }}
"""
CONFIG = (
    PREAMBLE
    + """http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    client_max_body_size 64m;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port}{ssl};
        {certificates}
        location = /nginx_status {{ stub_status; }}
        location / {{
            # read the whole body (POSTs), then answer 200
            client_body_buffer_size 1m;
            return 200;  # an empty 200 is also a valid, empty OTLP export response
        }}
    }}
}}
"""
)


CACHE_CONFIG = (
    PREAMBLE
    + """http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    keepalive_requests 1000000;
    proxy_cache_path {tmp}/cache keys_zone=answers:64m max_size=2g inactive=1h use_temp_path=off;
    upstream target {{ server {upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location = /nginx_status {{ stub_status; }}
        location / {{
            proxy_pass http://target;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # every answer once per caller and URL: the key holds the caller's token, so one
            # tenant never gets another's answer
            proxy_cache answers;
            proxy_cache_methods GET HEAD;
            proxy_cache_key "$http_authorization $request_uri";
            proxy_cache_valid 200 404 1h;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
        }}
    }}
}}
"""
)


LIMITED_CONFIG = (
    PREAMBLE
    + """http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    limit_req_zone $binary_remote_addr zone=cap:1m rate={rate}r/s;
    server {{
        listen 127.0.0.1:{port};
        location = /nginx_status {{ stub_status; }}
        {metrics}
        location / {{
            # a static answer: `return` would answer before limit_req is applied
            limit_req zone=cap burst={burst} nodelay;
            root {tmp};
            default_type text/plain;
            try_files /ok.txt =404;
        }}
    }}
}}
"""
)
METRICS = {  # what a foreign target's /metrics may be: a catch-all page, or nothing
    "text": 'location = /metrics { default_type text/plain; return 200 "ok"; }',
    "missing": "location = /metrics { return 404; }",
}


@contextlib.contextmanager
def limited_nginx(rate: float, metrics: str = "missing", cpu: str | None = None) -> Iterator[str]:
    """nginx answering "ok" to anything at most ``rate`` times a second (limit_req, a burst of
    a quarter second's worth; past it 503), with a /metrics that is not Prometheus's: a target
    of known capacity that the suite did not start."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ok.txt").write_text("ok")
        with _nginx(tmp, LIMITED_CONFIG, cpu, "http", rate=f"{rate:g}",
                    burst=str(max(int(rate / 4), 1)), metrics=METRICS[metrics]) as url:  # fmt: skip
            yield url


def requests_served(url: str) -> int:
    """nginx's own count of requests handled (stub_status), including this one."""
    text = requests.get(f"{url}/nginx_status", timeout=30, verify=False).text
    return int(text.splitlines()[2].split()[2])


@contextlib.contextmanager
def nginx_sink(cpu: str | None = None, tls: bool = False) -> Iterator[str]:
    """nginx on a free loopback port; with ``tls`` it speaks https with a fresh self-signed cert."""
    with tempfile.TemporaryDirectory() as tmp:
        ssl, certificates = "", ""
        if tls:
            # our own readiness and stub_status reads skip verifying the throwaway certificate
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=localhost", "-keyout", f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem"],
                check=True, capture_output=True,
            )  # fmt: skip
            ssl = " ssl"
            certificates = f"ssl_certificate {tmp}/cert.pem; ssl_certificate_key {tmp}/key.pem;"
        with _nginx(
            tmp, CONFIG, cpu, "https" if tls else "http", ssl=ssl, certificates=certificates
        ) as url:
            yield url


@contextlib.contextmanager
def nginx_cache(upstream: str, cpu: str | None = None) -> Iterator[str]:
    """nginx in front of ``upstream`` (host:port), answering each GET from its cache after the
    first time a caller asks for that URL: a target that is not the limit, with real answers."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        _nginx(tmp, CACHE_CONFIG, cpu, "http", upstream=upstream) as url,
    ):
        yield url


@contextlib.contextmanager
def _nginx(tmp: str, template: str, cpu: str | None, scheme: str, **values: str) -> Iterator[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise SystemExit("benchmarks need nginx (apt-get install nginx-light)")
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    config = Path(tmp) / "nginx.conf"
    config.write_text(template.format(tmp=tmp, port=port, user=user, **values))
    command = [nginx, "-c", str(config), "-p", tmp]
    if cpu is not None:
        command = ["taskset", "-c", cpu, *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/nginx_status", timeout=2, verify=False)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nginx did not start: {process.stderr.read().decode()}") from None
            time.sleep(0.05)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def steady_rps(
    command: list[str],
    host: str,
    duration: float,
    env: dict[str, str],
    warmup: float = 3.0,
    counter: Callable[[], int] | None = None,
) -> float:
    """Run a load command; requests/s counted by the target itself inside the run.

    Two readings of the target's counter (nginx's, unless ``counter`` reads another target's),
    ``warmup`` seconds in and 2 s before the end, exclude start-up and shutdown (which differ
    between variants: a plugin flushes at the end), and are the same yardstick for every variant.
    """
    read = counter or (lambda: requests_served(host))
    own_requests = 0 if counter else 1  # nginx counts our first status request too
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(warmup)  # a measurement window, not a readiness wait
    first, start = read(), time.monotonic()
    time.sleep(duration - warmup - 2)
    last, end = read(), time.monotonic()
    _, err = process.communicate(timeout=300)
    if process.returncode not in (
        0,
        1,
        3,
    ):  # 1 and 3: failed requests or thresholds, still measured
        raise SystemExit(
            f"{' '.join(command[:8])} ... failed ({process.returncode}):\n{err[-2000:]}"
        )
    return (last - first - own_requests) / (end - start)

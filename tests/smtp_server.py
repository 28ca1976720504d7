"""A real SMTP server for the e-mail test (aiosmtpd), as a separate process: the suite runs under
gevent's monkey patch, which aiosmtpd's asyncio thread must not share.

    python tests/smtp_server.py OUTDIR USER PASSWORD

It listens on a free loopback port, requires AUTH LOGIN/PLAIN with USER and PASSWORD (over plain
text, as a test may), writes each message it receives to OUTDIR as N.eml, and prints
``ready PORT`` once it accepts connections. SIGTERM stops it.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keep:
    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.count += 1
        (self.outdir / f"{self.count}.eml").write_bytes(envelope.original_content)
        (self.outdir / f"{self.count}.rcpt").write_text("\n".join(envelope.rcpt_tos))
        return "250 OK"


def main() -> None:
    outdir, user, password = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (user, password)
        return AuthResult(success=ok)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Keep(outdir), hostname="127.0.0.1", port=port, authenticator=authenticate,
        auth_require_tls=False, auth_required=True,
    )  # fmt: skip
    controller.start()
    print(f"ready {port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

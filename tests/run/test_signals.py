"""A SIGTERM reaches Locust's main greenlet wherever it lands. Python runs a signal handler in
whichever greenlet is executing; Locust's console stats printer, stats history and CSV writer
each catch ``KeyboardInterrupt`` and end quietly, so an interrupt raised there was lost and the
run went on to its time limit (seen once in CI: a SIGTERM'd run still going 300 s later)."""

from __future__ import annotations

import subprocess
import sys

from tests.support import REPO

# The signal is sent from inside a greenlet shaped like Locust's stats_printer_func, so the
# handler runs there, every time.
SCRIPT = """
import os, signal
import gevent
from locust.env import Environment
from obstack_load.run import endings

environment = Environment()
endings._install_handlers(environment)
printer = []

def like_locusts_stats_printer():
    try:
        while True:
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # the handler runs here, in this greenlet
            printer.append("went on")
            gevent.sleep(0.2)
    except KeyboardInterrupt:
        printer.append("swallowed it")

gevent.spawn(like_locusts_stats_printer)
try:
    gevent.sleep(5)
    print("main: not interrupted", printer[:1])
except KeyboardInterrupt:
    print("main: interrupted", printer[:1])
"""


def test_sigterm_in_a_greenlet_that_swallows_ctrl_c_still_interrupts_main():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "main: interrupted ['went on']", result.stderr[-3000:]

"""Drives the Locust web UI in Debian's headless Chromium with Playwright, as a separate process.

The test suite runs under gevent's monkey patch (tests/__init__.py), which Playwright's own event
loop must not share, so tests call this script as a program:

    python tests/browser.py URL FIELD VALUE SCREENSHOT

It opens the start form, types VALUE into the suite's FIELD (a custom parameter), presses Start,
and prints the message the page then shows (the refusal), after saving a screenshot.
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def refusal(url: str, field: str, value: str, screenshot: str) -> str:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url, timeout=120_000)
            closed = page.locator("form button[aria-expanded=false]")
            for _ in range(5):  # open "Advanced options", then "Custom parameters" inside it
                if not closed.count():
                    break
                closed.first.click()
            head, *rest = field.split("_")  # the form names fields in camelCase
            box = page.locator(f"input[name={head + ''.join(w.title() for w in rest)}]")
            box.fill(value)
            page.get_by_role("button", name="Start").click()
            message = page.get_by_text("obstack-load:", exact=False)
            message.first.wait_for(timeout=120_000)
            page.screenshot(path=screenshot, full_page=True)
            return message.first.inner_text()
        finally:
            browser.close()


if __name__ == "__main__":
    print(refusal(*sys.argv[1:5]))

"""Drives the Locust web UI in Debian's headless Chromium with Playwright, as a separate process.

The test suite runs under gevent's monkey patch (tests/__init__.py), which Playwright's own event
loop must not share, so tests call this script as a program:

    python tests/browser.py URL FIELD VALUE SCREENSHOT
    python tests/browser.py --offline FILE SCREENSHOT

The first opens the start form, types VALUE into the suite's FIELD (a custom parameter), presses
Start, and prints the message the page then shows (the refusal), after saving a screenshot.
The second opens a file with the network cut off and prints, as JSON, what rendered: the title,
the charts (inline SVG) with a drawn size, and every request that tried to leave the file.
"""

from __future__ import annotations

import json
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


def offline(path: str, screenshot: str) -> dict:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
            attempted: list[str] = []

            def refuse(route) -> None:
                if not route.request.url.startswith("file:"):
                    attempted.append(route.request.url)
                    route.abort()
                    return
                route.continue_()

            context.route("**/*", refuse)
            page = context.new_page()
            page.goto(f"file://{path}", wait_until="load", timeout=120_000)
            drawn = page.evaluate(
                """() => [...document.querySelectorAll('.chart svg')].map(svg => {
                    const box = svg.getBoundingClientRect();
                    return {width: box.width, height: box.height,
                            paths: svg.querySelectorAll('path').length,
                            label: svg.parentElement.getAttribute('aria-label')};
                })"""
            )
            page.screenshot(path=screenshot, full_page=True)
            return {"title": page.title(), "charts": drawn, "attempted": attempted}
        finally:
            browser.close()


if __name__ == "__main__":
    if sys.argv[1] == "--offline":
        print(json.dumps(offline(*sys.argv[2:4])))
    else:
        print(refusal(*sys.argv[1:5]))

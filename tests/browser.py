"""Drives the Locust web UI in Debian's headless Chromium with Playwright, as a separate process.

The test suite runs under gevent's monkey patch (tests/__init__.py), which Playwright's own event
loop must not share, so tests call this script as a program:

    python tests/browser.py URL FIELD VALUE SCREENSHOT
    python tests/browser.py --offline FILE SCREENSHOT
    python tests/browser.py --page URL SCREENSHOT [TEXT]
    python tests/browser.py --form URL SCREENSHOT

The first opens the start form, types VALUE into the suite's FIELD (a custom parameter), presses
Start, and prints the message the page then shows (the refusal), after saving a screenshot.
The second opens a file with the network cut off and prints, as JSON, what rendered: the title,
the charts (inline SVG) with a drawn size, and every request that tried to leave the file.
The fourth opens the start form's "Custom parameters" and prints, as JSON, the name of every
field it shows there. The third opens a page (waiting until TEXT shows, if given) and prints the same, with every
table's rows as the page shows them.
"""

from __future__ import annotations

import contextlib
import json
import sys

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextlib.contextmanager
def start_form(url: str):
    """A page on the web UI's start form, with "Advanced options" and "Custom parameters"
    opened."""
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
            yield page
        finally:
            browser.close()


def form_fields(url: str, screenshot: str) -> list[str]:
    """The names of the fields the start form shows (Locust's own and the suite's)."""
    with start_form(url) as page:
        page.locator("form input[name=userCount]").first.wait_for(timeout=120_000)
        names = page.evaluate(
            "() => [...document.querySelectorAll('form [name]')].map(e => e.name)"
        )
        last = page.locator(f"form [name={names[-1]}]").first
        last.scroll_into_view_if_needed(timeout=120_000)  # the panel has finished opening
        last.wait_for(state="visible", timeout=120_000)
        page.screenshot(path=screenshot, full_page=True)
        return sorted(set(names))


def refusal(url: str, field: str, value: str, screenshot: str) -> str:
    with start_form(url) as page:
        head, *rest = field.split("_")  # the form names fields in camelCase
        box = page.locator(f"input[name={head + ''.join(w.title() for w in rest)}]")
        box.fill(value)
        page.get_by_role("button", name="Start").click()
        message = page.get_by_text("obstack-load:", exact=False)
        message.first.wait_for(timeout=120_000)
        page.screenshot(path=screenshot, full_page=True)
        return message.first.inner_text()


SHOWN = """() => ({
    charts: [...document.querySelectorAll('.chart svg')].map(svg => {
        const box = svg.getBoundingClientRect();
        return {width: box.width, height: box.height, paths: svg.querySelectorAll('path').length,
                label: svg.parentElement.getAttribute('aria-label')};
    }),
    tables: [...document.querySelectorAll('table')].map(table => ({
        id: table.id || table.className || '',
        rows: [...table.querySelectorAll('tr')].map(tr =>
            [...tr.querySelectorAll('td, th')].map(cell => cell.innerText.trim())),
    })),
})"""


def shown(url: str, screenshot: str, text: str = "", offline: bool = False) -> dict:
    """What the page at ``url`` shows; ``offline`` cuts the network off (a file must not need
    it), and every request that tried to leave is listed."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(offline=offline, viewport={"width": 1280, "height": 900})
            attempted: list[str] = []
            home = url.split("/", 3)[:3]

            def watch(route) -> None:
                target = route.request.url
                if not (target.startswith("file:") or target.split("/", 3)[:3] == home):
                    attempted.append(target)
                    if offline:
                        route.abort()
                        return
                route.continue_()

            context.route("**/*", watch)
            page = context.new_page()
            page.goto(url, wait_until="load", timeout=120_000)
            if text:
                try:
                    page.get_by_text(text, exact=False).first.wait_for(timeout=120_000)
                except Exception:
                    page.screenshot(path=screenshot, full_page=True)  # what it showed instead
                    print(page.inner_text("body")[-3000:], file=sys.stderr)
                    raise
            found = page.evaluate(SHOWN)
            page.screenshot(path=screenshot, full_page=True)
            return {"title": page.title(), **found, "attempted": attempted}
        finally:
            browser.close()


if __name__ == "__main__":
    if sys.argv[1] == "--offline":
        print(json.dumps(shown(f"file://{sys.argv[2]}", sys.argv[3], offline=True)))
    elif sys.argv[1] == "--form":
        print(json.dumps(form_fields(*sys.argv[2:4])))
    elif sys.argv[1] == "--page":
        print(json.dumps(shown(*sys.argv[2:5])))
    else:
        print(refusal(*sys.argv[1:5]))

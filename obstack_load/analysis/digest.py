"""The daily or weekly quality report, by e-mail: load runs and their verdicts, regressions and
change points, test suites' pass rates and durations, and the worst endpoints, with its charts
as inline images (multipart/related, each chart a PNG named by a Content-ID).

SMTP settings come from the environment (``OBSTACK_SMTP_*``, see ``SmtpSettings``) and are sent
with smtplib. The password is used for the login only: it is never printed, logged or put in the
message, and an SMTP error is printed with it masked.
"""

from __future__ import annotations

import os
import smtplib
import socket
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from obstack_load.analysis import compare, history, series, trends
from obstack_load.analysis.charts import Chart, Line, render
from obstack_load.analysis.judge import WORSE
from obstack_load.analysis.report import TEMPLATES, when
from obstack_load.core.config import ConfigError
from obstack_load.core.errors import ObstackLoadError
from obstack_load.results.queries import ENDED
from obstack_load.results.store import Store

PERIODS = {"daily": 86_400.0, "weekly": 7 * 86_400.0}
CONTEXT_RUNS = 50  # earlier runs per label that trends see, so a change in the period has a past


def build(store: Store, period: str, now: float | None = None) -> dict:
    """Everything the e-mail shows, as plain data."""
    until = now or time.time()
    since = until - PERIODS[period]
    runs = history.load_runs(store, series.HistoryFilter(since=since, limit=10_000))
    for run in runs:
        run["compare"] = verdict_against_the_last(store, run)
    regressions, unlooked = [], []
    for key in sorted({(r["label"], r["profile"]) for r in runs}, key=lambda k: tuple(map(str, k))):
        where = series.HistoryFilter(label=key[0], profile=key[1], limit=CONTEXT_RUNS)
        found = trends.trends(store, where)
        if found.unjudged:
            unlooked.append({"label": key[0], "profile": key[1], "runs": len(found.runs),
                             "endpoints": len(found.unjudged), "min_runs": found.min_runs})  # fmt: skip
        started = {r["run_id"]: r["started_at"] for r in found.runs}
        for endpoint in found.endpoints:
            for run_id, point in endpoint.change_points:
                if started[run_id] >= since:
                    regressions.append({
                        "label": key[0], "profile": key[1], "method": endpoint.method,
                        "name": endpoint.name, "run_id": run_id, **point.as_dict(),
                    })  # fmt: skip
    suites = []
    for suite in history.suites(store):
        suite_runs = history.suite_runs(store, suite, since)
        if suite_runs:
            records = history.test_records(store, suite)
            suites.append({
                "name": suite, "runs": suite_runs,
                "flaky": history.flaky(records), "most_failed": history.most_failed(records, 5),
            })  # fmt: skip
    return {
        "period": period,
        "since": since,
        "until": until,
        "runs": runs,
        "passed": sum(1 for r in runs if r["exit_code"] == 0),
        # what a reader must see first: runs slower than the run before them, and runs that
        # could not be judged against it
        "attention": [
            r for r in runs[::-1] if r["compare"] and r["compare"]["exit_code"] != compare.EXIT_SAME
        ],  # fmt: skip
        "regressions": sorted(regressions, key=lambda r: -r["magnitude"]),
        "unlooked": unlooked,
        "suites": suites,
        "worst": history.worst_endpoints(store, since),
    }


def verdict_against_the_last(store: Store, run: dict) -> dict | None:
    """``compare``'s verdict on ``run`` against its auto baseline (the last passing run of its
    label and profile before it); None for a run that did not end or has no such baseline."""
    if run["status"] not in ENDED:
        return None
    try:
        baseline = compare.auto_baseline(store, run["run_id"])
    except ObstackLoadError:
        return None  # the first passing run of its label: nothing to compare with
    found = compare.compare_runs(store, baseline, run["run_id"])
    return {
        "baseline": baseline,
        "verdict": found.verdict,
        "exit_code": found.exit_code,
        "headline": compare.headline(found),
        "worse": [
            {"method": e.method, "name": e.name, "effect": e.latency.effect} for e in found.worse
        ],
        "unjudged": [f"{e.method} {e.name}".strip() for e in found.unjudged],
    }


def verdict_word(run: dict) -> str:
    """The compare column: worse, same, better, could not judge, or why there is none."""
    found = run["compare"]
    if found is None:
        return "-" if run["status"] not in ENDED else "no baseline"
    if found["exit_code"] == compare.EXIT_WORSE:
        return WORSE
    if found["exit_code"] == compare.EXIT_UNJUDGED:
        return "could not judge"
    return found["verdict"]


def charts(data: dict) -> dict[str, Chart]:
    """The e-mail's charts by Content-ID name."""
    found: dict[str, Chart] = {}
    lines: dict[str, list[dict]] = {}
    for run in data["runs"]:
        lines.setdefault(f"{run['label'] or '-'} / {run['profile'] or '-'}", []).append(run)
    if lines:
        found["p95"] = Chart("p95 per run, by label / profile", "ms", [
            Line(name, [r["started_at"] for r in rs], [r["p95_ms"] for r in rs], style="o-")
            for name, rs in sorted(lines.items())[:6]
        ])  # fmt: skip
    if data["suites"]:
        found["pass-rate"] = Chart("Test suites: pass rate", "% passed", [
            Line(s["name"], [r["started_at"] for r in s["runs"]],
                 [None if r["pass_rate"] is None else 100 * r["pass_rate"] for r in s["runs"]], style="o-")
            for s in data["suites"]
        ])  # fmt: skip
        found["duration"] = Chart("Test suites: duration", "seconds", [
            Line(s["name"], [r["started_at"] for r in s["runs"]], [r["duration_s"] for r in s["runs"]], style="o-")
            for s in data["suites"]
        ])  # fmt: skip
    return {name: chart for name, chart in found.items() if not chart.empty}


def render_html(data: dict, images: dict[str, str]) -> str:
    """``images`` maps a chart's name to its ``src``: ``cid:...`` in an e-mail, or a data URI."""
    return TEMPLATES.get_template("digest.html.j2").render(
        d=data, images=images, when=when, verdict_word=verdict_word
    )


def render_text(data: dict) -> str:
    """The plain-text part: the same digest in plain tables, for text-only mail clients and
    notification previews (the subject and first lines say what needs attention)."""
    return TEMPLATES.get_template("digest.txt.j2").render(
        d=data, when=when, verdict_word=verdict_word
    )


def subject(data: dict) -> str:
    slower = sum(1 for r in data["attention"] if r["compare"]["exit_code"] == compare.EXIT_WORSE)
    unjudged = len(data["attention"]) - slower
    notes = [f"{slower} slower than the run before" if slower else "",
             f"{unjudged} could not be judged" if unjudged else "",
             f"{len(data['regressions'])} change point(s)" if data["regressions"] else ""]  # fmt: skip
    notes = [n for n in notes if n]
    return (
        f"obstack-load {data['period']} report: {data['passed']}/{len(data['runs'])} load runs "
        f"passed" + (f"; {', '.join(notes)}" if notes else "")
    )


def message(data: dict, sender: str, recipients: list[str]) -> EmailMessage:
    pngs = {
        name: render(chart, "png", width=7.5, height=2.6) for name, chart in charts(data).items()
    }
    ids = {name: make_msgid(name, domain="obstack-load") for name in pngs}
    msg = EmailMessage()
    msg["Subject"] = subject(data)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(_utc(data["until"]))
    msg.set_content(render_text(data))
    msg.add_alternative(
        render_html(data, {name: f"cid:{cid[1:-1]}" for name, cid in ids.items()}), subtype="html"
    )
    html = msg.get_payload()[1]
    for name, png in pngs.items():
        html.add_related(png, "image", "png", cid=ids[name], filename=f"{name}.png")
    return msg


def _utc(ts: float):
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.UTC)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    sender: str
    security: str  # none, starttls or ssl

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> SmtpSettings:
        env = dict(os.environ if env is None else env)
        host = env.get("OBSTACK_SMTP_HOST", "")
        if not host:
            raise ConfigError(
                "OBSTACK_SMTP_HOST", "", "is not set: the SMTP server to send through"
            )
        security = env.get("OBSTACK_SMTP_SECURITY", "none")
        if security not in ("none", "starttls", "ssl"):
            raise ConfigError(
                "OBSTACK_SMTP_SECURITY", "", f"must be none, starttls or ssl, got {security!r}"
            )
        default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
        try:
            port = int(env.get("OBSTACK_SMTP_PORT") or default_port)
        except ValueError:
            raise ConfigError("OBSTACK_SMTP_PORT", "", "is not a port number") from None
        return cls(
            host=host,
            port=port,
            user=env.get("OBSTACK_SMTP_USER", ""),
            password=env.get("OBSTACK_SMTP_PASSWORD", ""),
            sender=env.get("OBSTACK_SMTP_FROM") or f"obstack-load@{socket.getfqdn()}",
            security=security,
        )

    def __repr__(self) -> str:  # never the password, even in a traceback
        return f"SmtpSettings(host={self.host!r}, port={self.port}, user={self.user!r}, security={self.security!r})"


class SendError(ObstackLoadError):
    pass


def send(msg: EmailMessage, settings: SmtpSettings, timeout: float = 30.0) -> None:
    try:
        smtp_class = smtplib.SMTP_SSL if settings.security == "ssl" else smtplib.SMTP
        with smtp_class(settings.host, settings.port, timeout=timeout) as smtp:
            if settings.security == "starttls":
                smtp.starttls()
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        text = str(exc)
        if settings.password:
            text = text.replace(settings.password, "***")
        raise SendError(f"SMTP {settings.host}:{settings.port}: {text}") from None

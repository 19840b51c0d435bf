"""The weekly report as one self-contained HTML page.

Inline CSS and inline SVG only: no script, font, image or stylesheet is fetched, and the page's
Content-Security-Policy (`default-src 'none'`) makes the browser refuse any that slipped in. Every
text from the warehouse passes the redaction module and is HTML-escaped; a section without data
says "no data" instead of vanishing.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape
from zoneinfo import ZoneInfo

from askpro_pipelines.redaction import redact_known, redact_text
from askpro_pipelines.report.data import ReportData, SuccessFigures
from askpro_pipelines.report.svg import Series, hbar_chart, line_chart

CSS = """
body { font-family: system-ui, sans-serif; color: #111827; margin: 0 auto; max-width: 960px; padding: 24px; }
h1 { font-size: 1.6em; margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #e5e7eb; }
h3 { margin-top: 20px; font-size: 1.05em; }
.sub { color: #4b5563; margin-top: 0; } .badge { background: #fef3c7; padding: 1px 6px; border-radius: 4px; }
.figures { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.figure { border: 1px solid #e5e7eb; border-radius: 6px; padding: 10px 16px; min-width: 120px; }
.figure b { display: block; font-size: 1.5em; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.nodata { color: #6b7280; font-style: italic; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
footer { margin-top: 40px; color: #6b7280; font-size: 0.85em; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'"
NO_DATA = '<p class="nodata">no data</p>'


class _Text:
    """Redacts (registered secrets, the tenant's own, key-shaped text) and escapes every text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = [s for s in secrets if s]

    def clean(self, value: object) -> str:
        return redact_known(redact_text("" if value is None else str(value)), self.secrets)

    def __call__(self, value: object) -> str:
        return escape(self.clean(value))


def _count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def _rate(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def _day_label(day: dt.date) -> str:
    return f"{day:%a %d.%m.}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """Cells are already escaped; `numeric` columns are right-aligned."""
    head = "".join(f"<th{' class=n' if i in numeric else ''}>{h}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def _calls_and_bookings(data: ReportData, t: _Text) -> str:
    if not data.days:
        return NO_DATA
    labels = [_day_label(d.day) for d in data.days]
    chart = line_chart(
        "calls-bookings",
        f"Calls and bookings per day, {data.week}",
        labels,
        [
            Series("inbound calls", [d.calls for d in data.days], "#2563eb"),
            Series("calls with a booking", [d.calls_with_booking for d in data.days], "#16a34a"),
            Series("bookings created", [d.bookings for d in data.days], "#d97706"),
        ],
        y_label="per day",
    )
    rows = [
        (t(f"{d.day:%a %Y-%m-%d}"), _count(d.calls), _count(d.calls_with_booking), _count(d.bookings))
        for d in data.days
    ]
    rows.append(
        ("<b>week</b>", _count(data.calls), _count(sum(d.calls_with_booking for d in data.days)), _count(data.bookings))
    )
    table = _table(["day", "inbound calls", "calls with a booking", "bookings created (any channel)"], rows, (1, 2, 3))
    return chart + "\n" + table


def _success_part(chart_id: str, heading: str, figures: list[SuccessFigures], t: _Text) -> str:
    out = f"<h3>{escape(heading)}</h3>\n"
    if not figures:
        return out + NO_DATA
    labels = [t.clean(f.label) for f in figures]
    out += hbar_chart(
        chart_id,
        f"Booking success rate {heading.lower()}",
        labels,
        [f.rate for f in figures],
        value_text=lambda rate: _rate(rate) if rate is not None else "n/a (none tried)",
        max_value=1,
        color="#16a34a",
    )
    rows = [
        (t(f.label), t(f.key), _count(f.calls), _count(f.tried), _count(f.booked), _count(f.cancelled), _rate(f.rate))
        for f in figures
    ]
    headers = ["", "key", "calls", "tried to book", "bookings from calls", "cancelled since", "success rate"]
    return out + "\n" + _table(headers, rows, (2, 3, 4, 5, 6))


def _success(data: ReportData, t: _Text) -> str:
    intro = ""
    if data.total is not None:
        total = data.total
        intro = (
            f"<p>Week: {_count(total.booked)} bookings from {_count(total.tried)} calls that tried to book "
            f"({_rate(total.rate)}), of {_count(total.calls)} inbound calls.</p>\n"
        )
    return (
        intro
        + _success_part("success-branch", "Per branch", data.by_branch, t)
        + "\n"
        + _success_part("success-agent-version", "Per agent version", data.by_agent_version, t)
    )


def _failures(data: ReportData, t: _Text) -> str:
    if not data.reasons:
        return NO_DATA if not data.calls_analysed else f"<p>No failures among {_count(data.calls_analysed)} calls.</p>"
    chart = hbar_chart(
        "failure-reasons",
        f"Top failure reasons, {data.week}",
        [t.clean(r.reason) for r in data.reasons],
        [r.calls for r in data.reasons],
        value_text=lambda n: f"{n:,.0f} calls" if n is not None else "",
        color="#dc2626",
    )
    share = data.calls_analysed or 1
    rows = [(t(r.reason), _count(r.calls), f"{r.calls / share:.1%}") for r in data.reasons]
    note = f"<p>Of {_count(data.calls_analysed)} calls analysed; a call can have several reasons.</p>"
    return note + "\n" + chart + "\n" + _table(["reason", "calls", "share of calls"], rows, (1, 2))


def _api_health(data: ReportData, t: _Text) -> str:
    if not data.api:
        return NO_DATA
    rows = [
        (
            t(a.api),
            _count(a.runs),
            _count(a.requests),
            f"{_count(a.errors)} ({_count(a.errors_4xx)} / {_count(a.errors_5xx)} / {_count(a.errors_network)})",
            _count(a.rate_limited),
            _count(a.retries),
            "–" if a.p95_ms is None else f"{a.p95_ms:,.0f}",
            f"{_count(a.min_remaining)} of {_count(a.rate_limit)}",
            _count(a.breaker_opens),
        )
        for a in data.api
    ]
    headers = [
        "API",
        "runs",
        "requests",
        "errors (4xx / 5xx / network)",
        "429s",
        "retries",
        "p95 ms (worst run)",
        "min remaining of limit",
        "breaker opens",
    ]
    return _table(headers, rows, (1, 2, 3, 4, 5, 6, 7, 8))


def _quarantine(data: ReportData, t: _Text) -> str:
    if not data.quarantined_total:
        return '<p class="nodata">no data: no record is quarantined</p>'
    zone = ZoneInfo(data.timezone)
    shown = len(data.quarantined_newest)
    rows = [
        (
            t(f"{r.api}/{r.entity}"),
            t(r.scope or "–"),
            t(r.record_id),
            t(r.error),
            t(f"{r.first_seen.astimezone(zone):%Y-%m-%d %H:%M}"),
            t(f"{r.last_seen.astimezone(zone):%Y-%m-%d %H:%M}"),
        )
        for r in data.quarantined_newest
    ]
    note = (
        f"<p><b>{_count(data.quarantined_total)}</b> record(s) quarantined now; the newest {shown} "
        f"(times {escape(data.timezone)}; <code>askpro quarantine list --tenant {t(data.tenant)}</code> lists all):</p>"
    )
    return note + "\n" + _table(["entity", "day", "record id", "error", "first seen", "last seen"], rows)


def _phone_chain(data: ReportData, t: _Text) -> str:
    if not data.chain:
        return NO_DATA
    rows = [
        (
            t(link.phone_number),
            t(", ".join(filter(None, [link.agent, link.version])) or "–"),
            t(link.branch or "–"),
            t(link.event_type or "–"),
            t(", ".join(link.staff) or "–"),
        )
        for link in data.chain
    ]
    note = "<p>As last synced (<code>phone_assignments</code>).</p>"
    return note + "\n" + _table(["phone number", "→ agent + version", "→ branch", "→ event type", "→ staff"], rows)


def _headline(data: ReportData) -> str:
    rate = data.total.rate if data.total else None
    figures = [
        ("inbound calls", _count(data.calls) if data.days else "–"),
        ("bookings created", _count(data.bookings) if data.days else "–"),
        ("booking success", _rate(rate)),
        ("quarantined now", _count(data.quarantined_total)),
    ]
    cards = "".join(f'<div class="figure"><b>{value}</b>{escape(name)}</div>' for name, value in figures)
    return f'<div class="figures">{cards}</div>'


def render_report(data: ReportData, secrets: Iterable[str] = ()) -> str:
    """The whole page; `secrets` (e.g. the tenant's keys) are masked wherever they would appear."""
    t = _Text(secrets)
    zone = ZoneInfo(data.timezone)
    week = data.week
    progress = ' <span class="badge">in progress</span>' if data.in_progress else ""
    generated = data.generated_at.astimezone(zone)
    sections = [
        _section("calls-bookings", "Calls and bookings per day", _calls_and_bookings(data, t)),
        _section("success", "Booking success per branch and agent version", _success(data, t)),
        _section("failures", "Top failure reasons", _failures(data, t)),
        _section("api-health", "API health", _api_health(data, t)),
        _section("quarantine", "Quarantined records", _quarantine(data, t)),
        _section("phone-chain", "Phone chain", _phone_chain(data, t)),
    ]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t(data.tenant_name)}: weekly report {week}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{t(data.tenant_name)}: weekly report {week}{progress}</h1>
<p class="sub">{t(data.tenant)} · {week.monday:%a %d.%m.%Y} – {week.sunday:%a %d.%m.%Y} ({t(data.timezone)}) ·
generated {generated:%Y-%m-%d %H:%M %Z}</p>
{_headline(data)}
</header>
<main>
{chr(10).join(sections)}
</main>
<footer>AskPro Pipelines weekly tenant report. Self-contained: this file loads nothing else.</footer>
</body>
</html>
"""

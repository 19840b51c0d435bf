"""The page: every section, escaped text, no secret, nothing loaded from anywhere, "no data" when empty."""

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from askpro_pipelines.report.data import load_report
from askpro_pipelines.report.html import render_report
from askpro_pipelines.report.output import tenant_secrets
from askpro_pipelines.report.week import IsoWeek
from tests.report.week_rows import LEAKED_KEY, TENANT_KEY_VALUE, WEEK

NOW = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
SECTIONS = ["calls-bookings", "success", "failures", "api-health", "quarantine", "phone-chain"]
CHARTS = ["calls-bookings", "success-branch", "success-agent-version", "failure-reasons"]


class _Page(HTMLParser):
    """Every tag with its attributes, and the text of the page's sections."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _page(html: str) -> _Page:
    parser = _Page()
    parser.feed(html)
    parser.close()
    return parser


def _section(html: str, ident: str) -> str:
    match = re.search(rf'<section id="{ident}">(.*?)</section>', html, re.S)
    assert match, f"section {ident} missing"
    return match.group(1)


def _render(warehouse, tenant, week=WEEK, now=NOW) -> str:
    return render_report(load_report(warehouse, tenant, week, now), tenant_secrets(tenant))


def test_every_section_and_chart_is_there(filled_sqlite, tenant):
    html = _render(filled_sqlite, tenant)
    assert html.startswith("<!DOCTYPE html>")
    assert [m for m in re.findall(r'<section id="([a-z-]+)">', html)] == SECTIONS
    for ident in SECTIONS:
        assert "no data" not in _section(html, ident), ident
    charts = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert [ET.fromstring(svg).get("data-chart") for svg in charts] == CHARTS  # each one well-formed XML
    assert "2026-W48" in html and "Mon 23.11.2026 – Sun 29.11.2026" in html
    assert "in progress" not in html
    assert "<b>44</b>inbound calls" in html and "<b>21</b>bookings created" in html and "<b>50.0%</b>" in html


def test_text_is_escaped(filled_sqlite, tenant):
    html = _render(filled_sqlite, tenant)
    assert "Praxis &lt;Report&gt; &amp; Söhne" in html and "Praxis <Report>" not in html
    assert "Rezeption &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;bad&lt;/b&gt;" in _section(html, "quarantine")
    assert not any(tag in {"script", "b"} and "bad" in str(attrs) for tag, attrs in _page(html).tags)


def test_nothing_is_loaded_from_anywhere(filled_sqlite, tenant):
    html = _render(filled_sqlite, tenant)
    tags = _page(html).tags
    assert not [tag for tag, _ in tags if tag in {"script", "link", "img", "iframe", "object", "embed", "image"}]
    for tag, attrs in tags:
        for name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data"):
            assert name not in attrs, (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)  # no event handlers either
    assert not re.search(r"<script|@import|url\(|@font-face", html, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.I)
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_no_secret_reaches_the_page(filled_sqlite, tenant):
    html = _render(filled_sqlite, tenant)
    assert LEAKED_KEY not in html and TENANT_KEY_VALUE not in html
    quarantine = _section(html, "quarantine")
    assert "uid-11" in quarantine and "token" in quarantine  # the record is listed, its secrets masked
    assert "***" in quarantine


def test_empty_sections_say_no_data(empty_warehouse, tenant):
    html = _render(empty_warehouse, tenant, IsoWeek(2026, 49), dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    assert [m for m in re.findall(r'<section id="([a-z-]+)">', html)] == SECTIONS
    for ident in SECTIONS:
        assert "no data" in _section(html, ident), ident
    assert "<svg" not in html
    assert "in progress" in html  # 2026-W49 has begun but not ended

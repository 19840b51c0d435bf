"""The weekly report in Chromium: it renders, its charts draw their marks, and no request leaves the page.

A tenant-week of rows (tests/report/week_rows.py) goes into a tmp SQLite warehouse; the report is
written as `askpro report` writes it and opened from file://. Every request the page makes is
recorded: the only one must be the file itself. A full-page screenshot is kept in
$ASKPRO_TEST_ARTIFACTS (default test-artifacts/ui/report-2026-W48.png).

Run: scripts/install-ui-test-deps .venv && .venv/bin/pytest -m ui tests/ui/test_report_browser.py -v
"""

import datetime as dt

import pytest

from askpro_pipelines.report.output import write_report
from askpro_pipelines.warehouse import Warehouse
from tests.report.week_rows import (
    CALCOM_KEY_ENV,
    LEAKED_KEY,
    TENANT_KEY_VALUE,
    WEEK,
    fill_week,
    report_tenant,
    write_tenants_file,
)

CHARTS = ["calls-bookings", "success-branch", "success-agent-version", "failure-reasons"]
SECTIONS = ["calls-bookings", "success", "failures", "api-health", "quarantine", "phone-chain"]


@pytest.fixture
def report_file(tmp_path, monkeypatch):
    monkeypatch.setenv(CALCOM_KEY_ENV, TENANT_KEY_VALUE)  # the tenant's key: masked wherever it would show
    warehouse = Warehouse.from_url(f"sqlite:///{tmp_path / 'warehouse.db'}")
    warehouse.create_tables()
    try:
        fill_week(warehouse.engine)
        tenant = report_tenant(write_tenants_file(tmp_path))
        now = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
        return write_report(warehouse, tenant, WEEK, tmp_path / "reports", now).path
    finally:
        warehouse.dispose()


@pytest.mark.ui
def test_report_renders_offline_with_its_charts(page, report_file, artifacts_dir):
    shot = artifacts_dir / f"report-{WEEK}.png"
    shot.unlink(missing_ok=True)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    url = report_file.as_uri()
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")

    assert requests == [url]  # the file itself, nothing else: no font, script, image or stylesheet
    assert page.title() == f"Praxis <Report> & Söhne: weekly report {WEEK}"
    for ident in SECTIONS:
        assert page.locator(f"section#{ident} h2").is_visible(), ident

    charts = page.locator("svg.chart")
    assert [charts.nth(i).get_attribute("data-chart") for i in range(charts.count())] == CHARTS
    for ident in CHARTS:
        chart = page.locator(f'svg.chart[data-chart="{ident}"]')
        box = chart.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50, (ident, box)
        marks = chart.locator(".mark")
        assert marks.count() > 0, ident
        for i in range(marks.count()):
            mark = marks.nth(i)
            mark_box = mark.bounding_box()
            assert mark_box and mark_box["width"] > 0 and mark_box["height"] > 0, (ident, i, mark_box)
            # Drawn inside its chart, and painted (not hidden, not transparent).
            assert box["x"] <= mark_box["x"] and mark_box["x"] + mark_box["width"] <= box["x"] + box["width"] + 1
            style = mark.evaluate("e => { const s = getComputedStyle(e); return [s.visibility, s.display, s.fill] }")
            assert style[0] == "visible" and style[1] != "none" and style[2] not in ("none", "rgba(0, 0, 0, 0)")
        assert chart.locator("text").count() >= 3, ident  # axis and mark labels

    # 7 days × 3 series in the line chart; a bar per reason in the failure chart.
    assert page.locator('svg[data-chart="calls-bookings"] circle.mark').count() == 21
    assert page.locator('svg[data-chart="failure-reasons"] rect.mark').count() == 8
    # The escaped agent name shows as text; it never became an element.
    assert page.locator("section#phone-chain script").count() == 0
    assert 'Rezeption <script>alert("x")</script> & Co' in page.locator("section#phone-chain").inner_text()

    text = page.locator("body").inner_text()
    assert LEAKED_KEY not in text and TENANT_KEY_VALUE not in text

    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

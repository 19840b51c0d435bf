"""The loader turns a tenant-week of inserted rows into the report's figures (SQLite and PostgreSQL)."""

import datetime as dt

from askpro_pipelines.report.data import load_report
from askpro_pipelines.report.week import IsoWeek
from tests.report.week_rows import (
    DAILY,
    EVIL_AGENT_NAME,
    EXPECTED_REASONS,
    MONDAY,
    QUARANTINED,
    TENANT,
    WEEK,
    WEEK_BOOKINGS,
    WEEK_CALLS,
)

NOW = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)


def test_calls_and_bookings_per_day(filled_warehouse, tenant):
    data = load_report(filled_warehouse, tenant, WEEK, NOW)
    assert [d.day for d in data.days] == [MONDAY + dt.timedelta(days=n) for n in range(7)]
    expected = [DAILY.get(n, (0, 0, 0)) for n in range(7)]  # Thursday had no rows: zeros
    assert [(d.calls, d.calls_with_booking, d.bookings) for d in data.days] == expected
    assert (data.calls, data.bookings) == (WEEK_CALLS, WEEK_BOOKINGS)
    assert not data.in_progress and data.tenant == TENANT and data.timezone == "Europe/Berlin"


def test_success_per_branch_and_agent_version(filled_warehouse, tenant):
    data = load_report(filled_warehouse, tenant, WEEK, NOW)
    assert data.total is not None
    assert (data.total.calls, data.total.tried, data.total.booked, data.total.cancelled) == (20, 16, 8, 2)
    assert data.total.rate == 0.5
    branches = {f.key: f for f in data.by_branch}
    assert set(branches) == {"mitte", "nord", "-"}
    assert (branches["mitte"].label, branches["mitte"].tried, branches["mitte"].booked) == ("Praxis Mitte", 12, 6)
    assert branches["-"].label == "no branch" and branches["-"].rate == 0.5
    assert branches["nord"].calls == 2 and branches["nord"].rate is None  # nobody tried: no rate, not 0
    versions = {f.key: f for f in data.by_agent_version}
    assert versions["agent_a@3"].label == "Rezeption v3"
    assert versions["agent_a@3"].rate == 0.2
    assert versions["agent_a@4"].label == f"{EVIL_AGENT_NAME} v4"
    assert versions["agent_a@4"].rate == 1.0


def test_top_failure_reasons(filled_warehouse, tenant):
    data = load_report(filled_warehouse, tenant, WEEK, NOW)
    assert data.calls_analysed == 10
    assert [(r.reason, r.calls) for r in data.reasons] == EXPECTED_REASONS


def test_api_health_of_the_local_week(filled_warehouse, tenant):
    data = load_report(filled_warehouse, tenant, WEEK, NOW)
    calcom, retell = data.api
    # r1 (Monday 00:30 Berlin) and r2 count; r0 (Sunday 23:30 Berlin) and the other tenant do not.
    assert (calcom.api, calcom.runs, calcom.requests) == ("calcom", 2, 150)
    assert (calcom.errors_4xx, calcom.errors_5xx, calcom.errors_network, calcom.errors) == (1, 2, 1, 4)
    assert (calcom.rate_limited, calcom.retries, calcom.breaker_opens) == (3, 5, 1)
    assert (calcom.p95_ms, calcom.min_remaining, calcom.rate_limit) == (950.0, 7, 120)
    assert (retell.runs, retell.requests, retell.min_remaining) == (1, 300, None)


def test_quarantined_records_newest_first(filled_warehouse, tenant):
    data = load_report(filled_warehouse, tenant, WEEK, NOW)
    assert data.quarantined_total == QUARANTINED
    assert len(data.quarantined_newest) == 10
    assert [r.record_id for r in data.quarantined_newest[:2]] == ["uid-11", "uid-10"]
    assert data.quarantined_newest[0].entity == "calcom_bookings"


def test_phone_chain(filled_warehouse, tenant):
    data = load_report(filled_warehouse, tenant, WEEK, NOW)
    first, second = data.chain
    assert first.phone_number == "+4930123456701"
    assert first.agent == f"{EVIL_AGENT_NAME} (agent_a)"
    assert first.version == "prod → v4 published"
    assert (first.branch, first.event_type) == ("Praxis Mitte (mitte)", "Erstgespräch (1001)")
    assert first.staff == ("Ben Kurz", "Dr. Anna Berg")  # this tenant's hosts only
    assert (second.agent, second.version, second.event_type, second.staff) == (None, None, "1002", ())


def test_a_week_without_rows_is_empty_not_zero(filled_warehouse, tenant):
    data = load_report(filled_warehouse, tenant, IsoWeek(2026, 40), NOW)
    assert data.days == [] and data.total is None and data.by_branch == [] and data.by_agent_version == []
    assert data.reasons == [] and data.calls_analysed == 0 and data.api == []
    assert data.quarantined_total == QUARANTINED  # held now, whatever the week

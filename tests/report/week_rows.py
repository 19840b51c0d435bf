"""One tenant-week of warehouse rows, inserted with plain SQLAlchemy: what the report tests read.

Tenant `praxis-report` (Europe/Berlin), ISO week 2026-W48 (Mon 2026-11-23 … Sun 2026-11-29), plus
rows the report must leave out: another tenant, the days around the week, an API run just before
the week's local Monday midnight. Texts carry HTML and a key-shaped secret to check escaping and
redaction. The figures the tests expect are next to the rows that make them.
"""

import datetime as dt
import textwrap
from pathlib import Path

import sqlalchemy as sa

from askpro_pipelines.report.week import IsoWeek
from askpro_pipelines.tenants import Tenant, load_tenants
from askpro_pipelines.warehouse.tables import (
    api_health,
    booking_outcomes,
    booking_success,
    call_analysis,
    phone_assignments,
    quarantined_records,
    retell_agent_versions,
    staff,
    staff_event_types,
)

TENANT = "praxis-report"
OTHER = "praxis-other"
WEEK = IsoWeek(2026, 48)
MONDAY = dt.date(2026, 11, 23)
CALCOM_KEY_ENV = "REPORT_TEST_CALCOM_API_KEY"
# A key-shaped secret a quarantine error carries (redact_text masks Cal.com key shapes) and the
# tenant's own key value (set in the environment by the tests), neither may reach the file.
LEAKED_KEY = "cal_live_0123456789abcdef0123456789abcdef"
TENANT_KEY_VALUE = "tenant-own-secret-value-42"
EVIL_AGENT_NAME = 'Rezeption <script>alert("x")</script> & Co'

TENANTS_YAML = f"""
tenants:
  - slug: {TENANT}
    name: Praxis <Report> & Söhne
    timezone: Europe/Berlin
    calcom:
      api_key_env: {CALCOM_KEY_ENV}
    retell:
      api_key_env: REPORT_TEST_RETELL_API_KEY
    branches:
      - id: mitte
        name: Praxis Mitte
        calcom_event_type_id: 1001
        phone_numbers: ["+4930123456701"]
      - id: nord
        name: Praxis Nord
        calcom_event_type_id: 1002
        phone_numbers: ["+4930123456702"]
  - slug: {OTHER}
    name: Another practice
    timezone: Europe/Berlin
    calcom:
      api_key_env: OTHER_TEST_CALCOM_API_KEY
"""

# Expected figures of WEEK for TENANT.
DAILY = {  # day offset: (inbound calls, calls with a booking, bookings created), summed over branches
    0: (12, 4, 6),
    1: (9, 3, 3),
    2: (15, 7, 8),
    4: (4, 1, 2),  # Thursday (offset 3) has no rows: it shows as zero
    5: (3, 0, 1),
    6: (1, 1, 1),
}
WEEK_CALLS = sum(v[0] for v in DAILY.values())  # 44
WEEK_BOOKINGS = sum(v[2] for v in DAILY.values())  # 21
QUARANTINED = 12


def write_tenants_file(folder: Path) -> Path:
    path = folder / "tenants.yaml"
    path.write_text(textwrap.dedent(TENANTS_YAML))
    return path


def report_tenant(tenants_file: Path) -> Tenant:
    return load_tenants(tenants_file).get(TENANT)


def _bookkeeping(rows: list[dict]) -> list[dict]:
    now = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)
    return [{"row_hash": "0" * 40, "synced_at": now, **row} for row in rows]


def _day(offset: int) -> dt.date:
    return MONDAY + dt.timedelta(days=offset)


def _outcomes() -> list[dict]:
    rows = []
    for offset, (calls, linked, created) in DAILY.items():
        # Split over two branches so the loader has to sum them.
        rows.append(_outcome(TENANT, _day(offset), "mitte", calls - 1, linked, created - 1))
        rows.append(_outcome(TENANT, _day(offset), "-", 1, 0, 1))
    rows.append(_outcome(TENANT, _day(-1), "mitte", 100, 50, 50))  # Sunday before the week
    rows.append(_outcome(TENANT, _day(7), "mitte", 100, 50, 50))  # Monday after it
    rows.append(_outcome(OTHER, _day(0), "mitte", 77, 7, 7))
    return rows


def _outcome(tenant: str, day: dt.date, branch: str, calls: int, linked: int, created: int) -> dict:
    return {
        "tenant": tenant,
        "day": day,
        "branch_id": branch,
        "inbound_calls": calls,
        "calls_with_booking": linked,
        "bookings_created": created,
        "cancellations": 0,
        "booking_success_rate": linked / calls if calls else None,
    }


def _success_row(tenant: str, day: dt.date, grouping: str, key: str, counts: tuple[int, int, int, int], **extra):
    calls, tried, booked, cancelled = counts
    return {
        "tenant": tenant,
        "day": day,
        "grouping": grouping,
        "group_key": key,
        "branch_id": extra.get("branch_id"),
        "agent_id": extra.get("agent_id"),
        "agent_version": extra.get("agent_version"),
        "calls": calls,
        "calls_tried_to_book": tried,
        "bookings_from_calls": booked,
        "bookings_from_calls_cancelled": cancelled,
        "bookings_from_calls_rescheduled": 0,
        "success_rate": booked / tried if tried else None,
    }


def _success() -> list[dict]:
    rows = []
    for offset in (0, 2):  # two days, summed by the loader
        day = _day(offset)
        rows.append(_success_row(TENANT, day, "tenant", "*", (10, 8, 4, 1)))
        rows.append(_success_row(TENANT, day, "branch", "mitte", (7, 6, 3, 1), branch_id="mitte"))
        rows.append(_success_row(TENANT, day, "branch", "-", (3, 2, 1, 0), branch_id="-"))
        rows.append(
            _success_row(TENANT, day, "agent_version", "agent_a@3", (6, 5, 1, 0), agent_id="agent_a", agent_version=3)
        )
        rows.append(
            _success_row(TENANT, day, "agent_version", "agent_a@4", (4, 3, 3, 1), agent_id="agent_a", agent_version=4)
        )
    # nord took calls but none tried to book: a rate of n/a, not 0 %
    rows.append(_success_row(TENANT, _day(1), "branch", "nord", (2, 0, 0, 0), branch_id="nord"))
    rows.append(_success_row(TENANT, _day(7), "tenant", "*", (90, 90, 90, 0)))  # next week
    rows.append(_success_row(OTHER, _day(0), "tenant", "*", (90, 90, 90, 0)))
    return rows


def _call(call_id: str, offset: int = 0, tenant: str = TENANT, **flags) -> dict:
    return {
        "tenant": tenant,
        "day": _day(offset),
        "call_id": call_id,
        "direction": "inbound",
        "intent": flags.pop("intent", "book"),
        "availability_checked": False,
        "booking_tool_called": flags.get("booking_result") is not None,
        "transferred": flags.pop("transferred", False),
        "silent": flags.pop("silent", False),
        "abandoned": flags.pop("abandoned", False),
        "booking_result": None,
        "booking_confirmed": None,
        "disconnection_reason": None,
        **flags,
    }


def _calls() -> list[dict]:
    return [
        _call("c1", 0, booking_result="no_slot", disconnection_reason="agent_hangup"),
        _call("c2", 0, booking_result="no_slot", disconnection_reason="user_hangup"),
        _call("c3", 1, booking_result="no_slot", abandoned=True, disconnection_reason="user_hangup"),
        _call("c4", 1, booking_result="error", disconnection_reason="error_llm_websocket_runtime"),
        _call("c5", 2, booking_result="booked", booking_confirmed=False, disconnection_reason="agent_hangup"),
        _call("c6", 2, booking_result="booked", booking_confirmed=True, disconnection_reason="agent_hangup"),
        _call("c7", 3, transferred=True, disconnection_reason="call_transfer"),
        _call("c8", 4, silent=True, disconnection_reason="inactivity"),
        _call("c9", 6, silent=True, disconnection_reason="inactivity"),
        _call("c10", 6, intent="question", disconnection_reason="user_hangup"),
        _call("x1", 7, booking_result="no_slot"),  # next week
        _call("x2", 0, tenant=OTHER, booking_result="error"),
    ]


# no_slot 3, silent 2, ended: inactivity 2, error 1, abandoned 1, not in Cal.com 1, transferred 1,
# ended: error_llm_websocket_runtime 1 (ordinary endings like user_hangup are not reasons)
EXPECTED_REASONS = [
    ("no free slot (booking tool found none)", 3),
    ("caller silent", 2),
    ("ended: inactivity", 2),
    ("booked but not in Cal.com", 1),
    ("booking tool error", 1),
    ("caller hung up early (abandoned)", 1),
    ("ended: error_llm_websocket_runtime", 1),
    ("transferred to a person", 1),
]


def _run(run_id: str, api: str, started: dt.datetime, tenant: str = TENANT, **figures) -> dict:
    row = {
        "tenant": tenant,
        "api": api,
        "run_id": run_id,
        "started_at": started,
        "finished_at": started + dt.timedelta(minutes=2),
        "requests": 100,
        "errors_4xx": 0,
        "errors_5xx": 0,
        "errors_network": 0,
        "rate_limited": 0,
        "retries": 0,
        "breaker_opens": 0,
        "budget_waits": 0,
        "latency_p50_ms": 80.0,
        "latency_p95_ms": 200.0,
        "min_rate_limit_remaining": 100,
        "rate_limit": 120,
    }
    row.update(figures)
    return row


def _api_runs() -> list[dict]:
    utc = dt.UTC
    return [
        # Monday 00:30 Berlin is Sunday 23:30 UTC: inside the local week
        _run("r1", "calcom", dt.datetime(2026, 11, 22, 23, 30, tzinfo=utc), errors_5xx=2, rate_limited=3, retries=5),
        _run(
            "r2",
            "calcom",
            dt.datetime(2026, 11, 27, 9, 0, tzinfo=utc),
            requests=50,
            errors_4xx=1,
            errors_network=1,
            latency_p95_ms=950.0,
            min_rate_limit_remaining=7,
            breaker_opens=1,
        ),
        _run("r3", "retell", dt.datetime(2026, 11, 25, 9, 0, tzinfo=utc), requests=300, min_rate_limit_remaining=None),
        # Sunday 23:30 Berlin (22:30 UTC) belongs to the week before
        _run("r0", "calcom", dt.datetime(2026, 11, 22, 22, 30, tzinfo=utc), requests=9999),
        _run("o1", "calcom", dt.datetime(2026, 11, 24, 9, 0, tzinfo=utc), tenant=OTHER, requests=9999),
    ]


def _quarantine() -> list[dict]:
    base = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    rows = []
    for n in range(QUARANTINED):
        error = f"start: field required (record {n})"
        if n == QUARANTINED - 1:  # the newest
            error = f"<b>bad</b> token {LEAKED_KEY} and {TENANT_KEY_VALUE}"
        rows.append(
            {
                "tenant": TENANT,
                "api": "calcom",
                "entity": "calcom_bookings",
                "scope": "2026-11-24",
                "record_id": f"uid-{n:02d}",
                "error": error,
                "payload": {"uid": f"uid-{n:02d}"},
                "first_seen": base + dt.timedelta(hours=n),
                "last_seen": base + dt.timedelta(hours=n, minutes=30),
            }
        )
    rows.append({**rows[0], "tenant": OTHER, "record_id": "other-1"})
    return rows


def _chain_rows() -> dict[sa.Table, list[dict]]:
    return {
        phone_assignments: [
            {
                "tenant": TENANT,
                "phone_number": "+4930123456701",
                "agent_id": "agent_a",
                "agent_version": "prod",
                "agent_version_resolved": 4,
                "agent_version_published": True,
                "agent_name": EVIL_AGENT_NAME,
                "branch_id": "mitte",
                "branch_name": "Praxis Mitte",
                "event_type_id": "1001",
                "event_type_title": "Erstgespräch",
                "hosting_staff_count": 2,
            },
            {
                "tenant": TENANT,
                "phone_number": "+4930123456702",
                "agent_id": None,
                "agent_version": None,
                "agent_version_resolved": None,
                "agent_version_published": None,
                "agent_name": None,
                "branch_id": "nord",
                "branch_name": "Praxis Nord",
                "event_type_id": "1002",
                "event_type_title": None,
                "hosting_staff_count": None,
            },
        ],
        staff: [
            {"tenant": TENANT, "staff_id": "s1", "name": "Dr. Anna Berg", "source": "user"},
            {"tenant": TENANT, "staff_id": "s2", "name": "Ben Kurz", "source": "user"},
            {"tenant": OTHER, "staff_id": "s1", "name": "Not this tenant", "source": "user"},
        ],
        staff_event_types: [
            {"tenant": TENANT, "staff_id": "s1", "event_type_id": "1001", "role": "host"},
            {"tenant": TENANT, "staff_id": "s2", "event_type_id": "1001", "role": "host"},
            {"tenant": OTHER, "staff_id": "s1", "event_type_id": "1001", "role": "host"},
        ],
        retell_agent_versions: [
            {"tenant": TENANT, "agent_id": "agent_a", "version": 3, "agent_name": "Rezeption"},
            {"tenant": TENANT, "agent_id": "agent_a", "version": 4, "agent_name": EVIL_AGENT_NAME},
        ],
    }


def fill_week(engine: sa.Engine) -> None:
    """Insert every row above (the tables must exist)."""
    tables = {
        booking_outcomes: _outcomes(),
        booking_success: _success(),
        call_analysis: _calls(),
        api_health: _api_runs(),
        **_chain_rows(),
    }
    with engine.begin() as conn:
        for table, rows in tables.items():
            conn.execute(table.insert(), _bookkeeping(rows) if "row_hash" in table.c else rows)
        conn.execute(quarantined_records.insert(), _quarantine())

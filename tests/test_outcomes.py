"""Booking outcomes: the linking rules on their own, and against the simulator's ground truth."""

import datetime as dt

from dagster import DagsterInstance

from askpro_pipelines.outcomes import link_calls_to_bookings, outcome_rows
from askpro_pipelines.sync import FACT_ASSETS, run_sync
from askpro_pipelines.tenants import load_tenants, parse_tenants
from askpro_pipelines.warehouse import Warehouse

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
TENANT = parse_tenants(
    """
tenants:
  - slug: t
    name: T
    calcom: {api_key_env: K}
    branches:
      - {id: mitte, name: Mitte, calcom_event_type_id: 11, phone_numbers: ["+4930111"]}
      - {id: west, name: West, calcom_event_type_id: 22, phone_numbers: ["+4930222"]}
"""
).tenants[0]


def _call(call_id, minute, caller="+491701234567", to="+4930111", uid=None, minutes=3):
    start = T0 + dt.timedelta(minutes=minute)
    return {
        "call_id": call_id,
        "direction": "inbound",
        "from_number": caller,
        "to_number": to,
        "start_utc": start,
        "end_utc": start + dt.timedelta(minutes=minutes),
        "booking_uid": uid,
    }


def _booking(uid, created_minute, phone="0170 1234567", event_type="11", status="accepted"):
    return {
        "uid": uid,
        "event_type_id": event_type,
        "status": status,
        "attendee_phone": phone,
        "created_at": T0 + dt.timedelta(minutes=created_minute),
    }


def test_uid_written_by_the_agent_wins():
    links = link_calls_to_bookings([_call("c1", 0, uid="b-far")], [_booking("b-far", 600), _booking("b-near", 2)])
    assert links == {"c1": "b-far"}


def test_caller_number_and_time_window():
    calls = [_call("c1", 0), _call("c2", 60, caller="+491709999999")]
    bookings = [_booking("inside", 10), _booking("too-late", 40)]  # window: call end (3 min) + 15 min
    assert link_calls_to_bookings(calls, bookings) == {"c1": "inside"}


def test_each_booking_links_to_one_call_the_earliest():
    calls = [_call("late", 5), _call("early", 0)]
    assert link_calls_to_bookings(calls, [_booking("b", 6)]) == {"early": "b"}


def test_naive_datetimes_from_sqlite_are_utc():
    call = _call("c1", 0)
    call["start_utc"] = call["start_utc"].replace(tzinfo=None)
    call["end_utc"] = call["end_utc"].replace(tzinfo=None)
    assert link_calls_to_bookings([call], [_booking("b", 1)]) == {"c1": "b"}


def test_rows_per_branch_with_rate():
    calls = [
        _call("c1", 0),
        _call("c2", 30, caller="+491705555555"),
        _call("c3", 40, to="+4930222"),
        _call("x", 50, to="+4930999"),
    ]
    created = [
        _booking("b1", 1),
        _booking("b2", 45, event_type="22", phone=None),
        _booking("b3", 50, event_type="99", phone=None),
    ]
    appointments = [_booking("old", -5000, status="cancelled"), _booking("b1", 1)]
    rows = {r["branch_id"]: r for r in outcome_rows(TENANT, calls, created, appointments, created)}
    assert rows["mitte"] == {
        "branch_id": "mitte",
        "inbound_calls": 2,
        "calls_with_booking": 1,
        "bookings_created": 1,
        "cancellations": 1,
        "booking_success_rate": 0.5,
    }
    assert (
        rows["west"]["inbound_calls"] == 1
        and rows["west"]["calls_with_booking"] == 0
        and rows["west"]["bookings_created"] == 1
    )
    assert (
        rows["-"]["inbound_calls"] == 1
        and rows["-"]["bookings_created"] == 1
        and rows["-"]["booking_success_rate"] == 0.0
    )


def test_outcomes_match_the_simulators_ground_truth(simulator, tenants_file, warehouse_env):
    day = dt.date(2026, 11, 18)
    report = run_sync(load_tenants(), select=FACT_ASSETS, days=1, until=day, instance=DagsterInstance.ephemeral())
    assert report.success, [t.errors for t in report.tenants]
    wh = Warehouse.from_url(warehouse_env)
    for slug in ("praxis-v2", "praxis-v1"):
        calls = [c for c in simulator.world.calls_on(slug, day) if c.direction == "inbound"]
        truth = sum(1 for c in calls if c.booking_uid)
        rows = wh.read_slice("booking_outcomes", slug, day=day)
        assert sum(r["inbound_calls"] for r in rows) == len(calls)
        assert sum(r["calls_with_booking"] for r in rows) == truth

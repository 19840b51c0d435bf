"""Booking success figures on hand-made rows: what counts as tried, booked, cancelled, rescheduled."""

import datetime as dt

import pytest

from askpro_pipelines.analytics.booking_success import rate_drops, success_rows

BRANCHES = ["mitte", "west"]


def _call(call_id, **given):
    row = {
        "call_id": call_id,
        "direction": "inbound",
        "agent_id": "agent_a",
        "agent_version": 3,
        "branch_id": "mitte",
        "intent": "question",
        "availability_checked": False,
        "booking_tool_called": False,
        "calcom_booking_uid": None,
        "disconnection_reason": "agent_hangup",
        "transferred": False,
        "duration_ms": 60_000,
    }
    return {**row, **given}


def _booking(uid, status="accepted", rescheduled=None, rescheduled_to_uid=None, rescheduled_from_uid=None):
    return {
        "uid": uid,
        "status": status,
        "rescheduled": rescheduled,
        "rescheduled_to_uid": rescheduled_to_uid,
        "rescheduled_from_uid": rescheduled_from_uid,
    }


def _by_key(rows):
    return {(r["grouping"], r["group_key"]): r for r in rows}


def test_a_quiet_day_has_a_tenant_row_and_one_row_per_branch_with_no_rates():
    rows = success_rows([], [], BRANCHES)
    assert [(r["grouping"], r["group_key"]) for r in rows] == [
        ("tenant", "*"),
        ("branch", "mitte"),
        ("branch", "west"),
    ]
    for row in rows:
        assert row["calls"] == row["calls_tried_to_book"] == row["bookings_from_calls"] == 0
        assert row["bookings_from_calls_cancelled"] == row["bookings_from_calls_rescheduled"] == 0
        assert row["success_rate"] is None and row["median_call_seconds"] is None
        assert row["transfer_share"] is None and row["hangup_share"] is None
    assert _by_key(rows)[("branch", "west")]["branch_id"] == "west"
    assert _by_key(rows)[("tenant", "*")]["branch_id"] is None


def test_tried_to_book_by_intent_or_tool_or_match():
    calls = [
        _call("intent-book", intent="book"),
        _call("intent-reschedule", intent="reschedule"),
        _call("availability", availability_checked=True),
        _call("booking-tool", booking_tool_called=True),
        _call("matched", intent="other", calcom_booking_uid="b1"),
        _call("question"),
        _call("cancel", intent="cancel"),
    ]
    tenant = _by_key(success_rows(calls, [_booking("b1")], BRANCHES))[("tenant", "*")]
    assert tenant["calls"] == 7
    assert tenant["calls_tried_to_book"] == 5
    assert tenant["bookings_from_calls"] == 1
    assert tenant["success_rate"] == 0.2


def test_outbound_calls_do_not_count_and_a_call_without_direction_does():
    calls = [_call("in"), _call("out", direction="outbound", intent="book"), _call("web", direction=None)]
    tenant = _by_key(success_rows(calls, [], BRANCHES))[("tenant", "*")]
    assert tenant["calls"] == 2 and tenant["calls_tried_to_book"] == 0


def test_calls_with_no_branch_count_under_dash():
    calls = [_call("c1", branch_id=None, intent="book", calcom_booking_uid="b1"), _call("c2")]
    rows = _by_key(success_rows(calls, [_booking("b1")], BRANCHES))
    nobody = rows[("branch", "-")]
    assert nobody["branch_id"] is None
    assert (nobody["calls"], nobody["calls_tried_to_book"], nobody["bookings_from_calls"]) == (1, 1, 1)
    assert nobody["success_rate"] == 1.0
    assert rows[("branch", "mitte")]["calls"] == 1 and rows[("branch", "mitte")]["success_rate"] is None
    assert rows[("branch", "west")]["calls"] == 0
    assert rows[("tenant", "*")]["calls"] == 2


def test_bookings_from_calls_cancelled_or_rescheduled_later_as_synced_now():
    calls = [
        _call("kept", intent="book", calcom_booking_uid="b-kept"),
        _call("cancelled", intent="book", calcom_booking_uid="b-cancelled"),
        _call("moved", intent="book", calcom_booking_uid="b-moved"),
        _call("moved-by-uid", intent="book", calcom_booking_uid="b-moved-2"),
        _call("moved-v1", intent="book", calcom_booking_uid="b-moved-3"),
        # the call names a booking the mirror does not hold: tried, not booked
        _call("unknown", intent="book", calcom_booking_uid="b-not-synced"),
    ]
    bookings = [
        _booking("b-kept"),
        _booking("b-cancelled", status="cancelled"),
        # a reschedule cancels the old booking and marks it rescheduled: rescheduled, not cancelled
        _booking("b-moved", status="cancelled", rescheduled=True, rescheduled_to_uid="b-new"),
        _booking("b-moved-2", status="cancelled", rescheduled=None, rescheduled_to_uid="b-new-2"),
        # API v1 says nothing on the old booking; the new one names it
        _booking("b-moved-3", status="cancelled"),
        _booking("b-new-3", rescheduled_from_uid="b-moved-3"),
    ]
    tenant = _by_key(success_rows(calls, bookings, BRANCHES))[("tenant", "*")]
    assert tenant["calls_tried_to_book"] == 6
    assert tenant["bookings_from_calls"] == 5
    assert tenant["bookings_from_calls_cancelled"] == 1
    assert tenant["bookings_from_calls_rescheduled"] == 3
    assert tenant["success_rate"] == round(5 / 6, 4)


def test_a_booking_named_by_two_calls_counts_once():
    calls = [_call("c1", intent="book", calcom_booking_uid="b1"), _call("c2", intent="book", calcom_booking_uid="b1")]
    tenant = _by_key(success_rows(calls, [_booking("b1")], BRANCHES))[("tenant", "*")]
    assert tenant["bookings_from_calls"] == 1 and tenant["calls_tried_to_book"] == 2


def test_rows_per_agent_version_the_calls_ran_with():
    calls = [
        _call("a3-1", intent="book", calcom_booking_uid="b1"),
        _call("a3-2", intent="book"),
        _call("a4", agent_version=4, intent="book", calcom_booking_uid="b2", branch_id="west"),
        _call("b-none", agent_id="agent_b", agent_version=None),
        _call("unknown", agent_id=None, agent_version=None),
    ]
    rows = _by_key(success_rows(calls, [_booking("b1"), _booking("b2")], BRANCHES))
    versions = {k: r for (g, k), r in rows.items() if g == "agent_version"}
    assert set(versions) == {"agent_a@3", "agent_a@4", "agent_b@-", "-"}
    assert (versions["agent_a@3"]["agent_id"], versions["agent_a@3"]["agent_version"]) == ("agent_a", 3)
    assert versions["agent_a@3"]["success_rate"] == 0.5 and versions["agent_a@4"]["success_rate"] == 1.0
    assert versions["agent_b@-"]["agent_id"] == "agent_b" and versions["agent_b@-"]["agent_version"] is None
    assert versions["-"]["agent_id"] is None and versions["-"]["calls"] == 1
    assert all(r["branch_id"] is None for r in versions.values())


def test_median_of_connected_calls_and_shares_over_all_calls():
    calls = [
        _call("c1", duration_ms=30_000, disconnection_reason="user_hangup"),
        _call("c2", duration_ms=90_000, transferred=True, disconnection_reason="call_transfer"),
        _call("c3", duration_ms=120_500, disconnection_reason="user_hangup"),
        _call("not-connected", duration_ms=0, disconnection_reason="concurrency_limit_reached"),
    ]
    tenant = _by_key(success_rows(calls, [], BRANCHES))[("tenant", "*")]
    assert tenant["median_call_seconds"] == 90.0
    assert tenant["transfer_share"] == 0.25
    assert tenant["hangup_share"] == 0.5
    assert isinstance(tenant["calls"], int) and isinstance(tenant["transfer_share"], float)


def _branch_day(day, branch, tried, booked):
    return {"day": day, "group_key": branch, "calls_tried_to_book": tried, "bookings_from_calls": booked}


DAY = dt.date(2026, 11, 20)


def _history(rate_per_day=0.6, tried_per_day=10, days=14, branch="mitte"):
    return [
        _branch_day(DAY - dt.timedelta(days=n), branch, tried_per_day, round(tried_per_day * rate_per_day))
        for n in range(1, days + 1)
    ]


def test_a_drop_of_twenty_points_or_more_is_reported_naming_branch_and_day():
    rows = [*_history(), _branch_day(DAY, "mitte", 10, 4), _branch_day(DAY, "west", 10, 4)]
    assert rate_drops(rows, DAY) == [
        {"branch": "mitte", "day": "2026-11-20", "rate": 0.4, "trailing_rate": 0.6, "tried": 10, "trailing_tried": 140}
    ]


@pytest.mark.parametrize(
    "today, history",
    [
        (_branch_day(DAY, "mitte", 10, 5), _history()),  # 10 points below: steady enough
        (_branch_day(DAY, "mitte", 4, 0), _history()),  # too few tried today
        (_branch_day(DAY, "mitte", 10, 0), _history(days=1)),  # too few tried before
        # days older than the trailing 14 do not count
        (_branch_day(DAY, "mitte", 10, 4), [_branch_day(DAY - dt.timedelta(days=15), "mitte", 100, 90)]),
    ],
)
def test_no_warning_within_the_band_or_on_thin_figures(today, history):
    assert rate_drops([*history, today], DAY) == []

"""A busy tenant: 10,000 calls a day (issue 15's backfill), served whole and with consistent ids."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from askpro_pipelines.simulator import SimTenantSpec, SimulatorConfig, build_world

BUSY = SimTenantSpec(
    slug="callcenter",
    calcom_key="cal_test_sim_callcenter",
    retell_key="key_sim_callcenter",
    phone_numbers=["+4930123456790"],
    calls_per_day=10_000,
    bookings_per_day=100,
)
CONFIG = SimulatorConfig(seed=7, tenants=[BUSY])
TUESDAY = date(2026, 9, 8)  # a full weekday: 0.75x to 1.25x the mean


def test_the_spec_takes_10000_calls_a_day_and_no_more():
    with pytest.raises(ValueError, match="calls_per_day must be between 0 and 10000"):
        build_world(SimulatorConfig(tenants=[replace(BUSY, calls_per_day=10_001)]))


def test_a_day_of_10000_calls_is_listed_whole_and_its_booking_ids_stay_in_the_days_range(sim, client):
    world = build_world(CONFIG)
    calls = world.calls_on(BUSY.slug, TUESDAY)
    assert 7_500 <= len(calls) <= 12_500 and len({c.call_id for c in calls}) == len(calls)

    start = datetime.combine(TUESDAY, time(0), tzinfo=ZoneInfo(BUSY.time_zone)).astimezone(UTC)
    window = [int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000) - 1]
    body = {"filter_criteria": {"start_timestamp": {"op": "bt", "type": "range", "value": window}}, "limit": 1000}
    listed: list[str] = []
    while True:
        page = client.post(f"{sim.retell_base_url}/v3/list-calls", json=body,
                           headers={"Authorization": f"Bearer {BUSY.retell_key}"}).json()  # fmt: skip
        listed += [item["call_id"] for item in page["items"]]
        if not page["has_more"]:
            break
        body["pagination_key"] = page["pagination_key"]
    assert sorted(listed) == sorted(c.call_id for c in calls)

    # A day's integer booking and attendee ids share one range of 1,000: the bookings made during the
    # calls are capped so that a busy day stays inside it, apart from its neighbours' and each other.
    days = [TUESDAY - timedelta(days=1), TUESDAY, TUESDAY + timedelta(days=1)]
    bookings = [b for day in days for b in world.bookings_on(BUSY.slug, day)]
    booking_ids = [b.id for b in bookings]
    attendee_ids = [a.id for b in bookings for a in b.attendees]
    assert len(set(booking_ids)) == len(booking_ids) and len(set(attendee_ids)) == len(attendee_ids)
    assert not set(booking_ids) & set(attendee_ids)
    linked = [b for b in world.bookings_on(BUSY.slug, TUESDAY) if b.call_id]
    assert 200 <= len(linked) <= 250

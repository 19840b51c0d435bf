"""The simulator's `/v2/slots` over HTTP against its own ground truth: every offered start lies in a
host's working hours (overrides included), overlaps none of that host's bookings, follows a booking
added or cancelled, and keeps its wall-clock hours across the October daylight-saving change."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from askpro_simulator import SimTenantSpec, SimulatorConfig

CONFIG = SimulatorConfig(
    tenants=[
        SimTenantSpec(
            slug="slots",
            calcom_key="cal_test_slots",
            retell_key="key_slots",
            event_types=6,
            staff=4,
            bookings_per_day=12,
        )
    ]
)
BERLIN = ZoneInfo("Europe/Berlin")


def _slots(client, sim, event_type_id, start, end, zone="Europe/Berlin", key="cal_test_slots"):
    response = client.get(
        f"{sim.calcom_base_url}/v2/slots",
        params={"eventTypeId": event_type_id, "start": start, "end": end, "timeZone": zone},
        headers={"Authorization": f"Bearer {key}", "cal-api-version": "2024-09-04"},
    )
    return response


def _hosts(tenant, event_type):
    if not event_type.is_team:
        owner = tenant.user(event_type.owner_id)
        return [(owner.id, tenant.schedule(event_type.schedule_id or owner.default_schedule_id))]
    return [
        (h.user_id, tenant.schedule(h.schedule_id or tenant.user(h.user_id).default_schedule_id))
        for h in event_type.hosts
    ]


def _in_hours(schedule, start, end):
    """Independent of the simulator's code: the local wall-clock span inside one row of that day."""
    zone = ZoneInfo(schedule.time_zone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date()
    overrides = [o for o in schedule.overrides if o.date == day.isoformat()]
    rows = (
        [(o.start_time, o.end_time) for o in overrides]
        if overrides
        else [(a.start_time, a.end_time) for a in schedule.availability if (day.weekday() + 1) % 7 in a.days]
    )
    for row_start, row_end in rows:
        if (row_start, row_end) == ("00:00", "00:00"):
            continue
        lo = time.fromisoformat(row_start)
        hi = time.fromisoformat(row_end) if row_end != "00:00" else time(23, 59, 59)
        if local_end.date() == day and lo <= local_start.time() and local_end.time() <= hi:
            return True
    return False


def _free(tenant, user_id, start, end, event_type):
    before = timedelta(minutes=event_type.before_event_buffer)
    after = timedelta(minutes=event_type.after_event_buffer)
    for day in (start.astimezone(BERLIN).date() - timedelta(days=1), start.astimezone(BERLIN).date()):
        for booking in tenant.bookings_on(day):
            if booking.organizer_id == user_id and booking.status in ("accepted", "pending"):
                if booking.start < end + after and start - before < booking.end:
                    return False
    return True


def test_slots_respect_hours_and_bookings_across_dst(sim, client):
    tenant = sim.world.tenants["slots"]
    offsets = set()
    for event_type in tenant.event_types:
        response = _slots(client, sim, event_type.id, "2026-10-22", "2026-10-28")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success"
        for day, items in body["data"].items():
            assert items, day  # days without slots are absent
            for item in items:
                start = datetime.fromisoformat(item["start"])
                assert start.astimezone(BERLIN).date().isoformat() == day
                assert item["start"].endswith(("+02:00", "+01:00")) and ".000" in item["start"]
                offsets.add(item["start"][-6:])
                end = start + timedelta(minutes=event_type.length)
                answers = [
                    _in_hours(schedule, start, end) and _free(tenant, user_id, start, end, event_type)
                    for user_id, schedule in _hosts(tenant, event_type)
                ]
                assert all(answers) if event_type.scheduling_type == "collective" else any(answers), (
                    event_type.id,
                    item,
                )
    assert offsets == {"+02:00", "+01:00"}  # summer and winter time both answered


def test_wall_clock_hours_survive_the_dst_change(sim, client):
    """The same weekday one week apart, either side of 2026-10-25: the same local start times are
    offered, so their UTC instants are 7 days and 1 hour apart."""
    tenant = sim.world.tenants["slots"]
    common = 0
    for event_type in tenant.event_types:
        data = _slots(client, sim, event_type.id, "2026-10-23", "2026-10-30").json()["data"]
        before = {
            datetime.fromisoformat(i["start"]).time(): datetime.fromisoformat(i["start"])
            for i in data.get("2026-10-23", [])
        }
        after = {
            datetime.fromisoformat(i["start"]).time(): datetime.fromisoformat(i["start"])
            for i in data.get("2026-10-30", [])
        }
        for local in before.keys() & after.keys():
            common += 1
            assert after[local] - before[local] == timedelta(days=7, hours=1)
            assert before[local].utcoffset() == timedelta(hours=2) and after[local].utcoffset() == timedelta(hours=1)
    assert common > 0


def test_another_zone_keys_days_in_that_zone(sim, client):
    tenant = sim.world.tenants["slots"]
    event_type = tenant.event_types[0]
    berlin = _slots(client, sim, event_type.id, "2026-11-02", "2026-11-06").json()["data"]
    tokyo = _slots(client, sim, event_type.id, "2026-11-02", "2026-11-06", zone="Asia/Tokyo").json()["data"]
    as_instants = lambda data: {datetime.fromisoformat(i["start"]) for items in data.values() for i in items}  # noqa: E731
    for day, items in tokyo.items():
        assert all(
            datetime.fromisoformat(i["start"]).astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat() == day
            for i in items
        )
        assert all(i["start"].endswith("+09:00") for i in items)
    # Same instants wherever both windows overlap (Tokyo's window starts 8 hours earlier).
    overlap_start = datetime(2026, 11, 2, tzinfo=BERLIN)
    overlap_end = datetime(2026, 11, 6, 16, tzinfo=BERLIN)
    pick = lambda s: {i for i in s if overlap_start <= i < overlap_end}  # noqa: E731
    assert pick(as_instants(berlin)) == pick(as_instants(tokyo))


def test_slots_follow_added_and_cancelled_bookings(sim, client):
    tenant = sim.world.tenants["slots"]
    event_type = next(et for et in tenant.event_types if not et.is_team)
    day = "2026-11-18"
    starts = [
        datetime.fromisoformat(i["start"])
        for i in _slots(client, sim, event_type.id, day, day).json()["data"].get(day, [])
    ]
    assert starts, "a weekday in November has free slots"
    target = starts[len(starts) // 2]
    booking = tenant.activity.add_booking(target, event_type_id=event_type.id)
    after = [
        datetime.fromisoformat(i["start"])
        for i in _slots(client, sim, event_type.id, day, day).json()["data"].get(day, [])
    ]
    assert target not in after
    tenant.activity.cancel_booking(booking.uid)
    again = [
        datetime.fromisoformat(i["start"])
        for i in _slots(client, sim, event_type.id, day, day).json()["data"].get(day, [])
    ]
    assert target in again


def test_override_day_off_has_no_slots_and_errors(sim, client):
    tenant = sim.world.tenants["slots"]
    owner = tenant.admin
    schedule = tenant.schedule(owner.default_schedule_id)
    day_off = next(o.date for o in schedule.overrides if (o.start_time, o.end_time) == ("00:00", "00:00"))
    personal = [et for et in tenant.event_types if not et.is_team and (et.schedule_id in (None, schedule.id))]
    for event_type in personal:
        assert day_off not in _slots(client, sim, event_type.id, day_off, day_off).json()["data"]
    assert _slots(client, sim, tenant.event_types[0].id, "2026-11-05", "2026-11-01").status_code == 400
    assert _slots(client, sim, tenant.event_types[0].id, "2026-11-01", "2026-11-05", key="wrong").status_code == 401
    assert _slots(client, sim, 999_999_999, "2026-11-01", "2026-11-05").status_code == 404

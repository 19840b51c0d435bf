"""`branch_availability` through Dagster against the simulator, on SQLite and PostgreSQL: the
slots and utilisation of the next 14 days equal the simulator's ground truth, and the offline
answer reads the snapshot and says how old it is."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from askpro_pipelines.availability.cli import cmd_availability
from askpro_pipelines.cli import build_parser
from askpro_pipelines.definitions import defs
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.availability import read_window
from askpro_simulator.slots import free_slots, working_intervals

BERLIN = ZoneInfo("Europe/Berlin")
DIMENSIONS = ["calcom_event_types", "staff", "staff_event_types", "working_hours", "working_hour_overrides"]


@pytest.fixture
def availability(sync, warehouse_env):
    report = sync(select=DIMENSIONS)
    assert report.success, report
    job = defs.resolve_job_def("refresh_availability")
    for slug in ("praxis-v2", "praxis-v1"):
        result = job.execute_in_process(instance=sync.instance, partition_key=slug)
        assert result.success
    warehouse = Warehouse.from_url(warehouse_env)
    yield warehouse
    warehouse.dispose()


def test_slots_and_utilisation_match_the_simulator(availability, simulator):
    today = dt.datetime.now(dt.UTC).astimezone(BERLIN).date()
    days = [today + dt.timedelta(days=n) for n in range(14)]
    tenant = simulator.world.tenants["praxis-v2"]
    rows = {r["day"]: r for r in read_window(availability, "branch_availability", "praxis-v2", today)}
    assert sorted(rows) == days
    truth = free_slots(tenant, 1001, days[0], days[-1], "Europe/Berlin")
    for day in days:
        assert rows[day]["branch_id"] == "mitte" and rows[day]["event_type_id"] == "1001"
        assert rows[day]["slots"] == [s.isoformat() for s in truth.get(day.isoformat(), [])]
        assert rows[day]["free_slots"] == len(rows[day]["slots"])

    staff = {(r["staff_id"], r["day"]): r for r in read_window(availability, "staff_utilisation", "praxis-v2", today)}
    for user in tenant.users:
        schedule = tenant.schedule(user.default_schedule_id)
        for day in days:
            row = staff[(str(user.id), day)]
            available = sum(int((end - start).total_seconds() // 60) for start, end in working_intervals(schedule, day))
            booked = sum(
                b.duration_minutes
                for b in tenant.bookings_on(day)
                if b.organizer_id == user.id and b.status in ("accepted", "pending")
            )
            assert (row["available_minutes"], row["booked_minutes"]) == (available, booked), (user.id, day)
            assert row["utilisation"] == (round(booked / available, 4) if available else None)

    # Branch figures are the sums over the event type's hosts.
    hosts = [h.user_id for h in tenant.event_type(1001).hosts] or [tenant.event_type(1001).owner_id]
    for day in days:
        assert rows[day]["available_minutes"] == sum(staff[(str(u), day)]["available_minutes"] for u in hosts)
        assert rows[day]["booked_minutes"] == sum(staff[(str(u), day)]["booked_minutes"] for u in hosts)

    # A v1 tenant gets its slots over v2 all the same.
    assert len(read_window(availability, "branch_availability", "praxis-v1", today)) == 14


def test_offline_answer_reads_the_snapshot(availability, simulator, capsys):
    row = next(
        r
        for r in read_window(availability, "branch_availability", "praxis-v2", dt.date.today() + dt.timedelta(days=1))
        if r["slots"]
    )
    slot = dt.datetime.fromisoformat(row["slots"][0])
    later = row["refreshed_at"] + dt.timedelta(minutes=42)
    args = build_parser().parse_args(
        ["availability", "--phone", "+4930123456701", "--at", slot.strftime("%Y-%m-%dT%H:%M"), "--offline"]
    )
    simulator.stop()  # no API is asked
    assert cmd_availability(args, now=min(later, slot - dt.timedelta(minutes=1))) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("offline: snapshot taken") and "old" in out
    assert "free: " in out

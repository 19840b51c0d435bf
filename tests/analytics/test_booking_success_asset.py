"""booking_success through Dagster: a week of the demo tenants against the simulator's ground truth,
the figures each day's partition records, and the rate check warning on a drop.

call_analysis rows are written from the simulator's ground truth (what each call was about, the
booking it made, how it ended), as the call_analysis asset would derive them; bookings are synced
from the simulator through Dagster, after some bookings made by phone were cancelled or moved.
"""

import datetime as dt
import statistics
from collections import defaultdict
from importlib import resources

import pytest
import sqlalchemy as sa
from dagster import AssetCheckKey, AssetKey, AssetRecordsFilter, DagsterInstance

from askpro_pipelines.partitions import tenant_day_key
from askpro_pipelines.phone_chain import normalize_phone_number
from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.tables import call_analysis
from askpro_simulator.demo import simulator_for

WEEK = [dt.date(2026, 11, 16) + dt.timedelta(days=n) for n in range(7)]
INTENTS = {"Terminbuchung": "book", "Terminabsage": "cancel", "Rezeptfrage": "question"}


def _intent(call) -> str:
    return INTENTS.get(call.call_analysis.get("custom_analysis_data", {}).get("anliegen"), "other")


def _analysis_row(slug, day, call, branch_by_number):
    """The call_analysis row the calls' analysis gives a simulated call (ground truth, not parsed)."""
    intent = _intent(call)
    return {
        "tenant": slug,
        "day": day,
        "call_id": call.call_id,
        "direction": call.direction,
        "agent_id": call.agent_id,
        "agent_version": call.agent_version,
        "branch_id": branch_by_number.get(normalize_phone_number(call.to_number)),
        "language": "de",
        "intent": intent,
        "booking_tool_generation": "custom" if call.booking_uid else None,
        "availability_checked": intent == "book",
        "booking_tool_called": call.booking_uid is not None,
        "booking_result": "booked" if call.booking_uid else None,
        "booked_uid": call.booking_uid,
        "calcom_booking_uid": call.booking_uid,
        "booking_confirmed": True if call.booking_uid else None,
        "disconnection_reason": call.disconnection_reason,
        "transferred": call.disconnection_reason == "call_transfer",
        "silent": False,
        "abandoned": False,
        "duration_ms": call.duration_ms,
        "call_successful": call.call_analysis.get("call_successful"),
        "user_sentiment": call.call_analysis.get("user_sentiment"),
        "call_summary": call.call_analysis.get("call_summary"),
        "row_hash": "0" * 40,
        "synced_at": dt.datetime.now(dt.UTC),
    }


def _insert_call_analysis(url, rows):
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(call_analysis.insert(), rows)
    engine.dispose()


def _expected(calls, booking_of):
    """The figures of one group, computed by hand from the simulator's calls and bookings."""
    tried = [c for c in calls if c.booking_uid or _intent(c) == "book"]
    booked = {c.booking_uid for c in calls if c.booking_uid}
    moved = {uid for uid in booked if booking_of(uid).rescheduled}
    cancelled = {uid for uid in booked if booking_of(uid).status == "cancelled"} - moved
    connected = [c.duration_ms / 1000 for c in calls if c.duration_ms > 0]
    return {
        "calls": len(calls),
        "calls_tried_to_book": len(tried),
        "bookings_from_calls": len(booked),
        "bookings_from_calls_cancelled": len(cancelled),
        "bookings_from_calls_rescheduled": len(moved),
        "success_rate": round(len(booked) / len(tried), 4) if tried else None,
        "median_call_seconds": round(statistics.median(connected), 3) if connected else None,
        "transfer_share": round(sum(c.disconnection_reason == "call_transfer" for c in calls) / len(calls), 4)
        if calls
        else None,
        "hangup_share": round(sum(c.disconnection_reason == "user_hangup" for c in calls) / len(calls), 4)
        if calls
        else None,
    }


@pytest.fixture
def demo_tenants(tmp_path, monkeypatch):
    path = tmp_path / "tenants.yaml"
    path.write_text(resources.files("askpro_pipelines").joinpath("demo_tenants.yaml").read_text("utf-8"))
    monkeypatch.setenv("ASKPRO_TENANTS_FILE", str(path))
    for name in ("STADTPARK_CALCOM_WEBHOOK_SECRET", "SCHOENHAAR_CALCOM_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "whsec-demo-test")
    return load_tenants()


def _change_bookings_made_by_phone(world, slug):
    """Cancel one booking made by phone, move another to a later day, and reschedule a third
    the way Cal.com does (the old booking cancelled and marked, a new one in its place)."""
    activity = world.tenant(slug).activity
    made = [c.booking_uid for day in WEEK[:3] for c in world.calls_on(slug, day) if c.booking_uid]
    cancelled, moved, rescheduled = made[0], made[1], made[2]
    activity.cancel_booking(cancelled)
    later = activity.booking(moved).start + dt.timedelta(days=3)
    activity.mutate_booking(moved, start=later)
    old = activity.booking(rescheduled)
    new = activity.add_booking(old.start + dt.timedelta(days=2), event_type_id=old.event_type_id)
    activity.mutate_booking(new.uid, rescheduled_from_uid=old.uid)
    activity.mutate_booking(rescheduled, status="cancelled", rescheduled=True, rescheduled_to_uid=new.uid)
    return cancelled, moved, rescheduled


def test_a_week_of_demo_activity_matches_the_ground_truth(demo_tenants, warehouse_env):
    config = demo_tenants
    instance = DagsterInstance.ephemeral()
    with simulator_for(config) as simulator:
        world = simulator.world
        changed = {slug: _change_bookings_made_by_phone(world, slug) for slug in config.slugs}
        bookings = run_sync(config, select=["calcom_bookings"], days=len(WEEK), until=WEEK[-1], instance=instance)
        assert bookings.success, [t.errors for t in bookings.tenants]

        rows = []
        for tenant in config.tenants:
            branch_by_number = {n: b.id for b in tenant.branches for n in b.phone_numbers}
            for day in WEEK:
                rows += [_analysis_row(tenant.slug, day, c, branch_by_number) for c in world.calls_on(tenant.slug, day)]
        _insert_call_analysis(warehouse_env, rows)

        report = run_sync(config, select=["booking_success"], days=len(WEEK), until=WEEK[-1], instance=instance)
        assert report.success, [t.errors for t in report.tenants]

        wh = Warehouse.from_url(warehouse_env)
        checked = 0
        for tenant in config.tenants:
            slug = tenant.slug
            booking_of = world.tenant(slug).booking
            cancelled, moved, rescheduled = changed[slug]
            assert booking_of(cancelled).status == "cancelled" and booking_of(rescheduled).rescheduled
            branch_by_number = {n: b.id for b in tenant.branches for n in b.phone_numbers}
            for day in WEEK:
                inbound = [c for c in world.calls_on(slug, day) if c.direction == "inbound"]
                groups = defaultdict(list)
                groups[("tenant", "*")] = inbound
                for branch in tenant.branches:
                    groups[("branch", branch.id)] = []
                for call in inbound:
                    groups[("branch", branch_by_number.get(call.to_number, "-"))].append(call)
                    groups[("agent_version", f"{call.agent_id}@{call.agent_version}")].append(call)
                stored = {(r["grouping"], r["group_key"]): r for r in wh.read_slice("booking_success", slug, day=day)}
                assert set(stored) == set(groups), (slug, day)
                for key, calls in groups.items():
                    found = {name: stored[key][name] for name in _expected([], booking_of)}
                    assert found == pytest.approx(_expected(calls, booking_of)), (slug, day, key)
                    checked += 1

                figures = _figures(instance, slug, day)
                tenant_row = stored[("tenant", "*")]
                assert (
                    figures["calls"] == tenant_row["calls"] and figures["booked"] == tenant_row["bookings_from_calls"]
                )
                assert figures["tried"] == tenant_row["calls_tried_to_book"]
                assert figures.get("success_rate") == tenant_row["success_rate"]
                for branch in tenant.branches:
                    rate = stored[("branch", branch.id)]["success_rate"]
                    assert figures.get(f"branch/{branch.id}/success_rate") == rate, (slug, day, branch.id)
        wh.dispose()
    # every tenant had calls, bookings from calls, and the three changed bookings counted
    totals = defaultdict(int)
    for slug in config.slugs:
        for day in WEEK:
            rows = Warehouse.from_url(warehouse_env).read_slice("booking_success", slug, day=day)
            row = next(r for r in rows if r["grouping"] == "tenant")
            for name in ("calls", "bookings_from_calls", "bookings_from_calls_cancelled"):
                totals[(slug, name)] += row[name]
    assert all(value > 0 for value in totals.values()), totals
    assert checked > 7 * len(config.slugs) * 3


def _figures(instance, slug, day):
    """The numeric metadata the partition's materialization carries, as plain numbers."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("booking_success"), asset_partitions=[str(tenant_day_key(slug, day))]),
        limit=1,
    ).records
    assert records, (slug, day)
    metadata = records[0].asset_materialization.metadata
    return {name: value.value for name, value in metadata.items() if isinstance(value.value, int | float)}


# ---- the check --------------------------------------------------------------------------------

TENANT = "praxis-v2"  # the test tenants (tests/conftest.py): one branch, mitte
CHECK_DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(15)]


def _booked_call(day, n, booked):
    uid = f"b-{day:%m%d}-{n}" if booked else None
    return {
        "tenant": TENANT,
        "day": day,
        "call_id": f"c-{day:%m%d}-{n}",
        "direction": "inbound",
        "agent_id": "agent_x",
        "agent_version": 1,
        "branch_id": "mitte",
        "intent": "book",
        "availability_checked": True,
        "booking_tool_called": True,
        "calcom_booking_uid": uid,
        "transferred": False,
        "silent": False,
        "abandoned": False,
        "duration_ms": 120_000,
        "row_hash": "0" * 40,
        "synced_at": dt.datetime.now(dt.UTC),
    }


def _seed(url, booked_on_last_day):
    """10 calls a day that try to book; 6 book on each of 14 days, then `booked_on_last_day`."""
    calls, bookings = [], defaultdict(list)
    for day in CHECK_DAYS:
        booked = booked_on_last_day if day == CHECK_DAYS[-1] else 6
        for n in range(10):
            call = _booked_call(day, n, n < booked)
            calls.append(call)
            if call["calcom_booking_uid"]:
                start = dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC)
                bookings[day].append(
                    {
                        "uid": call["calcom_booking_uid"],
                        "status": "accepted",
                        "start_utc": start,
                        "end_utc": start + dt.timedelta(minutes=30),
                        "attendees_count": 1,
                    }
                )
    wh = Warehouse.from_url(url)
    wh.create_tables()
    for day, rows in bookings.items():
        wh.replace_slice("calcom_bookings", TENANT, rows, day=day)
    wh.dispose()
    _insert_call_analysis(url, calls)


def _evaluation(sync):
    records = sync.instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("booking_success"), "booking_success_rate_steady"), limit=1
    )
    assert records, "the check did not run"
    return records[0].event.dagster_event.event_specific_data


def test_a_drop_well_below_the_trailing_rate_warns_naming_tenant_branch_and_day(sync, warehouse_env):
    _seed(warehouse_env, booked_on_last_day=3)  # 30 % against 60 % over the 14 days before
    report = sync(tenant_slugs=[TENANT], select=["booking_success"], days=len(CHECK_DAYS), until=CHECK_DAYS[-1])
    assert report.success  # a warning does not fail the sync
    assert report.tenants[0].warned_checks == ["booking_success_rate_steady"]
    evaluation = _evaluation(sync)
    assert not evaluation.passed and evaluation.severity.value == "WARN"
    assert evaluation.description.startswith(f"tenant {TENANT} 2026-11-01…2026-11-15: 1 branch success rate drop")
    assert "branch mitte on 2026-11-15: 30% of 10 tried vs 60% of 140" in evaluation.description
    rows = Warehouse.from_url(warehouse_env).read_slice("booking_success", TENANT, day=CHECK_DAYS[-1])
    mitte = next(r for r in rows if r["group_key"] == "mitte")
    assert (mitte["calls_tried_to_book"], mitte["bookings_from_calls"], mitte["success_rate"]) == (10, 3, 0.3)


def test_a_steady_rate_passes(sync, warehouse_env):
    _seed(warehouse_env, booked_on_last_day=5)  # 50 % against 60 %: within the band
    report = sync(tenant_slugs=[TENANT], select=["booking_success"], days=len(CHECK_DAYS), until=CHECK_DAYS[-1])
    assert report.success and not report.tenants[0].warned_checks
    assert _evaluation(sync).passed

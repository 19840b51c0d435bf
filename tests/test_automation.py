"""Declarative automation of booking_outcomes, evaluated the way the daemon's automation sensor does.

The real definitions, a real instance and real runs against the simulator: a backfill of
calcom_bookings over past days (what the UI launches for one asset and a day range) must bring
booking_outcomes (and booking_success) up to date for each of those days, not only for the newest day.
"""

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from dagster import AssetKey, AssetRecordsFilter, evaluate_automation_conditions, instance_for_test

from askpro_pipelines.definitions import defs
from askpro_pipelines.partitions import tenant_day_key
from askpro_pipelines.tenants import load_tenants

TENANT = "praxis-v2"
BOOKINGS, OUTCOMES = AssetKey("calcom_bookings"), AssetKey("booking_outcomes")
CALL_ANALYSIS = AssetKey("call_analysis")  # follows bookings the same way (their match to calls)
SUCCESS = AssetKey("booking_success")  # reads the bookings and the call analysis
ASSIGNMENTS = AssetKey("phone_assignments")  # a dimension: one partition per tenant, rewritten hourly


def _latest_storage_id(instance, key: AssetKey, partition: str) -> int:
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1)
    return records.records[0].storage_id if records.records else -1


def _outcome_days(url: str) -> set[dt.date]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select distinct day from booking_outcomes where tenant = :t"), {"t": TENANT})
            return {dt.date.fromisoformat(str(day)) for (day,) in rows}
    finally:
        engine.dispose()


def test_a_bookings_backfill_over_past_days_refreshes_outcomes_of_each_day(sync, warehouse_env):
    instance = sync.instance
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    days = [today - dt.timedelta(days=n) for n in range(7, 2, -1)]  # five past days
    keys = {str(tenant_day_key(TENANT, day)) for day in days}
    instance.add_dynamic_partitions("tenants", ["praxis-v2", "praxis-v1"])
    idle = evaluate_automation_conditions(defs=defs, instance=instance)  # the sensor ticked before
    assert idle.get_num_requested(OUTCOMES) == 0

    # The backfill: one asset, a day range, one single run.
    backfill = sync(tenant_slugs=[TENANT], select=["calcom_bookings"], days=5, until=days[-1])
    assert backfill.success, backfill.tenants

    first = evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)
    assert {str(key) for key in first.get_requested_partitions(OUTCOMES)} == keys
    assert {str(key) for key in first.get_requested_partitions(CALL_ANALYSIS)} == keys
    assert {str(key) for key in first.get_requested_partitions(SUCCESS)} == keys  # in the same tick as its upstream
    assert first.total_requested == 3 * len(keys)  # nothing else, no other day

    # The requested run (one range run, as the sensor's backfill makes it), then the next tick.
    select = ["booking_outcomes", "call_analysis", "booking_success"]
    outcomes = sync(tenant_slugs=[TENANT], select=select, days=5, until=days[-1])
    assert outcomes.success, outcomes.tenants
    second = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.total_requested == 0
    for key in keys:  # fresh: each day's outcomes are newer than its bookings
        assert _latest_storage_id(instance, OUTCOMES, key) > _latest_storage_id(instance, BOOKINGS, key), key
        assert _latest_storage_id(instance, SUCCESS, key) > _latest_storage_id(instance, BOOKINGS, key), key
    assert set(days) <= _outcome_days(warehouse_env)

    # A webhook-style run writes bookings and outcomes together: that day's call analysis and booking
    # success follow.
    together = sync(tenant_slugs=[TENANT], select=["calcom_bookings", "booking_outcomes"], days=1, until=days[0])
    assert together.success, together.tenants
    third = evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert third.get_num_requested(OUTCOMES) == 0
    day = {str(tenant_day_key(TENANT, days[0]))}
    assert {str(key) for key in third.get_requested_partitions(CALL_ANALYSIS)} == day
    assert {str(key) for key in third.get_requested_partitions(SUCCESS)} == day
    assert third.total_requested == 2


def test_the_automation_tags_its_runs_so_the_instance_runs_one_at_a_time():
    """deploy/dagster.yaml limits runs with this tag to one: the automation's run starts do not crowd
    out the runs that land webhooks (benchmarks/freshness.py)."""
    import yaml

    from askpro_pipelines.policies import DERIVED_RUN_TAG

    sensor = defs.resolve_sensor_def("derived_assets_automation")
    assert sensor.run_tags == {DERIVED_RUN_TAG: "automation"}
    deploy = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
    limits = yaml.safe_load(deploy.read_text())["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": DERIVED_RUN_TAG, "limit": 1} in limits


def _scheduled_run(instance, schedule_name: str):
    """Evaluate the schedule now and execute its one request as the daemon launches it: the job, the
    request's partition or range tags (only praxis-v2 has a partition)."""
    from dagster import build_schedule_context

    from askpro_pipelines.resources.tenants import TenantsResource
    from tests.conftest import FAST_RETRIES

    schedule = defs.resolve_schedule_def(schedule_name)
    now = dt.datetime.now(dt.UTC)
    with build_schedule_context(
        instance=instance, scheduled_execution_time=now, resources={"tenants": TenantsResource()}
    ) as ctx:
        [request] = schedule(ctx)
    result = defs.resolve_job_def(schedule.job_name).execute_in_process(
        instance=instance,
        asset_selection=request.asset_selection,
        partition_key=request.partition_key,
        tags=request.tags,
        run_config=FAST_RETRIES,
        raise_on_error=False,
    )
    assert result.success
    return result


def test_only_changed_phone_assignments_redo_the_call_analysis(simulator, warehouse_env):
    """What a fleet showed: every hourly dimensions run rewrites the phone assignments, a dependency of
    every day's call analysis, and the automation then re-derived each tenant's whole history (93 days
    per tenant, every hour). Now only new assignments do; a scheduled facts run leaves nothing to redo."""
    with instance_for_test() as instance:
        _scheduled_runs_and_assignments(instance, simulator)


def _scheduled_runs_and_assignments(instance, simulator) -> None:
    from askpro_pipelines.partitions import tenant_day_partitions

    instance.add_dynamic_partitions("tenants", [TENANT])
    days = {
        str(key)
        for key in tenant_day_partitions.get_partition_keys(dynamic_partitions_store=instance)
        if key.keys_by_dimension["tenant"] == TENANT
    }
    cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor

    _scheduled_run(instance, "facts_every_15_minutes")
    after_facts = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    assert after_facts.total_requested == 0

    _scheduled_run(instance, "dimensions_hourly")  # the first assignments of the tenant: every day follows
    first = evaluate_automation_conditions(defs=defs, instance=instance, cursor=after_facts.cursor)
    assert {str(k) for k in first.get_requested_partitions(CALL_ANALYSIS)} == days
    assert first.get_num_requested(ASSIGNMENTS) == 0  # written by the run itself

    written = _latest_storage_id(instance, ASSIGNMENTS, TENANT)
    _scheduled_run(instance, "dimensions_hourly")  # the same assignments, rewritten an hour later
    assert _latest_storage_id(instance, ASSIGNMENTS, TENANT) > written
    unchanged = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert unchanged.total_requested == 0

    number = simulator.world.tenants[TENANT].phone_numbers[0].phone_number
    key = os.environ[load_tenants().get(TENANT).retell.api_key_env]
    unassigned = httpx.patch(
        f"{simulator.retell_base_url}/update-phone-number/{number}",
        json={"inbound_agents": []},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert unassigned.status_code == 200, unassigned.text
    _scheduled_run(instance, "dimensions_hourly")  # a number unassigned: the days follow again
    moved = evaluate_automation_conditions(defs=defs, instance=instance, cursor=unchanged.cursor)
    assert {str(k) for k in moved.get_requested_partitions(CALL_ANALYSIS)} == days

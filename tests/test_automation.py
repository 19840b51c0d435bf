"""Declarative automation of booking_outcomes, evaluated the way the daemon's automation sensor does.

The real definitions, a real instance and real runs against the simulator: a backfill of
calcom_bookings over past days (what the UI launches for one asset and a day range) must bring
booking_outcomes (and booking_success) up to date for each of those days, not only for the newest day.
"""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from dagster import AssetKey, AssetRecordsFilter, evaluate_automation_conditions

from askpro_pipelines.definitions import defs
from askpro_pipelines.partitions import tenant_day_key

TENANT = "praxis-v2"
BOOKINGS, OUTCOMES = AssetKey("calcom_bookings"), AssetKey("booking_outcomes")
CALL_ANALYSIS = AssetKey("call_analysis")  # follows bookings the same way (their match to calls)
SUCCESS = AssetKey("booking_success")  # reads the bookings and the call analysis


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

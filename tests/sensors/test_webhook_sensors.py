"""The webhook sensors over a real Dagster instance: batching, cursor, settling runs, dead letters."""

import datetime as dt
import json

import pytest
from dagster import DagsterInstance, DagsterRunStatus, SensorResult, build_sensor_context

from askpro_pipelines.definitions import defs
from askpro_pipelines.partitions import tenant_day_key
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.sensors.webhooks import (
    MAX_ATTEMPTS,
    calcom_webhook_sensor,
    retell_webhook_sensor,
    route,
)
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.webhooks.store import WebhookStore
from askpro_simulator.server import Fault

DAY = dt.date(2026, 11, 20)
OTHER_DAY = dt.date(2026, 11, 21)


@pytest.fixture
def store(warehouse_env):
    wh = Warehouse.from_url(warehouse_env)
    wh.create_tables()
    return WebhookStore(wh.engine)


@pytest.fixture
def instance():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", ["praxis-v2", "praxis-v1"])
    return instance


def _land(store, provider, event_type, n, tenant="praxis-v2", day=DAY, prefix="e"):
    return [
        store.land(
            tenant=tenant,
            provider=provider,
            event_type=event_type,
            dedup_key=f"{prefix}-{event_type}-{i}-{day}",
            entity_id=f"{prefix}{i}",
            event_day=day,
            payload="{}",
        )[0]
        for i in range(n)
    ]


def _tick(sensor, instance, warehouse_env, cursor=None) -> SensorResult:
    resources = {"warehouse": WarehouseResource(url=warehouse_env), "tenants": TenantsResource()}
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def _run(instance, request, run_config=None, sensor_name=None):
    """Execute a requested run in process, tagged as the daemon would tag it."""
    job = defs.resolve_job_def(request.job_name)
    sensor_tag = {"dagster/sensor_name": sensor_name} if sensor_name else {}
    return job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
        tags={**request.tags, **sensor_tag, "dagster/run_key": request.run_key},
        run_config=run_config,
        raise_on_error=False,
    )


def _new_runs(instance, sensor_name, requests):
    """The requests the sensor daemon would turn into new runs: those whose run key no run of
    this sensor carries yet (Dagster's own run-key check, `fetch_existing_runs`)."""
    from types import SimpleNamespace

    from dagster._daemon.sensor import fetch_existing_runs

    existing = fetch_existing_runs(instance, SimpleNamespace(name=sensor_name), requests)
    return [r for r in requests if r.run_key not in existing]


def test_routing():
    assert route("calcom", "BOOKING_CREATED").name == "bookings"
    assert route("calcom", "MEETING_ENDED").name == "bookings"
    assert route("calcom", "OOO_CREATED").name == "calcom_dimensions"
    assert route("calcom", "EVENT_TYPE_UPDATED").name == "calcom_dimensions"
    assert route("calcom", "FORM_SUBMITTED") is None
    assert route("retell", "call_analyzed").name == "calls"
    assert route("retell", "agent_updated").name == "retell_dimensions"
    assert route("retell", "chat_started") is None


def test_many_events_become_few_runs_and_the_cursor_advances(store, instance, warehouse_env, tenants_file):
    _land(store, "calcom", "BOOKING_CREATED", 5)
    _land(store, "calcom", "BOOKING_CANCELLED", 2, prefix="c")
    _land(store, "calcom", "BOOKING_CREATED", 3, day=OTHER_DAY, prefix="o")
    _land(store, "calcom", "OOO_CREATED", 1, prefix="ooo")
    acked = _land(store, "calcom", "FORM_SUBMITTED", 1, prefix="form")

    result = _tick(calcom_webhook_sensor, instance, warehouse_env)
    partitions = sorted((r.job_name, r.partition_key) for r in result.run_requests)
    assert partitions == sorted(
        [
            ("sync_facts", str(tenant_day_key("praxis-v2", DAY))),
            ("sync_facts", str(tenant_day_key("praxis-v2", OTHER_DAY))),
            ("sync_dimensions", "praxis-v2"),
            ("refresh_availability", "praxis-v2"),  # bookings and schedules change what is free
        ]
    )
    day_run = next(r for r in result.run_requests if r.partition_key == str(tenant_day_key("praxis-v2", DAY)))
    assert {k.to_user_string() for k in day_run.asset_selection} == {"calcom_bookings", "booking_outcomes"}
    assert day_run.tags["askpro/webhook_events"] == "7"
    assert json.loads(result.cursor)["last_id"] == store.max_id("calcom")
    (landing,) = result.asset_events
    assert landing.metadata["new_events"].value == 12
    assert store.list(status="processed")[0].id == acked[0]
    assert len(store.queued("calcom")) == 11

    # Nothing new and the runs were never created (the daemon went down after the tick): the same
    # batches are requested again under the same run keys, so Dagster creates each run once.
    # (The availability refresh is not re-requested: no event is pending any more, and the
    # 30-minute availability schedule covers a refresh lost that way.)
    again = _tick(calcom_webhook_sensor, instance, warehouse_env, cursor=result.cursor)
    batches = [r.run_key for r in result.run_requests if r.job_name != "refresh_availability"]
    assert sorted(r.run_key for r in again.run_requests) == sorted(batches)
    assert len(store.queued("calcom")) == 11


def test_success_marks_processed_failure_retries_then_dead_letters(
    store, instance, warehouse_env, simulator, tenants_file
):
    day = dt.date.today()
    _land(store, "retell", "call_ended", 3, day=day)
    fast = {"resources": {"retell": {"config": {"backoff_base_s": 0.01, "max_attempts": 2}}}}

    # First delivery batch: the run succeeds, the events are processed.
    result = _tick(retell_webhook_sensor, instance, warehouse_env)
    (request,) = result.run_requests
    assert {k.to_user_string() for k in request.asset_selection} == {
        "retell_calls",
        "retell_call_transcripts",
        "booking_outcomes",
    }
    assert _run(instance, request, fast).success
    settled = _tick(retell_webhook_sensor, instance, warehouse_env, cursor=result.cursor)
    assert settled.asset_events[0].metadata["settled/processed"].value == 3
    assert {e.status for e in store.list(provider="retell")} == {"processed"}

    # A later event whose runs keep failing: retried, then a dead letter after MAX_ATTEMPTS.
    (event_id,) = _land(store, "retell", "call_analyzed", 1, day=day, prefix="bad")
    simulator.add_fault(Fault(kind="status", status=500, path_prefix="/retell/v3/list-calls", count=-1))
    tick = _tick(retell_webhook_sensor, instance, warehouse_env, cursor=settled.cursor)
    for attempt in range(MAX_ATTEMPTS):
        (request,) = tick.run_requests  # the first request, then each retry after a settle
        assert request.run_key.split(":")[-2] == f"a{attempt}"
        assert not _run(instance, request, fast).success
        tick = _tick(retell_webhook_sensor, instance, warehouse_env, cursor=tick.cursor)
    assert not tick.run_requests
    assert tick.asset_events[0].metadata["settled/dead"].value == 1
    (event,) = [e for e in store.list(provider="retell") if e.id == event_id]
    assert event.status == "dead" and event.attempts == MAX_ATTEMPTS and "FAILURE" in event.last_error
    cursor = tick.cursor

    # Replaying the dead letter after the outage brings it back and it lands.
    simulator.clear_faults()
    assert store.requeue(ids=[event_id]) == 1
    tick = _tick(retell_webhook_sensor, instance, warehouse_env, cursor=cursor)
    assert _run(instance, tick.run_requests[0], fast).success
    _tick(retell_webhook_sensor, instance, warehouse_env, cursor=tick.cursor)
    assert [e.status for e in store.list(provider="retell") if e.id == event_id] == ["processed"]


def test_a_booking_for_a_day_not_yet_offered_is_acknowledged_without_a_run(
    store, instance, warehouse_env, tenants_file
):
    from dagster import partition_loading_context

    from askpro_pipelines.partitions import tenant_day_partitions

    today = dt.datetime.now(dt.UTC).date()
    ahead = _land(store, "calcom", "BOOKING_CREATED", 1, day=today + dt.timedelta(days=3), prefix="ahead")
    _land(store, "calcom", "BOOKING_CREATED", 1, day=today - dt.timedelta(days=1), prefix="past")

    result = _tick(calcom_webhook_sensor, instance, warehouse_env)
    # A request for a day that is no partition would fail the whole tick in the daemon.
    facts = [r for r in result.run_requests if r.job_name == "sync_facts"]
    assert [r.partition_key for r in facts] == [str(tenant_day_key("praxis-v2", today - dt.timedelta(days=1)))]
    # The booking ahead still changes what is free: the tenant's availability is refreshed.
    assert [(r.job_name, r.partition_key) for r in result.run_requests if r not in facts] == [
        ("refresh_availability", "praxis-v2")
    ]
    with partition_loading_context(dynamic_partitions_store=instance):
        for request in facts:
            assert tenant_day_partitions.has_partition_key(request.partition_key)
    assert [e.id for e in store.list(status="processed")] == ahead


def test_a_tick_evaluated_again_after_a_crash_requests_nothing_twice(
    store, instance, warehouse_env, simulator, tenants_file
):
    """The daemon launched the tick's runs and crashed before storing the cursor, and the sensor's
    own writes were lost too (rolled back): the tick is evaluated again from the same state, builds
    the same run keys, and Dagster's run-key check skips every one of them."""
    import sqlalchemy as sa

    from askpro_pipelines.warehouse.tables import webhook_events

    today = dt.date.today()
    _land(store, "calcom", "BOOKING_CREATED", 4, day=today)
    _land(store, "calcom", "EVENT_TYPE_UPDATED", 2, prefix="et")
    _land(store, "calcom", "BOOKING_CREATED", 2, day=today - dt.timedelta(days=1), prefix="o")
    cursor = json.dumps({"last_id": 0, "generation": 7})  # what an earlier, committed tick left
    with store.engine.connect() as conn:
        before = [dict(row._mapping) for row in conn.execute(sa.select(webhook_events))]

    first = _tick(calcom_webhook_sensor, instance, warehouse_env, cursor=cursor)
    # two fact days, the dimensions, and the availability refresh the bookings call for
    assert len(first.run_requests) == 4
    assert _new_runs(instance, "calcom_webhook_sensor", first.run_requests) == first.run_requests
    fast = {"resources": {"calcom": {"config": {"backoff_base_s": 0.01}}}}
    for request in first.run_requests:
        assert _run(instance, request, fast, sensor_name="calcom_webhook_sensor").success
    # Crash: neither the cursor nor the sensor's writes were committed.
    with store.engine.begin() as conn:
        conn.execute(webhook_events.delete())
        conn.execute(webhook_events.insert(), before)
    assert {e.status for e in store.list(provider="calcom")} == {"pending"}

    second = _tick(calcom_webhook_sensor, instance, warehouse_env, cursor=cursor)
    assert [r.run_key for r in second.run_requests] == [r.run_key for r in first.run_requests]
    assert _new_runs(instance, "calcom_webhook_sensor", second.run_requests) == []
    assert len(instance.get_runs()) == 4

    # The next tick settles the runs the first evaluation launched; nothing is requested again.
    settled = _tick(calcom_webhook_sensor, instance, warehouse_env, cursor=second.cursor)
    assert not settled.run_requests
    assert {e.status for e in store.list(provider="calcom")} == {"processed"}


def test_run_keys_are_a_digest_of_the_events_and_the_generation(store, instance, warehouse_env, tenants_file):
    """Same events and cursor give the same key; other events, attempts or a later generation do not."""
    from askpro_pipelines.sensors.webhooks import batch_run_key

    ids = _land(store, "calcom", "BOOKING_CREATED", 3)
    events = [e for e in store.pending("calcom") if e.id in ids]
    key = batch_run_key("calcom", "bookings", "p", events, 4)
    assert key == batch_run_key("calcom", "bookings", "p", list(reversed(events)), 4)
    assert key.startswith("webhook:calcom:bookings:p:a0:")
    assert key != batch_run_key("calcom", "bookings", "p", events[:2], 4)
    assert key != batch_run_key("calcom", "bookings", "p", events, 5)


def _queue(instance, request):
    """The requested run as the daemon's queue holds it: created with its code origin, status QUEUED."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="askpro_pipelines.definitions", attribute="defs")
    )
    origin = RemoteRepositoryOrigin(location, "__repository__").get_job_origin(request.job_name)
    return instance.create_run_for_job(
        job_def=defs.resolve_job_def(request.job_name),
        status=DagsterRunStatus.QUEUED,
        remote_job_origin=origin,
        asset_selection=set(request.asset_selection),
        tags={**request.tags, "dagster/run_key": request.run_key, "dagster/partition": request.partition_key},
    )


def test_events_for_a_partition_whose_run_waits_in_the_queue_join_that_run(
    store, instance, warehouse_env, simulator, tenants_file
):
    """Under a burst, a partition gets one waiting run, not one per tick: the run has not fetched yet,
    so it covers events landed before it starts. Once it has started, new events get a run of their own."""
    day = dt.date.today()
    first_ids = _land(store, "retell", "call_ended", 2, day=day)
    first = _tick(retell_webhook_sensor, instance, warehouse_env)
    (request,) = first.run_requests
    waiting = _queue(instance, request)

    # Two more ticks while the run waits: a second day gets its own run, the same day joins the waiting one.
    joined_ids = _land(store, "retell", "call_analyzed", 3, day=day, prefix="j")
    _land(store, "retell", "call_ended", 1, day=day - dt.timedelta(days=1), prefix="y")
    second = _tick(retell_webhook_sensor, instance, warehouse_env, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == [
        str(tenant_day_key("praxis-v2", day - dt.timedelta(days=1)))
    ]
    assert second.asset_events[0].metadata["joined_waiting_runs"].value == 3
    queued = {e.id: e.run_key for e in store.queued("retell")}
    assert {queued[i] for i in first_ids + joined_ids} == {request.run_key}

    # The daemon launches the waiting run (executed here under its run key) and it succeeds: all five
    # events it covers are processed.
    instance.delete_run(waiting.run_id)
    fast = {"resources": {"retell": {"config": {"backoff_base_s": 0.01}}}}
    assert _run(instance, request, fast).success
    third = _tick(retell_webhook_sensor, instance, warehouse_env, cursor=second.cursor)
    assert third.asset_events[0].metadata["settled/processed"].value == 5
    assert {e.id for e in store.list(status="processed")} >= set(first_ids + joined_ids)

    # A run that has started (or ended) takes no more events: a new one is requested for them.
    _land(store, "retell", "call_analyzed", 1, day=day, prefix="late")
    later = _tick(retell_webhook_sensor, instance, warehouse_env, cursor=third.cursor)
    (today_run,) = [r for r in later.run_requests if r.partition_key == str(tenant_day_key("praxis-v2", day))]
    assert today_run.run_key != request.run_key and today_run.tags["askpro/webhook_events"] == "1"


def test_the_webhook_sensors_tick_on_every_loop_of_the_sensor_daemon():
    """Their minimum interval stays below the daemon's loop: one equal to it skipped every other loop
    whenever a sensor was reached earlier in the loop than the time before (ticks 10 s apart)."""
    from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

    for name in ("calcom_webhook_sensor", "retell_webhook_sensor"):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status.value == "RUNNING"
        assert sensor.minimum_interval_seconds is not None
        assert sensor.minimum_interval_seconds <= MIN_INTERVAL_LOOP_TIME - 2, name

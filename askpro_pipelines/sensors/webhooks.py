"""One sensor per provider turns landed webhook events into runs for exactly what changed.

Each tick:

1. **Settle** events handed to runs earlier: a successful run marks its events processed; a
   failed or cancelled run counts an attempt and sends them back to pending, or to dead letters
   after `MAX_ATTEMPTS`. A queued batch whose run does not exist (the tick that requested it
   crashed before Dagster created the run, or the run was deleted) is requested again under the
   same run key.
2. **Batch** pending events by target and partition (many events → few runs) and request one
   run each. A batch whose target and partition already have a run waiting in the queue joins that
   run instead (**coalescing**): the run has not started, so when it does it fetches the tenant-day
   or the dimensions from the API after these events landed and covers them. Under a burst a
   partition has at most one waiting run however short the tick, which protects the APIs.
3. Report the landing table (`webhook_events`) as materialized when new events arrived, with the
   counts by status (dead letters included) as metadata; the cursor is the newest event id seen
   and the number of committed ticks (the generation).

Run keys are a digest of what a batch covers: its sorted (event id, attempt) pairs and the
cursor's generation. A tick evaluated again after a crash sees the same cursor and the same events,
so it builds the same keys and Dagster's run-key de-duplication launches nothing twice; the
generation keeps a replayed event (attempts back at zero) from reusing the key of its earlier run.
The writes a tick makes (queued, processed, failed) are keyed by run key and only move events
forward, so repeating them after a crash changes nothing.

Routing: booking events refresh that tenant-day of `calcom_bookings` and `booking_outcomes`; call
events refresh `retell_calls`, `retell_call_transcripts` and `booking_outcomes`; Cal.com
out-of-office, event-type or schedule events (`OOO_*`, `EVENT_TYPE_*`, `SCHEDULE_*`) refresh the
tenant's Cal.com dimensions and phone assignments; Retell agent or phone-number events
(`agent_*`, `phone_number_*`) refresh the Retell dimension assets and the phone assignments.
Anything else (forms, chat) is acknowledged without a run, and so is a booking or call whose day
is not a fact partition (an appointment after today: the schedules sync that day when it comes).
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass

from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from askpro_pipelines.assets.availability import availability_requests, refresh_availability_job
from askpro_pipelines.jobs import sync_dimensions_job, sync_facts_job
from askpro_pipelines.partitions import TENANTS, is_offered_day, local_day, tenant_day_key, tenant_partitions
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.tenants import TenantsConfig, TenantsFileError
from askpro_pipelines.webhooks.store import LandedEvent, WebhookStore

MAX_ATTEMPTS = 3
BATCH_LIMIT = 2000
# The sensor daemon evaluates sensors at most every 5 s (dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME):
# that loop is the cadence; coalescing (module docstring) keeps bursts to few runs.
TICK_SECONDS = 5
# The minimum interval stays below the loop: the daemon skips a sensor whose last tick began less than
# the minimum ago, and loops start exactly 5 s apart while a sensor's place in the loop drifts by the
# time spent on the sensors before it. A minimum equal to the loop skipped every other loop whenever
# this sensor came earlier than last time (benchmarks/freshness.py: waits for the tick up to 8.4 s).
MINIMUM_INTERVAL_SECONDS = 1
# Runs that exist but have not started: events joining them are covered by their fetch.
WAITING_STATUSES = (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED)

BOOKING_ASSETS = ("calcom_bookings", "booking_outcomes")
CALL_ASSETS = ("retell_calls", "retell_call_transcripts", "booking_outcomes")
CALCOM_DIMENSION_ASSETS = (
    "calcom_event_types",
    "staff",
    "staff_event_types",
    "working_hours",
    "working_hour_overrides",
    "phone_assignments",
)
RETELL_DIMENSION_ASSETS = ("retell_agents", "retell_agent_versions", "retell_phone_numbers", "phone_assignments")


@dataclass(frozen=True)
class Target:
    """What one event makes stale: assets, and whether they are per tenant-day or per tenant."""

    name: str
    assets: tuple[str, ...]
    by_day: bool

    @property
    def job_name(self) -> str:
        return sync_facts_job.name if self.by_day else sync_dimensions_job.name


BOOKINGS = Target("bookings", BOOKING_ASSETS, by_day=True)
CALLS = Target("calls", CALL_ASSETS, by_day=True)
CALCOM_DIMENSIONS = Target("calcom_dimensions", CALCOM_DIMENSION_ASSETS, by_day=False)
RETELL_DIMENSIONS = Target("retell_dimensions", RETELL_DIMENSION_ASSETS, by_day=False)


def route(provider: str, event_type: str) -> Target | None:
    """The target an event refreshes, or None for events that need no run."""
    name = event_type.upper()
    if provider == "calcom":
        if name.startswith(("BOOKING_", "MEETING_", "RECORDING_", "AFTER_")) or name == "INSTANT_MEETING":
            return BOOKINGS
        if name.startswith(("OOO_", "EVENT_TYPE_", "SCHEDULE_", "AVAILABILITY_")):
            return CALCOM_DIMENSIONS
        return None
    if name.startswith(("CALL_", "TRANSCRIPT_", "TRANSFER_")):
        return CALLS
    if name.startswith(("AGENT_", "PHONE_NUMBER_")):
        return RETELL_DIMENSIONS
    return None


def _event_day(event: LandedEvent, config: TenantsConfig) -> dt.date:
    """The event's tenant-local day; without one (e.g. no start time), the day it was received."""
    if event.event_day is not None:
        return event.event_day
    return local_day(event.received_at, config.get(event.tenant).timezone)


def batch_run_key(provider: str, target: str, partition: str, events: list[LandedEvent], generation: int) -> str:
    """The run key of a batch: readable prefix, then a digest of its (id, attempt) pairs and the generation."""
    covered = ",".join(f"{e.id}.{e.attempts}" for e in sorted(events, key=lambda e: e.id))
    digest = hashlib.sha256(f"{generation}|{covered}".encode()).hexdigest()[:20]
    attempt = max(e.attempts for e in events)
    return f"webhook:{provider}:{target}:{partition}:a{attempt}:{digest}"


def _bookkeeping_key(kind: str, provider: str, events: list[LandedEvent], generation: int) -> str:
    """Key for events settled without a run (acknowledged, unknown tenant): deterministic as well."""
    covered = ",".join(str(e.id) for e in sorted(events, key=lambda e: e.id))
    return f"{kind}:{provider}:{hashlib.sha256(f'{generation}|{covered}'.encode()).hexdigest()[:20]}"


@dataclass
class Settled:
    """What settling earlier run requests found, by run key."""

    counts: dict[str, int]  # processed / retried / dead events
    orphaned: dict[str, list[LandedEvent]]  # batches whose run does not exist: request again
    waiting: dict[str, list[LandedEvent]]  # batches whose run exists and has not started


def settle(context: SensorEvaluationContext, store: WebhookStore, provider: str) -> Settled:
    """Close the loop on earlier run requests (see `Settled`)."""
    outcome = {"processed": 0, "retried": 0, "dead": 0}
    by_key: dict[str, list[LandedEvent]] = defaultdict(list)
    for event in store.queued(provider):
        if event.run_key:
            by_key[event.run_key].append(event)
    orphaned: dict[str, list[LandedEvent]] = {}
    waiting: dict[str, list[LandedEvent]] = {}
    for run_key in sorted(by_key):
        runs = context.instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
        if not runs:
            orphaned[run_key] = by_key[run_key]
            continue
        run = runs[0]
        if run.status in WAITING_STATUSES:
            waiting[run_key] = by_key[run_key]
        elif run.status == DagsterRunStatus.SUCCESS:
            outcome["processed"] += store.mark_processed(run_key)
        elif run.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            retried, dead = store.mark_failed(run_key, f"run {run.run_id} ended {run.status.value}", MAX_ATTEMPTS)
            outcome["retried"] += retried
            outcome["dead"] += dead
            if dead:
                context.log.warning(f"{dead} {provider} webhook event(s) of run {run.run_id} are dead letters")
    return Settled(outcome, orphaned, waiting)


TARGETS = {t.name: t for t in (BOOKINGS, CALLS, CALCOM_DIMENSIONS, RETELL_DIMENSIONS)}
ACKNOWLEDGE = "acknowledge"
UNKNOWN_TENANT = "unknown-tenant"


def locate(provider: str, event: LandedEvent, config: TenantsConfig) -> tuple[str, str | None]:
    """(target name, partition key) of an event, or (ACKNOWLEDGE | UNKNOWN_TENANT, None)."""
    target = route(provider, event.event_type)
    if target is None:
        return ACKNOWLEDGE, None
    try:
        if not target.by_day:
            return target.name, config.get(event.tenant).slug
        day = _event_day(event, config)
    except TenantsFileError:
        return UNKNOWN_TENANT, None
    if not is_offered_day(day):
        # No partition yet (an appointment after today) or any more (before the history start):
        # a run request would fail the whole tick; the schedules sync the day when it comes.
        return ACKNOWLEDGE, None
    return target.name, str(tenant_day_key(event.tenant, day))


def _run_request(provider: str, target: Target, partition: str, events: list[LandedEvent], run_key: str) -> RunRequest:
    return RunRequest(
        run_key=run_key,
        job_name=target.job_name,
        asset_selection=[AssetKey(name) for name in target.assets],
        partition_key=partition,
        tags={
            "askpro/tenant": events[0].tenant,
            "askpro/trigger": f"webhook:{provider}",
            "askpro/webhook_events": str(len(events)),
        },
    )


def evaluate(
    context: SensorEvaluationContext, provider: str, warehouse: WarehouseResource, tenants: TenantsResource
) -> SensorResult:
    """One tick of a provider's webhook sensor (see the module docstring)."""
    store = WebhookStore(warehouse.warehouse.engine)
    settlement = settle(context, store, provider)
    settled, orphaned = settlement.counts, settlement.orphaned
    config = tenants.load()
    cursor = json.loads(context.cursor) if context.cursor else {}
    last_id, generation = int(cursor.get("last_id", 0)), int(cursor.get("generation", 0))

    batches: dict[tuple[str, str], list[LandedEvent]] = defaultdict(list)
    unrun: dict[str, list[LandedEvent]] = defaultdict(list)
    pending = store.pending(provider, limit=BATCH_LIMIT)
    for event in pending:
        target_name, partition = locate(provider, event, config)
        if partition is None:
            unrun[target_name].append(event)
        else:
            batches[(target_name, partition)].append(event)

    if unrun[ACKNOWLEDGE]:
        key = _bookkeeping_key("ack", provider, unrun[ACKNOWLEDGE], generation)
        store.mark_queued([e.id for e in unrun[ACKNOWLEDGE]], key)
        store.mark_processed(key)
    if unrun[UNKNOWN_TENANT]:
        key = _bookkeeping_key(UNKNOWN_TENANT, provider, unrun[UNKNOWN_TENANT], generation)
        store.mark_queued([e.id for e in unrun[UNKNOWN_TENANT]], key)
        store.mark_failed(key, "tenant is no longer in the tenants file", max_attempts=1)

    run_requests = []
    for run_key, events in orphaned.items():
        target_name, partition = locate(provider, events[0], config)
        if partition is not None:
            run_requests.append(_run_request(provider, TARGETS[target_name], partition, events, run_key))
        elif target_name == UNKNOWN_TENANT:
            store.mark_failed(run_key, "tenant is no longer in the tenants file", max_attempts=1)
        else:
            store.mark_processed(run_key)
    waiting_runs = {locate(provider, events[0], config): key for key, events in settlement.waiting.items()}
    coalesced = 0
    for (target_name, partition), events in sorted(batches.items()):
        if (waiting_key := waiting_runs.get((target_name, partition))) is not None:
            store.mark_queued([e.id for e in events], waiting_key)
            coalesced += len(events)
            continue
        run_key = batch_run_key(provider, target_name, partition, events, generation)
        run_requests.append(_run_request(provider, TARGETS[target_name], partition, events, run_key))
        store.mark_queued([e.id for e in events], run_key)
    # Bookings (future ones too) and schedules change what is free: refresh those tenants' availability.
    changed = {e.tenant for e in pending if route(provider, e.event_type) in (BOOKINGS, CALCOM_DIMENSIONS)}
    # Keyed like the batches (newest event and cursor generation): a re-evaluated tick asks for nothing twice.
    run_requests += availability_requests(
        changed & set(config.slugs), f"{max((e.id for e in pending), default=0)}:g{generation}"
    )

    newest = max([e.id for e in pending] + [last_id])
    asset_events = []
    if newest > last_id or any(settled.values()):
        counts = {status: n for (p, status), n in store.counts().items() if p == provider}
        asset_events.append(
            AssetMaterialization(
                asset_key="webhook_events",
                metadata={
                    "provider": provider,
                    "new_events": MetadataValue.int(sum(1 for e in pending if e.id > last_id)),
                    "runs_requested": MetadataValue.int(len(run_requests)),
                    "joined_waiting_runs": MetadataValue.int(coalesced),
                    **{f"status/{status}": MetadataValue.int(n) for status, n in sorted(counts.items())},
                    **{f"settled/{name}": MetadataValue.int(n) for name, n in settled.items()},
                },
            )
        )
    requested_tenants = {e.tenant for evs in [*batches.values(), *orphaned.values()] for e in evs}
    new_tenants = sorted(requested_tenants - set(context.instance.get_dynamic_partitions(TENANTS)))
    return SensorResult(
        run_requests=run_requests,
        cursor=json.dumps({"last_id": newest, "generation": generation + 1}),
        asset_events=asset_events,
        dynamic_partitions_requests=[tenant_partitions.build_add_request(new_tenants)] if new_tenants else [],
        skip_reason=None if run_requests or asset_events else f"no new {provider} webhook events",
    )


@sensor(
    name="calcom_webhook_sensor",
    jobs=[sync_dimensions_job, sync_facts_job, refresh_availability_job],
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests runs for Cal.com webhook events landed in webhook_events (bookings → tenant-day facts).",
)
def calcom_webhook_sensor(
    context: SensorEvaluationContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> SensorResult:
    return evaluate(context, "calcom", warehouse, tenants)


@sensor(
    name="retell_webhook_sensor",
    jobs=[sync_dimensions_job, sync_facts_job],
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests runs for Retell webhook events landed in webhook_events (calls → tenant-day facts).",
)
def retell_webhook_sensor(
    context: SensorEvaluationContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> SensorResult:
    return evaluate(context, "retell", warehouse, tenants)

"""One sensor per provider turns landed webhook events into runs for exactly what changed.

Each tick:

1. **Settle** events handed to runs earlier: a successful run marks its events processed; a
   failed or cancelled run counts an attempt and sends them back to pending, or to dead letters
   after `MAX_ATTEMPTS`. A run key whose run never appeared within `LOST_RUN_AFTER` counts as failed.
2. **Batch** pending events by target and partition (many events → few runs) and request one
   run each, with a run key made of the batch's newest event id and attempt, so a re-evaluated
   tick never launches the same batch twice.
3. Report the landing table (`webhook_events`) as materialized when new events arrived, with the
   counts by status (dead letters included) as metadata; the cursor is the newest event id seen.

Routing: booking events refresh that tenant-day of `calcom_bookings` and `booking_outcomes`; call
events refresh `retell_calls`, `retell_call_transcripts` and `booking_outcomes`; Cal.com
out-of-office, event-type or schedule events (`OOO_*`, `EVENT_TYPE_*`, `SCHEDULE_*`) refresh the
tenant's Cal.com dimensions and phone assignments; Retell agent or phone-number events
(`agent_*`, `phone_number_*`) refresh the Retell dimension assets and the phone assignments.
Anything else (forms, chat) is acknowledged without a run, and so is a booking or call whose day
is not a fact partition (an appointment after today: the schedules sync that day when it comes).
"""

import datetime as dt
import json
import time
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
from askpro_pipelines.partitions import is_offered_day, local_day, tenant_day_key, tenant_partitions
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.tenants import TenantsConfig, TenantsFileError
from askpro_pipelines.webhooks.store import LandedEvent, WebhookStore

MAX_ATTEMPTS = 3
LOST_RUN_AFTER = dt.timedelta(minutes=10)
BATCH_LIMIT = 2000

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


def _run_key_time(run_key: str) -> float | None:
    try:
        return float(run_key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def settle(context: SensorEvaluationContext, store: WebhookStore, provider: str, now: float) -> dict[str, int]:
    """Close the loop on earlier run requests; returns counts of processed / retried / dead events."""
    outcome = {"processed": 0, "retried": 0, "dead": 0}
    for run_key in sorted({e.run_key for e in store.queued(provider) if e.run_key}):
        runs = context.instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
        if not runs:
            queued_at = _run_key_time(run_key)
            if queued_at is not None and now - queued_at > LOST_RUN_AFTER.total_seconds():
                retried, dead = store.mark_failed(run_key, "the requested run was never created", MAX_ATTEMPTS)
                outcome["retried"] += retried
                outcome["dead"] += dead
            continue
        run = runs[0]
        if run.status == DagsterRunStatus.SUCCESS:
            outcome["processed"] += store.mark_processed(run_key)
        elif run.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            retried, dead = store.mark_failed(run_key, f"run {run.run_id} ended {run.status.value}", MAX_ATTEMPTS)
            outcome["retried"] += retried
            outcome["dead"] += dead
            if dead:
                context.log.warning(f"{dead} {provider} webhook event(s) of run {run.run_id} are dead letters")
    return outcome


def evaluate(
    context: SensorEvaluationContext, provider: str, warehouse: WarehouseResource, tenants: TenantsResource
) -> SensorResult:
    """One tick of a provider's webhook sensor (see the module docstring)."""
    store = WebhookStore(warehouse.warehouse.engine)
    now = time.time()
    settled = settle(context, store, provider, now)
    config = tenants.load()
    cursor = json.loads(context.cursor) if context.cursor else {"last_id": 0}

    batches: dict[tuple[str, str], list[LandedEvent]] = defaultdict(list)
    acknowledged: list[LandedEvent] = []
    unknown: list[LandedEvent] = []
    pending = store.pending(provider, limit=BATCH_LIMIT)
    for event in pending:
        target = route(provider, event.event_type)
        if target is None:
            acknowledged.append(event)
            continue
        try:
            day = _event_day(event, config) if target.by_day else None
            partition = str(tenant_day_key(event.tenant, day)) if target.by_day else config.get(event.tenant).slug
        except TenantsFileError:
            unknown.append(event)
            continue
        if day is not None and not is_offered_day(day):
            # No partition yet (an appointment after today) or any more (before the history start):
            # a run request would fail the whole tick; the schedules sync the day when it comes.
            acknowledged.append(event)
            continue
        batches[(target.name, partition)].append(event)

    if acknowledged:
        key = f"ack:{provider}:{acknowledged[-1].id}:{now:.0f}"
        store.mark_queued([e.id for e in acknowledged], key)
        store.mark_processed(key)
    if unknown:
        key = f"unknown-tenant:{provider}:{unknown[-1].id}:{now:.0f}"
        store.mark_queued([e.id for e in unknown], key)
        store.mark_failed(key, "tenant is no longer in the tenants file", max_attempts=1)

    targets = {t.name: t for t in (BOOKINGS, CALLS, CALCOM_DIMENSIONS, RETELL_DIMENSIONS)}
    run_requests = []
    for (target_name, partition), events in sorted(batches.items()):
        target = targets[target_name]
        attempt = max(e.attempts for e in events)
        run_key = f"webhook:{provider}:{target_name}:{partition}:{events[-1].id}:a{attempt}:{now:.0f}"
        tenant = events[0].tenant
        run_requests.append(
            RunRequest(
                run_key=run_key,
                job_name=target.job_name,
                asset_selection=[AssetKey(name) for name in target.assets],
                partition_key=partition,
                tags={
                    "askpro/tenant": tenant,
                    "askpro/trigger": f"webhook:{provider}",
                    "askpro/webhook_events": str(len(events)),
                },
            )
        )
        store.mark_queued([e.id for e in events], run_key)
    # Bookings (future ones too) and schedules change what is free: refresh those tenants' availability.
    changed = {e.tenant for e in pending if route(provider, e.event_type) in (BOOKINGS, CALCOM_DIMENSIONS)}
    run_requests += availability_requests(
        changed & set(config.slugs), f"{max((e.id for e in pending), default=0)}:{now:.0f}"
    )

    newest = max([e.id for e in pending] + [cursor["last_id"]])
    asset_events = []
    if newest > cursor["last_id"] or any(settled.values()):
        counts = {status: n for (p, status), n in store.counts().items() if p == provider}
        asset_events.append(
            AssetMaterialization(
                asset_key="webhook_events",
                metadata={
                    "provider": provider,
                    "new_events": MetadataValue.int(sum(1 for e in pending if e.id > cursor["last_id"])),
                    "runs_requested": MetadataValue.int(len(run_requests)),
                    **{f"status/{status}": MetadataValue.int(n) for status, n in sorted(counts.items())},
                    **{f"settled/{name}": MetadataValue.int(n) for name, n in settled.items()},
                },
            )
        )
    new_tenants = sorted(
        {e.tenant for evs in batches.values() for e in evs}
        - set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    )
    return SensorResult(
        run_requests=run_requests,
        cursor=json.dumps({"last_id": newest}),
        asset_events=asset_events,
        dynamic_partitions_requests=[tenant_partitions.build_add_request(new_tenants)] if new_tenants else [],
        skip_reason=None if run_requests or asset_events else f"no new {provider} webhook events",
    )


@sensor(
    name="calcom_webhook_sensor",
    jobs=[sync_dimensions_job, sync_facts_job, refresh_availability_job],
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests runs for Cal.com webhook events landed in webhook_events (bookings → tenant-day facts).",
)
def calcom_webhook_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, tenants: TenantsResource):
    return evaluate(context, "calcom", warehouse, tenants)


@sensor(
    name="retell_webhook_sensor",
    jobs=[sync_dimensions_job, sync_facts_job],
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests runs for Retell webhook events landed in webhook_events (calls → tenant-day facts).",
)
def retell_webhook_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource, tenants: TenantsResource):
    return evaluate(context, "retell", warehouse, tenants)

"""`branch_availability`: each branch's free slots and utilisation for the next days, per tenant.

One run per tenant writes a window of days (default 14, from the tenant's today): the free
slots of each branch's event type as Cal.com offers them, and booked over available minutes per
branch (its event type's hosts) and per staff member (`staff_utilisation`). It is refreshed by
`availability_every_30_minutes` and by the webhook sensor when a booking or schedule event
lands for the tenant (sensors/webhooks.py). `askpro availability --offline` answers from it.
"""

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    asset,
    asset_check,
    define_asset_job,
    schedule,
)
from pydantic import Field

from askpro_pipelines.assets.table_metadata import request_metadata
from askpro_pipelines.availability.utilisation import booked_minutes, ratio, staff_rows
from askpro_pipelines.partitions import tenant_partitions
from askpro_pipelines.resources.calcom import CalcomResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.schedules import _scheduled_tenants, _tick_time
from askpro_pipelines.warehouse.availability import read_window, replace_window

DEFAULT_DAYS = 14


class AvailabilityConfig(Config):
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=60, description="Days ahead, from the tenant's today.")


@asset(
    partitions_def=tenant_partitions,
    group_name="askpro",
    kinds={"calcom", "sql"},
    pool="calcom_api",
    deps=["working_hours", "working_hour_overrides", "staff_event_types"],
    description="Free slots of each branch's event type for the next days (Cal.com /v2/slots), with booked "
    "over available minutes per branch and per staff member (staff_utilisation).",
)
def branch_availability(
    context: AssetExecutionContext,
    config: AvailabilityConfig,
    calcom: CalcomResource,
    warehouse: WarehouseResource,
    tenants: TenantsResource,
) -> MaterializeResult[Any]:
    tenant = tenants.get(context.partition_key)
    zone = ZoneInfo(tenant.timezone)
    now = dt.datetime.now(dt.UTC)
    first = now.astimezone(zone).date()
    days = [first + dt.timedelta(days=n) for n in range(config.days)]
    last = days[-1]
    wh = warehouse.warehouse
    hours = wh.read_slice("working_hours", tenant.slug)
    overrides = wh.read_slice("working_hour_overrides", tenant.slug)
    hosts: dict[str, set[str]] = defaultdict(set)
    for link in wh.read_slice("staff_event_types", tenant.slug, ["staff_id", "event_type_id"]):
        hosts[link["event_type_id"]].add(link["staff_id"])

    client = calcom.availability_client_for(tenant)
    window_start = dt.datetime.combine(first, dt.time(0), zone).astimezone(dt.UTC)
    window_end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), zone).astimezone(dt.UTC)
    booked = booked_minutes(client.bookings(window_start, window_end), zone)
    staff = staff_rows(days, hours, overrides, booked, now)
    by_staff_day = {(r["staff_id"], r["day"]): r for r in staff}

    branch_rows = []
    for branch in tenant.branches:
        event_type_id = str(branch.calcom_event_type_id)
        slots = client.free_slots(event_type_id, first, last, tenant.timezone)
        for day in days:
            starts = [s.astimezone(zone).isoformat() for s in slots.get(day, [])]
            figures = [by_staff_day[(s, day)] for s in sorted(hosts.get(event_type_id, ())) if (s, day) in by_staff_day]
            available = sum(f["available_minutes"] for f in figures)
            taken = sum(f["booked_minutes"] for f in figures)
            branch_rows.append(
                {
                    "day": day,
                    "branch_id": branch.id,
                    "event_type_id": event_type_id,
                    "slots": starts,
                    "free_slots": len(starts),
                    "available_minutes": available,
                    "booked_minutes": taken,
                    "utilisation": ratio(taken, available),
                    "refreshed_at": now,
                }
            )
    written = replace_window(wh, "branch_availability", tenant.slug, first, last, branch_rows)
    replace_window(wh, "staff_utilisation", tenant.slug, first, last, staff)
    context.log.info(f"tenant {tenant.slug}: {written} branch-day rows for {first} … {last}")
    all_available = sum(r["available_minutes"] for r in branch_rows)
    metadata: dict[str, Any] = {
        "dagster/row_count": MetadataValue.int(written),
        "days": f"{first} … {last}",
        "free_slots": MetadataValue.int(sum(r["free_slots"] for r in branch_rows)),
        "staff_rows": MetadataValue.int(len(staff)),
        "warehouse": warehouse.display_url,
    }
    utilisation = ratio(sum(r["booked_minutes"] for r in branch_rows), all_available)
    if utilisation is not None:
        metadata["utilisation"] = MetadataValue.float(utilisation)
    metadata.update(request_metadata(client.stats.as_metadata("calcom")))
    return MaterializeResult(metadata=metadata)


@asset_check(
    asset=branch_availability,
    name="branch_availability_is_consistent",
    partitions_def=tenant_partitions,
    description="One row per branch and day of the window, and every slot on its row's local day.",
)
def branch_availability_is_consistent(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key)
    zone = ZoneInfo(tenant.timezone)
    first = dt.datetime.now(dt.UTC).astimezone(zone).date()
    rows = read_window(warehouse.warehouse, "branch_availability", tenant.slug, first)
    problems = []
    seen: dict[tuple[str, dt.date], int] = defaultdict(int)
    for row in rows:
        seen[(row["branch_id"], row["day"])] += 1
        for start in row["slots"] or []:
            if dt.datetime.fromisoformat(start).astimezone(zone).date() != row["day"]:
                problems.append(
                    f"tenant {tenant.slug} branch {row['branch_id']} day {row['day']}: slot {start} is on another day"
                )
    problems += [f"tenant {tenant.slug} branch {b} day {d}: {n} rows" for (b, d), n in sorted(seen.items()) if n > 1]
    covered = {b for b, _ in seen}
    problems += [
        f"tenant {tenant.slug} branch {b.id}: no rows from {first} on" for b in tenant.branches if b.id not in covered
    ]
    return AssetCheckResult(
        passed=not problems,
        metadata={
            "rows": len(rows),
            "problems": MetadataValue.md("\n".join(f"- {p}" for p in problems[:20]) or "none"),
        },
    )


refresh_availability_job = define_asset_job(
    "refresh_availability",
    selection=[branch_availability],
    description="One tenant's branch_availability (free slots and utilisation of the next days).",
)


@schedule(
    name="availability_every_30_minutes",
    cron_schedule="*/30 * * * *",
    job=refresh_availability_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every tenant's branch availability and utilisation for the next days.",
)
def availability_every_30_minutes(
    context: ScheduleEvaluationContext, tenants: TenantsResource
) -> list[RunRequest] | SkipReason:
    stamp = _tick_time(context).strftime("%Y%m%dT%H%M")
    requests = [
        RunRequest(run_key=f"availability:{t.slug}:{stamp}", partition_key=t.slug, tags={"askpro/tenant": t.slug})
        for t in _scheduled_tenants(context, tenants)
    ]
    return requests or SkipReason("no tenant partitions yet")


def availability_requests(tenant_slugs: set[str], tick: str) -> list[RunRequest]:
    """Runs the webhook sensor adds for tenants whose bookings or schedules changed."""
    return [
        RunRequest(
            run_key=f"availability:webhook:{slug}:{tick}",
            job_name=refresh_availability_job.name,
            partition_key=slug,
            tags={"askpro/tenant": slug, "askpro/trigger": "webhook:calcom"},
        )
        for slug in sorted(tenant_slugs)
    ]

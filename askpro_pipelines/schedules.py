"""Schedules: what runs when, per tenant and in the tenant's own time zone.

- `dimensions_hourly` (:05 every hour): every tenant's dimensions (event types, staff, working
  hours, Retell agents, numbers, phone assignments).
- `facts_every_15_minutes`: today's and yesterday's bookings, calls and outcomes of every tenant,
  by the tenant's local calendar (late calls and edits around midnight land on the right day), as
  one run per tenant over both days.
- `facts_nightly_reconciliation` (checked at :15 every hour): at 03:15 local time of each tenant, the last
  `RECONCILE_DAYS` days again in one single-run range, to catch webhooks that never arrived.

Only tenants whose partition exists are scheduled (the tenants sensor adds new ones within a minute).
"""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from askpro_pipelines.jobs import sync_dimensions_job, sync_facts_job
from askpro_pipelines.partitions import TENANTS, is_offered_day, newest_day, tenant_day_key
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.tenants import Tenant

RECONCILE_DAYS = 7
RECONCILE_LOCAL_HOUR = 3


def _scheduled_tenants(context: ScheduleEvaluationContext, tenants: TenantsResource) -> list[Tenant]:
    known = set(context.instance.get_dynamic_partitions(TENANTS))
    return [t for t in tenants.load().tenants if t.slug in known]


def _local_today(tenant: Tenant, moment: dt.datetime) -> dt.date:
    """The tenant's local date at `moment`, capped at the newest day partition."""
    return min(moment.astimezone(ZoneInfo(tenant.timezone)).date(), newest_day(moment))


def _tick_time(context: ScheduleEvaluationContext) -> dt.datetime:
    return context.scheduled_execution_time.astimezone(dt.UTC)


@schedule(
    name="dimensions_hourly",
    cron_schedule="5 * * * *",
    job=sync_dimensions_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every tenant's Cal.com and Retell dimensions, hourly.",
)
def dimensions_hourly(context: ScheduleEvaluationContext, tenants: TenantsResource) -> list[RunRequest] | SkipReason:
    stamp = _tick_time(context).strftime("%Y%m%dT%H%M")
    requests = [
        RunRequest(run_key=f"dimensions:{t.slug}:{stamp}", partition_key=t.slug, tags={"askpro/tenant": t.slug})
        for t in _scheduled_tenants(context, tenants)
    ]
    return requests or SkipReason("no tenant partitions yet")


@schedule(
    name="facts_every_15_minutes",
    cron_schedule="*/15 * * * *",
    job=sync_facts_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Today's and yesterday's bookings, calls and outcomes of every tenant (tenant-local days).",
)
def facts_every_15_minutes(
    context: ScheduleEvaluationContext, tenants: TenantsResource
) -> list[RunRequest] | SkipReason:
    moment = _tick_time(context)
    stamp = moment.strftime("%Y%m%dT%H%M")
    requests = []
    for tenant in _scheduled_tenants(context, tenants):
        today = _local_today(tenant, moment)
        yesterday = today - dt.timedelta(days=1)
        first = yesterday if is_offered_day(yesterday, moment) else today  # today only, when the history starts today
        requests.append(_facts_range_request(tenant.slug, first, today, run_key=f"facts:{tenant.slug}:{stamp}"))
    return requests or SkipReason("no tenant partitions yet")


def _facts_range_request(slug: str, first: dt.date, last: dt.date, run_key: str) -> RunRequest:
    """One run for a tenant's days `first`..`last`: each run costs a process start and a code load
    (~2 s of CPU), so a tick pays it once per tenant, not once per tenant-day (issue 15, fleet)."""
    return RunRequest(
        run_key=run_key,
        tags={
            "askpro/tenant": slug,
            "dagster/asset_partition_range_start": str(tenant_day_key(slug, first)),
            "dagster/asset_partition_range_end": str(tenant_day_key(slug, last)),
        },
    )


@schedule(
    name="facts_nightly_reconciliation",
    cron_schedule="15 * * * *",
    job=sync_facts_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description=f"At {RECONCILE_LOCAL_HOUR:02d}:15 tenant-local time, re-sync the last {RECONCILE_DAYS} days of facts.",
)
def facts_nightly_reconciliation(
    context: ScheduleEvaluationContext, tenants: TenantsResource
) -> list[RunRequest] | SkipReason:
    moment = _tick_time(context)
    requests = []
    for tenant in _scheduled_tenants(context, tenants):
        if moment.astimezone(ZoneInfo(tenant.timezone)).hour != RECONCILE_LOCAL_HOUR:
            continue
        last = _local_today(tenant, moment) - dt.timedelta(days=1)
        first = last - dt.timedelta(days=RECONCILE_DAYS - 1)
        while first <= last and not is_offered_day(first, moment):  # a history that starts later
            first += dt.timedelta(days=1)
        if first > last:
            continue
        requests.append(_facts_range_request(tenant.slug, first, last, run_key=f"reconcile:{tenant.slug}:{last}"))
    return requests or SkipReason(f"no tenant is at {RECONCILE_LOCAL_HOUR:02d}:xx local time")


schedules = [dimensions_hourly, facts_every_15_minutes, facts_nightly_reconciliation]

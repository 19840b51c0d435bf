"""`tenant_report`: each tenant's weekly report, one self-contained HTML file per tenant and week.

Partitioned tenant × week (`praxis-am-stadtpark|2026-11-23`, the week named by its Monday). It
reads what the sync and the analytics assets wrote (the report package does the work) and links
the file from its metadata. Its own job, `tenant_reports`, never part of the sync jobs; the
`tenant_reports_weekly` schedule runs each tenant's last week on Monday morning, tenant-local.
"""

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    Config,
    DefaultScheduleStatus,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    MaterializeResult,
    MetadataValue,
    MultiPartitionMapping,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    TimeWindowPartitionMapping,
    asset,
    define_asset_job,
    schedule,
)
from pydantic import Field

from askpro_pipelines.deployment import mode_tags
from askpro_pipelines.report.output import report_dir as default_report_dir
from askpro_pipelines.report.output import write_report
from askpro_pipelines.report.week import (
    is_offered_week,
    last_complete_week,
    split_tenant_week,
    tenant_week_key,
    tenant_week_partitions,
)
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.schedules import _scheduled_tenants, _tick_time

REPORT_LOCAL_WEEKDAY = 0  # Monday
REPORT_LOCAL_HOUR = 6

# A week of a tenant reads the seven days of that tenant's day partitions.
WEEK_OF_DAYS = MultiPartitionMapping(
    {
        "tenant": DimensionPartitionMapping("tenant", IdentityPartitionMapping()),
        "day": DimensionPartitionMapping("week", TimeWindowPartitionMapping()),
    }
)


class ReportConfig(Config):
    folder: str = Field(
        default="",
        description="Where <tenant>/<week>.html goes. Empty: ASKPRO_REPORT_DIR, else $ASKPRO_DATA_DIR/reports.",
    )


@asset(
    partitions_def=tenant_week_partitions,
    group_name="askpro",
    kinds={"html"},
    deps=[
        AssetDep("booking_outcomes", partition_mapping=WEEK_OF_DAYS),
        AssetDep(AssetKey("booking_success"), partition_mapping=WEEK_OF_DAYS),
        AssetDep(AssetKey("call_analysis"), partition_mapping=WEEK_OF_DAYS),
        AssetKey("api_health"),
        "phone_assignments",
    ],
    description="A tenant's weekly report as one self-contained HTML file (inline SVG charts): calls and "
    "bookings per day, booking success per branch and agent version, top failure reasons, API health, "
    "quarantined records and the phone chain. The file is linked from the materialization's metadata.",
)
def tenant_report(
    context: AssetExecutionContext, config: ReportConfig, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    slug, week = split_tenant_week(context.partition_key)
    tenant = tenants.get(slug)
    folder = Path(config.folder).resolve() if config.folder else default_report_dir()
    written = write_report(warehouse.warehouse, tenant, week, folder)
    data = written.data
    context.log.info(f"tenant {slug} week {week}: report written to {written.path}")
    metadata: dict[str, Any] = {
        "report": MetadataValue.path(str(written.path)),
        "report_url": MetadataValue.url(written.path.as_uri()),
        "week": f"{week} ({week.monday} … {week.sunday}, {tenant.timezone})",
        "calls": MetadataValue.int(data.calls),
        "bookings": MetadataValue.int(data.bookings),
        "quarantined": MetadataValue.int(data.quarantined_total),
    }
    if data.total is not None and data.total.rate is not None:  # no rate when nobody tried to book
        metadata["success_rate"] = MetadataValue.float(round(data.total.rate, 4))
    return MaterializeResult(metadata=metadata)


tenant_reports_job = define_asset_job(
    "tenant_reports",
    selection=[tenant_report],
    description="One tenant's weekly report (tenant × week partition).",
    tags=mode_tags(),
)


@schedule(
    name="tenant_reports_weekly",
    cron_schedule="20 * * * *",
    job=tenant_reports_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description=f"Mondays at {REPORT_LOCAL_HOUR:02d}:20 tenant-local time (ticks hourly): each tenant's report "
    "of the week that just ended.",
)
def tenant_reports_weekly(
    context: ScheduleEvaluationContext, tenants: TenantsResource
) -> list[RunRequest] | SkipReason:
    moment = _tick_time(context)
    requests = []
    for tenant in _scheduled_tenants(context, tenants):
        local = moment.astimezone(ZoneInfo(tenant.timezone))
        if (local.weekday(), local.hour) != (REPORT_LOCAL_WEEKDAY, REPORT_LOCAL_HOUR):
            continue
        week = last_complete_week(tenant.timezone, moment)
        if not is_offered_week(week, moment):  # before the first week partition
            continue
        key = tenant_week_key(tenant.slug, week)
        requests.append(
            RunRequest(
                run_key=f"report:{tenant.slug}:{week}", partition_key=str(key), tags={"askpro/tenant": tenant.slug}
            )
        )
    return requests or SkipReason(f"no tenant is at Monday {REPORT_LOCAL_HOUR:02d}:xx local time")

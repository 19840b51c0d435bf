"""Cal.com dimension tables, one partition per tenant.

Each asset asks the Cal.com resource for typed records, hands them to the warehouse, and
returns what happened. The link table is derived from the warehouse copy of the event types,
so its lineage is real data flow, not decoration.
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    asset,
    multi_asset,
)

from askpro_pipelines.assets.facts import ClientPerTenant, fact_metadata, tenant_days
from askpro_pipelines.assets.landing import webhook_events
from askpro_pipelines.assets.table_metadata import dashboard_metadata, table_metadata
from askpro_pipelines.partitions import (
    day_window,
    tenant_day_partitions,
    tenant_partitions,
)
from askpro_pipelines.resources.calcom import CalcomResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.day_stream import DayStream
from askpro_pipelines.warehouse.quarantine import settle_log
from askpro_pipelines.warehouse.rows import (
    booking_rows,
    event_type_rows,
    staff_event_type_rows,
    staff_rows,
    working_hour_rows,
)
from askpro_pipelines.warehouse.shapes import replace_shapes

GROUP = "calcom"
KINDS = {"calcom", "sql"}
POOL = "calcom_api"


@asset(
    partitions_def=tenant_partitions,
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    description="Cal.com event types (personal and team) of each tenant, one row per event type.",
)
def calcom_event_types(
    context: AssetExecutionContext, calcom: CalcomResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    tenant = tenants.get(context.partition_key)
    client = calcom.client_for(tenant)
    client.verify_account()
    links = tenant.dashboard_links()
    rows = list(event_type_rows(client.event_types(), client.api_version, links))  # parsed first: rejects known
    held = {"event_type_id": client.rejected.ids("event_types")}
    stats = warehouse.warehouse.replace_slice("calcom_event_types", tenant.slug, rows, keep=held)
    quarantined = settle_log(warehouse.warehouse, tenant.slug, "calcom", client.rejected, ["event_types"])
    replace_shapes(warehouse.warehouse, tenant.slug, "calcom_event_types", client.shapes.rows())
    pages = dashboard_metadata(links.calcom.event_types(), rows, lambda r: f"{r['title']} ({r['event_type_id']})")
    return MaterializeResult(
        metadata=table_metadata(
            stats,
            warehouse.display_url,
            extra={"api_version": client.api_version, **client.stats.as_metadata("calcom"), **quarantined, **pages},
        )
    )


@asset(
    partitions_def=tenant_partitions,
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    deps=[calcom_event_types],
    description="Staff: the account's users, plus hosts known only from event types.",
)
def staff(
    context: AssetExecutionContext, calcom: CalcomResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    tenant = tenants.get(context.partition_key)
    client = calcom.client_for(tenant)
    hosts = warehouse.warehouse.read_slice("calcom_event_types", tenant.slug, ["event_type_id", "hosts"])
    links = tenant.dashboard_links()
    listed = list(staff_rows(client.staff(), hosts, links))
    stats = warehouse.warehouse.replace_slice(
        "staff", tenant.slug, listed, keep={"staff_id": client.rejected.ids("staff")}
    )
    quarantined = settle_log(warehouse.warehouse, tenant.slug, "calcom", client.rejected, ["staff"])
    replace_shapes(warehouse.warehouse, tenant.slug, "staff", client.shapes.rows())
    return MaterializeResult(
        metadata=table_metadata(
            stats,
            warehouse.display_url,
            lineage={"staff_id": [("calcom_event_types", "hosts")]},
            extra={
                **client.stats.as_metadata("calcom"),
                **quarantined,
                **dashboard_metadata(links.calcom.members(), listed, lambda r: str(r["staff_id"])),
            },
        )
    )


@asset(
    partitions_def=tenant_partitions,
    group_name=GROUP,
    kinds={"sql"},
    deps=[calcom_event_types, staff],
    description="Which staff member works which event type (owner, host or user), derived from event types.",
)
def staff_event_types(
    context: AssetExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    tenant = tenants.get(context.partition_key)
    event_types = warehouse.warehouse.read_slice("calcom_event_types", tenant.slug, ["event_type_id", "hosts"])
    stats = warehouse.warehouse.replace_slice("staff_event_types", tenant.slug, staff_event_type_rows(event_types))
    return MaterializeResult(
        metadata=table_metadata(
            stats,
            warehouse.display_url,
            lineage={
                "staff_id": [("calcom_event_types", "hosts"), ("staff", "staff_id")],
                "event_type_id": [("calcom_event_types", "event_type_id")],
                "role": [("calcom_event_types", "hosts")],
                "mandatory": [("calcom_event_types", "hosts")],
                "priority": [("calcom_event_types", "hosts")],
            },
        )
    )


@multi_asset(
    specs=[
        AssetSpec(
            "working_hours",
            deps=[staff],
            description="Weekly working hours: one row per staff × schedule × ISO weekday interval, local time.",
            kinds=KINDS,
        ),
        AssetSpec(
            "working_hour_overrides",
            deps=[staff],
            description="Date overrides of working hours (holidays, short days); 00:00-00:00 is a day off.",
            kinds=KINDS,
        ),
    ],
    partitions_def=tenant_partitions,
    group_name=GROUP,
    pool=POOL,
    can_subset=True,
)
def calcom_schedules(
    context: AssetExecutionContext, calcom: CalcomResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> Iterator[MaterializeResult[Any]]:
    """Both tables come from one schedules listing, so one fetch feeds both."""
    tenant = tenants.get(context.partition_key)
    client = calcom.client_for(tenant)
    defaults = {
        row["staff_id"]: row["default_schedule_id"]
        for row in warehouse.warehouse.read_slice("staff", tenant.slug, ["staff_id", "default_schedule_id"])
        if row["default_schedule_id"]
    }
    links = tenant.dashboard_links()
    hours, overrides = working_hour_rows(client.schedules(default_schedule_ids=defaults), links)
    names = {row["schedule_id"]: row["schedule_name"] for row in hours}
    replace_shapes(warehouse.warehouse, tenant.slug, "working_hours", client.shapes.rows())
    held = {"schedule_id": client.rejected.ids("schedules")}
    quarantined = settle_log(warehouse.warehouse, tenant.slug, "calcom", client.rejected, ["schedules"])
    request_metadata = {**client.stats.as_metadata("calcom"), **quarantined}
    lineage = {"staff_id": [("staff", "staff_id")]}
    for table, rows in (("working_hours", hours), ("working_hour_overrides", overrides)):
        if table not in {key.to_user_string() for key in context.selected_asset_keys}:
            continue
        stats = warehouse.warehouse.replace_slice(table, tenant.slug, rows, keep=held)
        pages = dashboard_metadata(
            links.calcom.availability(),
            rows,
            lambda r: f"{names.get(r['schedule_id']) or 'schedule'} ({r['schedule_id']})",
        )
        yield MaterializeResult(
            asset_key=table,
            metadata=table_metadata(stats, warehouse.display_url, lineage=lineage, extra={**request_metadata, **pages}),
        )


@asset(
    partitions_def=tenant_day_partitions,
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    deps=[webhook_events, calcom_event_types],
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "Cal.com bookings by appointment day (tenant-local), every status. A day range runs in one run, "
        "one day at a time, each day replaced atomically, written a chunk at a time as its pages arrive."
    ),
)
def calcom_bookings(
    context: AssetExecutionContext, calcom: CalcomResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    clients = ClientPerTenant(calcom.client_for)
    written = []
    for tenant, day in tenant_days(context, tenants.get):
        client = clients(tenant)
        start, end = day_window(day, tenant.timezone)
        with DayStream(warehouse.warehouse, tenant.slug, day, ["calcom_bookings"]) as stream:
            stream.add_all("calcom_bookings", booking_rows(client.bookings(start, end, scope=str(day))))
            # the rejects are known once every page is read; their stored rows stay
            stream.hold("calcom_bookings", {"uid": client.rejected.ids("calcom_bookings", str(day))})
        written.append(stream.stats["calcom_bookings"])
        # after the day's commit: on SQLite a second writer would wait for the stream's lock
        settle_log(warehouse.warehouse, tenant.slug, "calcom", client.rejected, ["calcom_bookings"], scope=str(day))
    for slug, client in clients.items():
        replace_shapes(warehouse.warehouse, slug, "calcom_bookings", client.shapes.rows())
    requests = {k: v for c in clients.values() for k, v in c.stats.as_metadata("calcom").items()}
    return MaterializeResult(metadata=fact_metadata("calcom_bookings", written, warehouse.display_url, requests))


calcom_assets = [calcom_event_types, staff, staff_event_types, calcom_schedules, calcom_bookings]

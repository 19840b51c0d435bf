"""The linked `askpro` tables: where Retell and Cal.com meet."""

from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    AutomationCondition,
    BackfillPolicy,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from askpro_pipelines.assets.calcom import calcom_event_types, staff_event_types
from askpro_pipelines.assets.facts import fact_metadata, tenant_days
from askpro_pipelines.assets.table_metadata import markdown_link, markdown_table, table_metadata
from askpro_pipelines.models.links import DashboardLinks
from askpro_pipelines.outcomes import LINK_WINDOW, outcome_rows
from askpro_pipelines.partitions import (
    day_window,
    tenant_day_key,
    tenant_day_partitions,
    tenant_partitions,
)
from askpro_pipelines.phone_chain import assignment_rows
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource

GROUP = "askpro"
CHAIN_HEADERS = ["phone number", "→ agent + version", "→ branch", "→ event type", "staff"]


def chain_table(rows: list[dict[str, Any]], links: DashboardLinks) -> MetadataValue:
    """The phone → agent + version → branch → event type chain, one line per number and branch;
    the version reads "prod → v3 published" when the number is bound to a tag. The number, the
    agent and the event type link to their dashboard pages (the event type only when it exists)."""

    def named(name: str | None, ident: Any) -> Any:
        return f"{name} ({ident})" if name and ident else (name or ident)

    def linked(text: Any, url: str | None) -> Any:
        return markdown_link(str(text), url) if text and url else text

    def agent(row: dict[str, Any]) -> Any:
        agent_id = row["agent_id"]
        url = links.retell.agent(agent_id) if agent_id else None
        return linked(named(row["agent_name"], agent_id), url)

    def event_type(row: dict[str, Any]) -> Any:
        event_type_id = row["event_type_id"]
        in_calcom = event_type_id and row["event_type_title"] is not None
        url = links.calcom.event_type(event_type_id) if in_calcom else None
        return linked(named(row["event_type_title"], event_type_id), url)

    def version(row: dict[str, Any]) -> str | None:
        if row["agent_version_resolved"] is None:
            return row["agent_version"] and f"{row['agent_version']} → unresolved"
        state = "published" if row["agent_version_published"] else "draft"
        reached = f"v{row['agent_version_resolved']} {state}"
        bound = row["agent_version"]
        return reached if bound in (None, str(row["agent_version_resolved"])) else f"{bound} → {reached}"

    return markdown_table(
        CHAIN_HEADERS,
        [
            (
                linked(r["phone_number"], links.retell.phone_numbers()),
                ", ".join(filter(None, [agent(r), version(r)])),
                named(r["branch_name"], r["branch_id"]),
                event_type(r),
                r["hosting_staff_count"],
            )
            for r in rows
        ],
    )


def outcome_figures(rows: list[dict[str, Any]]) -> dict[str, MetadataValue]:
    """One day's outcomes over its branches, as numbers the UI plots per partition."""
    calls = sum(r["inbound_calls"] for r in rows)
    linked = sum(r["calls_with_booking"] for r in rows)
    figures: dict[str, MetadataValue] = {
        "calls": MetadataValue.int(calls),
        "bookings": MetadataValue.int(sum(r["bookings_created"] for r in rows)),
        "linked": MetadataValue.int(linked),
    }
    if calls:  # no rate without calls, rather than a misleading 0
        figures["rate"] = MetadataValue.float(round(linked / calls, 4))
    return figures


@asset(
    partitions_def=tenant_partitions,
    group_name=GROUP,
    kinds={"sql"},
    deps=["retell_phone_numbers", "retell_agent_versions", "retell_agents", calcom_event_types, staff_event_types],
    automation_condition=AutomationCondition.eager(),
    description=(
        "The resolved chain per phone number: Retell agent + version, branch (tenants file), "
        "the branch's Cal.com event type, its title and how many staff host it."
    ),
)
def phone_assignments(
    context: AssetExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    tenant = tenants.get(context.partition_key)
    rows = assignment_rows(tenant, warehouse.warehouse)
    stats = warehouse.warehouse.replace_slice("phone_assignments", tenant.slug, rows)
    return MaterializeResult(
        # the same assignments give the same version: what follows them can tell an hourly rewrite
        # from a change (`follows_every_updated_day`)
        data_version=DataVersion(stats.content_version),
        metadata=table_metadata(
            stats,
            warehouse.display_url,
            lineage={
                "phone_number": [("retell_phone_numbers", "phone_number")],
                "agent_id": [("retell_phone_numbers", "inbound_agent_id")],
                "agent_version": [("retell_phone_numbers", "inbound_agent_version")],
                "agent_version_resolved": [("retell_agent_versions", "version"), ("retell_agents", "tags")],
                "agent_version_published": [("retell_agent_versions", "is_published")],
                "agent_name": [("retell_agent_versions", "agent_name")],
                "event_type_title": [("calcom_event_types", "title")],
                "hosting_staff_count": [("staff_event_types", "staff_id")],
            },
            extra={"phone_chain": chain_table(rows, tenant.dashboard_links())},
        ),
    )


def follows_every_updated_day(changed_only: Sequence[str] = ()) -> AutomationCondition[Any]:
    """eager() without its latest-time-window clause: a backfill of bookings or calls over past
    days refreshes the outcomes of each of those days, not only of the newest day.

    A day is requested once a dependency of it updated since the day was last requested or
    materialized (a run that also wrote the outcomes does not count), never while it or a
    dependency is being materialized. Missing dependencies do not block: a day whose calls were
    never synced counts zero calls until they are, and that sync requests the day again.

    `changed_only` names per-tenant dependencies that count only when their data version changed:
    each is a dependency of every day of the tenant and is rewritten every hour, so counting each
    rewrite would redo the tenant's whole history hourly.
    """
    updated: AutomationCondition[Any] = AutomationCondition.any_deps_updated()
    if changed_only:
        hourly = AssetSelection.assets(*changed_only)
        changed = AutomationCondition.any_deps_match(AutomationCondition.data_version_changed()).allow(hourly)
        others = AutomationCondition.any_deps_updated().ignore(hourly)
        updated = (others | changed).with_label("any_deps_updated_or_changed")
    return (
        updated.since_last_handled() & ~AutomationCondition.any_deps_in_progress() & ~AutomationCondition.in_progress()
    ).with_label("eager_every_day")


BOOKING_COLUMNS = ["uid", "event_type_id", "status", "attendee_phone", "created_at"]
CALL_COLUMNS = ["call_id", "direction", "from_number", "to_number", "start_utc", "end_utc", "booking_uid"]


@asset(
    partitions_def=tenant_day_partitions,
    group_name=GROUP,
    kinds={"sql"},
    deps=["calcom_bookings", "retell_calls"],
    automation_condition=follows_every_updated_day(),
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "Per tenant, branch and day: inbound calls, calls that led to a booking, bookings created, "
        "cancellations and the booking success rate. Linking rules: askpro_pipelines/outcomes.py and the README."
    ),
)
def booking_outcomes(
    context: AssetExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    wh = warehouse.warehouse
    written = []
    for tenant, day in tenant_days(context, tenants.get):
        start, end = day_window(day, tenant.timezone)
        calls = wh.read_slice("retell_calls", tenant.slug, CALL_COLUMNS, day=day)
        created = wh.read_range("calcom_bookings", tenant.slug, "created_at", start, end, BOOKING_COLUMNS)
        appointments = wh.read_slice("calcom_bookings", tenant.slug, BOOKING_COLUMNS, day=day)
        linkable = wh.read_range(
            "calcom_bookings", tenant.slug, "created_at", start, end + LINK_WINDOW, BOOKING_COLUMNS
        )
        linkable += wh.read_in(
            "calcom_bookings",
            tenant.slug,
            "uid",
            [c["booking_uid"] for c in calls if c["booking_uid"]],
            BOOKING_COLUMNS,
        )
        rows = outcome_rows(tenant, calls, created, appointments, linkable)
        written.append(wh.replace_slice("booking_outcomes", tenant.slug, rows, day=day))
        # Per partition: a range run's days each get their own figures, not the range's totals.
        context.add_asset_metadata(outcome_figures(rows), partition_key=tenant_day_key(tenant.slug, day))
    return MaterializeResult(metadata=fact_metadata("booking_outcomes", written, warehouse.display_url))


askpro_assets = [phone_assignments, booking_outcomes]

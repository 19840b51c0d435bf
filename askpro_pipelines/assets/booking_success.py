"""`booking_success`: per tenant and day, how the calls that tried to book turned into bookings,
by branch and by the agent version the calls ran with; and the check that warns when a branch's
rate falls well below its trailing level. The figures: askpro_pipelines/analytics/booking_success.py."""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from askpro_pipelines.analytics.booking_success import (
    BOOKING_COLUMNS,
    CALL_COLUMNS,
    MIN_TRIED_DAY,
    MIN_TRIED_TRAILING,
    RATE_DROP,
    TRAILING_DAYS,
    rate_drops,
    success_rows_by_day,
)
from askpro_pipelines.assets.askpro import GROUP, follows_every_updated_day
from askpro_pipelines.assets.facts import fact_metadata, tenant_days
from askpro_pipelines.checks import check_result
from askpro_pipelines.partitions import fact_partitions, tenant_day_key, tenant_day_partitions
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.tenants import Tenant

FIGURES = {
    "calls": "calls",
    "tried": "calls_tried_to_book",
    "booked": "bookings_from_calls",
    "cancelled": "bookings_from_calls_cancelled",
    "rescheduled": "bookings_from_calls_rescheduled",
}
RATES = ("success_rate", "median_call_seconds", "transfer_share", "hangup_share")


def success_figures(rows: list[dict[str, Any]]) -> dict[str, MetadataValue]:
    """One day's figures as numbers the UI plots per partition: the tenant's counts and rates, and
    each branch's success rate (`branch/<id>/success_rate`). A rate without calls is left out."""
    tenant = next(r for r in rows if r["grouping"] == "tenant")
    figures: dict[str, MetadataValue] = {name: MetadataValue.int(tenant[column]) for name, column in FIGURES.items()}
    figures.update({name: MetadataValue.float(tenant[name]) for name in RATES if tenant[name] is not None})
    for row in rows:
        if row["grouping"] == "branch" and row["success_rate"] is not None:
            figures[f"branch/{row['group_key']}/success_rate"] = MetadataValue.float(row["success_rate"])
    return figures


@asset(
    partitions_def=tenant_day_partitions,
    group_name=GROUP,
    kinds={"sql", "pandas"},
    # call_analysis is the calls' analysis (intent, tools, matched booking); calcom_bookings gives
    # those bookings' state as synced now.
    deps=[AssetKey("call_analysis"), "calcom_bookings"],
    automation_condition=follows_every_updated_day(),
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "Per tenant and day, by branch and by agent version: inbound calls, calls that tried to book, bookings "
        "created from calls and how many were cancelled or rescheduled since, success rate, median call length, "
        "transfer and hang-up shares. Definitions: the README, 'Booking success'."
    ),
)
def booking_success(
    context: AssetExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    wh = warehouse.warehouse
    written = []
    # One read and one grouping per tenant for all days of the run (a single-run range holds many).
    for tenant, days in _days_by_tenant(tenant_days(context, tenants.get)):
        calls = wh.read_in("call_analysis", tenant.slug, "day", days, ["day", *CALL_COLUMNS])
        uids = [c["calcom_booking_uid"] for c in calls if c["calcom_booking_uid"]]
        bookings = wh.read_in("calcom_bookings", tenant.slug, "uid", uids, BOOKING_COLUMNS)
        bookings += wh.read_in("calcom_bookings", tenant.slug, "rescheduled_from_uid", uids, BOOKING_COLUMNS)
        rows_by_day = success_rows_by_day(calls, bookings, [b.id for b in tenant.branches], days)
        for day in days:
            written.append(wh.replace_slice("booking_success", tenant.slug, rows_by_day[day], day=day))
            # Per partition: a range run's days each get their own figures, not the range's totals.
            context.add_asset_metadata(
                success_figures(rows_by_day[day]), partition_key=tenant_day_key(tenant.slug, day)
            )
    return MaterializeResult(metadata=fact_metadata("booking_success", written, warehouse.display_url))


def _days_by_tenant(pairs: Iterable[tuple[Tenant, dt.date]]) -> list[tuple[Tenant, list[dt.date]]]:
    """(tenant, its days) from (tenant, day) pairs, tenants in their first order."""
    grouped: dict[str, tuple[Tenant, list[dt.date]]] = {}
    for tenant, day in pairs:
        grouped.setdefault(tenant.slug, (tenant, []))[1].append(day)
    return list(grouped.values())


def _drop_text(problem: dict[str, Any]) -> str:
    return (
        f"branch {problem['branch']} on {problem['day']}: {problem['rate']:.0%} of {problem['tried']} tried "
        f"vs {problem['trailing_rate']:.0%} of {problem['trailing_tried']} over the {TRAILING_DAYS} days before"
    )


@asset_check(
    asset="booking_success",
    name="booking_success_rate_steady",
    partitions_def=tenant_day_partitions,
    description=(
        f"Warns when a branch's success rate for the day is {RATE_DROP * 100:.0f} percentage points or more below "
        f"its pooled rate of the {TRAILING_DAYS} days before, with at least {MIN_TRIED_DAY} calls that tried to "
        f"book that day and {MIN_TRIED_TRAILING} in those days."
    ),
)
def booking_success_rate_steady(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    pairs = fact_partitions(context.partition_keys)  # one key, or every day of a single-run range
    problems, checked = [], 0
    by_tenant: dict[str, list[dt.date]] = {}
    for slug, day in pairs:
        by_tenant.setdefault(slug, []).append(day)
    for slug, run_days in by_tenant.items():
        tenant = tenants.get(slug).slug
        # One read per tenant: the run's days and the trailing days before the first of them.
        first, after = min(run_days) - dt.timedelta(days=TRAILING_DAYS), max(run_days) + dt.timedelta(days=1)
        rows = warehouse.warehouse.read_range("booking_success", tenant, "day", first, after)
        branch_rows = [r for r in rows if r["grouping"] == "branch"]
        for day in run_days:
            checked += sum(1 for r in branch_rows if r["day"] == day)
            problems += [{"tenant": tenant, **p} for p in rate_drops(branch_rows, day)]
    days = sorted({str(day) for _, day in pairs})
    label = f"{pairs[0][0]} {days[0]}" + (f"…{days[-1]}" if len(days) > 1 else "")
    return check_result(
        label,
        "branch success rate drop(s)",
        problems,
        checked,
        severity=AssetCheckSeverity.WARN,
        describe_problem=_drop_text,
        separator="; ",
    )

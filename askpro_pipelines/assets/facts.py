"""What fact assets share: walking a run's (tenant, day) partitions and summing what was written."""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from dagster import AssetExecutionContext, MetadataValue

from askpro_pipelines.assets.table_metadata import column_schema, request_metadata
from askpro_pipelines.partitions import fact_partitions, has_begun
from askpro_pipelines.tenants import Tenant
from askpro_pipelines.warehouse import WriteStats


def tenant_days(
    context: AssetExecutionContext, get_tenant: Callable[[str], Tenant]
) -> Iterator[tuple[Tenant, dt.date]]:
    """(tenant, day) for each partition of the run, in order; a single-run backfill yields many.

    The newest day partition is today in the easternmost tenant's zone; for a tenant further west
    it may not have begun yet, and is skipped (nothing requested or written) with a warning.
    """
    tenants: dict[str, Tenant] = {}
    for slug, day in fact_partitions(context.partition_keys):
        if slug not in tenants:  # the tenants file is read once per tenant, not once per day
            tenants[slug] = get_tenant(slug)
        tenant = tenants[slug]
        if not has_begun(day, tenant.timezone):
            context.log.warning(f"tenant {slug}: day {day} has not begun in {tenant.timezone} yet; skipped")
            continue
        yield tenant, day


class ClientPerTenant(dict[str, Any]):
    """One API client per tenant for a run that walks many days, made on first use."""

    def __init__(self, make: Callable[[Tenant], object]):
        super().__init__()
        self._make = make

    def __call__(self, tenant: Tenant) -> Any:
        if tenant.slug not in self:
            self[tenant.slug] = self._make(tenant)
        return self[tenant.slug]


def fact_metadata(
    table: str, written: list[WriteStats], warehouse_url: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Totals over the run's partitions (one entry per day would not fit a range run's single event)."""
    days = sorted({str(s.day) for s in written if s.day is not None})
    metadata: dict[str, Any] = {
        "dagster/row_count": MetadataValue.int(sum(s.rows for s in written)),
        "dagster/table_name": table,
        "dagster/column_schema": column_schema(table),
        "inserted": MetadataValue.int(sum(s.inserted for s in written)),
        "updated": MetadataValue.int(sum(s.updated for s in written)),
        "deleted": MetadataValue.int(sum(s.deleted for s in written)),
        "partitions": MetadataValue.int(len(written)),
        "days": f"{days[0]} … {days[-1]}" if len(days) > 1 else (days[0] if days else "-"),
        "warehouse": warehouse_url,
    }
    metadata.update(request_metadata(extra))
    return metadata

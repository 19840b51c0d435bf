"""Writes of the availability tables: a tenant's window of future days, replaced in one transaction.

The slice writer (store.py) keys facts by Dagster's day partitions, which end today; availability
looks ahead, so its tables are replaced per tenant and day window here instead.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.warehouse.store import Warehouse
from askpro_pipelines.warehouse.tables import branch_availability, staff_utilisation

AVAILABILITY_TABLES = {t.name: t for t in (branch_availability, staff_utilisation)}


def replace_window(
    warehouse: Warehouse, table: str, tenant: str, first: dt.date, last: dt.date, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Make the tenant's rows of days first..last equal `rows`; returns how many were written."""
    t = AVAILABILITY_TABLES[table]
    records = [{**row, "tenant": tenant} for row in rows]
    outside = [r["day"] for r in records if not first <= r["day"] <= last]
    if outside:
        raise ValueError(f"{table}: tenant {tenant}: day {outside[0]} is outside {first}..{last}")
    with warehouse.engine.begin() as conn:
        conn.execute(t.delete().where(t.c.tenant == tenant, t.c.day >= first, t.c.day <= last))
        if records:
            conn.execute(t.insert(), records)
    return len(records)


def read_window(warehouse: Warehouse, table: str, tenant: str, first: dt.date) -> list[dict[str, Any]]:
    """A tenant's rows from `first` on."""
    t = AVAILABILITY_TABLES[table]
    with warehouse.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.day >= first))]

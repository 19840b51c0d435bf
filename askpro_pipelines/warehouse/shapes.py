"""The `api_shapes` table: the response shapes a sync saw, replaced per tenant and asset.

Not a `TableContract` slice: an asset's shapes are a small bookkeeping table rather than synced
data, and several assets share a tenant, so each replaces only its own rows.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.warehouse.store import Warehouse
from askpro_pipelines.warehouse.tables import api_shapes

_COLUMNS = ("api", "endpoint", "kind", "field", "value", "known", "records", "example_record_id")


def replace_shapes(warehouse: Warehouse, tenant: str, asset: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Make the tenant's shapes of `asset` equal `rows` (drift.ShapeLog.rows()), in one transaction."""
    now = dt.datetime.now(dt.UTC)
    fresh = [{c: row[c] for c in _COLUMNS} | {"tenant": tenant, "asset": asset, "observed_at": now} for row in rows]
    with warehouse.engine.begin() as conn:
        conn.execute(api_shapes.delete().where(api_shapes.c.tenant == tenant, api_shapes.c.asset == asset))
        if fresh:
            conn.execute(api_shapes.insert(), fresh)
    return len(fresh)


def read_shapes(warehouse: Warehouse, tenant: str, asset: str | None = None) -> list[dict[str, Any]]:
    """The tenant's stored shapes (of one asset, when given), in a stable order."""
    t = api_shapes
    query = sa.select(t).where(t.c.tenant == tenant)
    if asset is not None:
        query = query.where(t.c.asset == asset)
    query = query.order_by(t.c.api, t.c.endpoint, t.c.kind, t.c.field, t.c.value)
    with warehouse.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]

"""The warehouse layer: table contract and the slice writer."""

from askpro_pipelines.warehouse.store import (
    Warehouse,
    WriteStats,
    display_url,
    resolve_warehouse_url,
)

__all__ = ["Warehouse", "WriteStats", "display_url", "resolve_warehouse_url"]

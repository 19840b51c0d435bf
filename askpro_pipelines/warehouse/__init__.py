"""The warehouse layer: table contract and the slice writer."""

from askpro_pipelines.warehouse.store import (
    DeleteGuard,
    MassDeletionError,
    Warehouse,
    WriteStats,
    display_url,
    resolve_warehouse_url,
)

__all__ = ["DeleteGuard", "MassDeletionError", "Warehouse", "WriteStats", "display_url", "resolve_warehouse_url"]

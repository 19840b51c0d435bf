"""The warehouse as a Dagster resource: one engine per run, its schema checked before the first write.

An empty database is created; a behind SQLite warehouse is upgraded; a behind PostgreSQL warehouse
stops the run with the instruction to run `askpro warehouse upgrade` (warehouse/migrate.py).
"""

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from askpro_pipelines.warehouse import DeleteGuard, Warehouse, display_url, resolve_warehouse_url
from askpro_pipelines.warehouse.migrate import ensure_schema


class WarehouseResource(ConfigurableResource):  # type: ignore[type-arg]  # not parametrised in Dagster's own usage
    """SQLAlchemy warehouse; the URL comes from config, else ASKPRO_WAREHOUSE_URL, else local SQLite."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Empty: ASKPRO_WAREHOUSE_URL, else sqlite under ASKPRO_DATA_DIR (./.askpro).",
    )

    max_delete_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Largest share of a tenant's rows in one dimension table a sync may delete; more fails the "
        "asset and keeps the old rows (deleting fewer than max_delete_min_rows rows always passes).",
    )
    max_delete_min_rows: int = Field(default=5, ge=1, description="Deletions smaller than this are never refused.")
    allow_mass_delete: bool = Field(
        default=False,
        description="Accept a larger deletion this run (the source really lost the rows; history keeps them).",
    )

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def _open(self) -> Warehouse:
        guard = DeleteGuard(self.max_delete_share, self.max_delete_min_rows, self.allow_mass_delete)
        warehouse = Warehouse.from_url(resolve_warehouse_url(self.url), guard)
        ensure_schema(warehouse.engine)
        return warehouse

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._warehouse = self._open()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()
            self._warehouse = None

    @property
    def warehouse(self) -> Warehouse:
        """The open warehouse (set up by Dagster for each run)."""
        if self._warehouse is None:
            self._warehouse = self._open()
        return self._warehouse

    @property
    def display_url(self) -> str:
        """Where rows go, with any password masked (for metadata and the CLI)."""
        return display_url(resolve_warehouse_url(self.url))

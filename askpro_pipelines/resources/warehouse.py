"""The warehouse as a Dagster resource: one engine per run, tables created on first use."""

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from askpro_pipelines.warehouse import Warehouse, display_url, resolve_warehouse_url


class WarehouseResource(ConfigurableResource):  # type: ignore[type-arg]  # not parametrised in Dagster's own usage
    """SQLAlchemy warehouse; the URL comes from config, else ASKPRO_WAREHOUSE_URL, else local SQLite."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Empty: ASKPRO_WAREHOUSE_URL, else sqlite under ASKPRO_DATA_DIR (./.askpro).",
    )

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._warehouse = Warehouse.from_url(resolve_warehouse_url(self.url))
        self._warehouse.create_tables()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()
            self._warehouse = None

    @property
    def warehouse(self) -> Warehouse:
        """The open warehouse (set up by Dagster for each run)."""
        if self._warehouse is None:
            self._warehouse = Warehouse.from_url(resolve_warehouse_url(self.url))
            self._warehouse.create_tables()
        return self._warehouse

    @property
    def display_url(self) -> str:
        """Where rows go, with any password masked (for metadata and the CLI)."""
        return display_url(resolve_warehouse_url(self.url))

"""A warehouse at this release's schema, on each backend (the store, history and guard tests share it)."""

import pytest

from askpro_pipelines.warehouse import Warehouse


@pytest.fixture
def warehouse(warehouse_url):
    wh = Warehouse.from_url(warehouse_url)
    wh.create_tables()
    yield wh
    wh.dispose()

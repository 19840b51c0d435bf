"""A warehouse (SQLite and PostgreSQL) holding one tenant-week, and the tenants file naming the tenant."""

import pytest

from askpro_pipelines.warehouse import Warehouse
from tests.report.week_rows import CALCOM_KEY_ENV, TENANT_KEY_VALUE, fill_week, report_tenant, write_tenants_file


@pytest.fixture
def report_tenants_file(tmp_path, monkeypatch):
    path = write_tenants_file(tmp_path)
    monkeypatch.setenv("ASKPRO_TENANTS_FILE", str(path))
    monkeypatch.setenv(CALCOM_KEY_ENV, TENANT_KEY_VALUE)  # the tenant's own key: never in a report
    return path


@pytest.fixture
def tenant(report_tenants_file):
    return report_tenant(report_tenants_file)


@pytest.fixture
def filled_warehouse(warehouse_url):
    wh = Warehouse.from_url(warehouse_url)
    wh.create_tables()
    fill_week(wh.engine)
    yield wh
    wh.dispose()


@pytest.fixture
def empty_warehouse(sqlite_url):
    wh = Warehouse.from_url(sqlite_url)
    wh.create_tables()
    yield wh
    wh.dispose()


@pytest.fixture
def filled_sqlite(sqlite_url, monkeypatch):
    """The week on SQLite only, named by ASKPRO_WAREHOUSE_URL (for the page and the command)."""
    wh = Warehouse.from_url(sqlite_url)
    wh.create_tables()
    fill_week(wh.engine)
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    yield wh
    wh.dispose()

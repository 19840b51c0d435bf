"""Shared fixtures: real databases (SQLite file and the local PostgreSQL), and the simulator serving test tenants."""

import os
import textwrap
import uuid

import pytest
import sqlalchemy as sa

# Tests name fixed days of 2026; pin the fact history so they stay partitions as the calendar moves
# (before the package is imported: the day partitions are built at import).
os.environ.setdefault("ASKPRO_FACTS_START_DATE", "2026-01-01")

from dagster import DagsterInstance  # noqa: E402

from askpro_pipelines.sync import run_sync  # noqa: E402
from askpro_pipelines.tenants import load_tenants  # noqa: E402
from askpro_simulator.demo import simulator_for  # noqa: E402

PG_ADMIN_URL = os.environ.get("ASKPRO_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory, monkeypatch):
    """Each test's local state (the CLI's Dagster instance, logs) in a temp dir, never the developer's ./.askpro."""
    monkeypatch.setenv("ASKPRO_DATA_DIR", str(tmp_path_factory.mktemp("askpro-data")))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def _postgres_unavailable(reason: str):
    """Under CI the Postgres tests must run: fail loudly. Locally, skip with the reason."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"PostgreSQL is required under CI but unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server_url():
    """Admin URL of the local PostgreSQL (trust auth), checked once."""
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        _postgres_unavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server_url):
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"askpro_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request):
    """Each warehouse test runs on the embedded default and on the production target."""
    return request.getfixturevalue(f"{request.param}_url")


# ---- syncing through Dagster against the simulator over real loopback HTTP ----

TENANTS_YAML = """
tenants:
  - slug: praxis-v2
    name: Praxis mit API v2
    calcom:
      api_version: v2
      api_key_env: TEST_V2_CALCOM_API_KEY
      webhook_secret_env: TEST_V2_CALCOM_WEBHOOK_SECRET
    retell:
      api_key_env: TEST_V2_RETELL_API_KEY
    branches:
      - id: mitte
        name: Praxis Mitte
        calcom_event_type_id: 1001
        phone_numbers: ["+4930123456701"]
  - slug: praxis-v1
    name: Praxis mit API v1
    calcom:
      api_version: v1
      api_key_env: TEST_V1_CALCOM_API_KEY
      webhook_secret_env: TEST_V1_CALCOM_WEBHOOK_SECRET
    retell:
      api_key_env: TEST_V1_RETELL_API_KEY
    branches:
      - id: hauptpraxis
        name: Hauptpraxis
        calcom_event_type_id: 3001
        phone_numbers: ["+4940555123401"]
"""

# Small backoff so retry tests take milliseconds, not seconds.
FAST_RETRIES = {
    "resources": {"calcom": {"config": {"backoff_base_s": 0.01, "max_backoff_s": 0.05, "breaker_cooldown_s": 60.0}}}
}


@pytest.fixture
def tenants_file(tmp_path, monkeypatch):
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(TENANTS_YAML))
    monkeypatch.setenv("ASKPRO_TENANTS_FILE", str(path))
    monkeypatch.setenv("TEST_V2_CALCOM_WEBHOOK_SECRET", "whsec-v2-test")
    monkeypatch.setenv("TEST_V1_CALCOM_WEBHOOK_SECRET", "whsec-v1-test")
    return path


@pytest.fixture
def simulator(tenants_file):
    """The two test tenants served by the simulator; env points the tenants at it."""
    with simulator_for(load_tenants()) as sim:
        yield sim


@pytest.fixture
def warehouse_env(warehouse_url, monkeypatch):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", warehouse_url)
    return warehouse_url


@pytest.fixture
def sync(simulator, warehouse_env):
    """Run a sync of the test tenants on one ephemeral Dagster instance."""
    instance = DagsterInstance.ephemeral()

    def _sync(**kwargs):
        kwargs.setdefault("run_config", FAST_RETRIES)
        return run_sync(load_tenants(), instance=instance, **kwargs)

    _sync.instance = instance
    return _sync

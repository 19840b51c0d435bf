"""Fixtures for syncing through Dagster against the simulator over real loopback HTTP."""

import textwrap

import pytest
from dagster import DagsterInstance

from askpro_pipelines.sync import run_sync, simulator_for
from askpro_pipelines.tenants import load_tenants

TENANTS_YAML = """
tenants:
  - slug: praxis-v2
    name: Praxis mit API v2
    calcom:
      api_version: v2
      api_key_env: TEST_V2_CALCOM_API_KEY
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

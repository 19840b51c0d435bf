"""The production instance config on the local PostgreSQL: it loads, and a sync runs through it."""

import shutil
from pathlib import Path

import sqlalchemy as sa
from dagster import DagsterInstance

from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_production_instance_runs_a_sync_on_postgres(postgres_url, sqlite_url, simulator, tenants_file, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)

    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled and not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 3

        report = run_sync(load_tenants(), ["praxis-v2"], select=["calcom_event_types", "staff"], instance=instance)
        assert report.success, report.tenants[0].errors
        (run_id,) = report.tenants[0].run_id.split()

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        status = conn.execute(sa.text("select status from runs where run_id = :id"), {"id": run_id}).scalar_one()
        materialized = conn.execute(
            sa.text("select count(*) from event_logs where run_id = :id and dagster_event_type = 'ASSET_MATERIALIZATION'"),
            {"id": run_id},
        ).scalar_one()
    engine.dispose()
    assert status == "SUCCESS" and materialized == 2

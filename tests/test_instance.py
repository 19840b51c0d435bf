"""Dagster instances: the production config on PostgreSQL, and the shared local one the CLI and
`make dev` use (where it lives, and that a kill while it is being created does not break it)."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import AssetKey, AssetMaterialization, DagsterInstance, DagsterInvalidInvocationError

from askpro_pipelines.instance import STORAGE_DATABASES, dagster_home, open_instance
from askpro_pipelines.policies import DERIVED_RUN_TAG
from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def test_production_instance_runs_a_sync_on_postgres(
    postgres_url, sqlite_url, simulator, tenants_file, tmp_path, monkeypatch
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)

    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.dequeue_interval_seconds == 1  # webhook freshness (issue 15)
        assert instance.run_coordinator.dequeue_use_threads  # launches overlap (benchmarks/freshness.py)
        per_tenant = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert per_tenant == [
            {"key": "askpro/tenant", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            {"key": DERIVED_RUN_TAG, "limit": 1},  # the automation's runs, one at a time
        ]
        assert instance.run_retries_enabled and not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 3

        report = run_sync(load_tenants(), ["praxis-v2"], select=["calcom_event_types", "staff"], instance=instance)
        assert report.success, report.tenants[0].errors
        (run_id,) = report.tenants[0].run_id.split()

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        status = conn.execute(sa.text("select status from runs where run_id = :id"), {"id": run_id}).scalar_one()
        materialized = conn.execute(
            sa.text(
                "select count(*) from event_logs where run_id = :id and dagster_event_type = 'ASSET_MATERIALIZATION'"
            ),
            {"id": run_id},
        ).scalar_one()
    engine.dispose()
    assert status == "SUCCESS" and materialized == 2


# ---- the shared local instance: where it lives, and that a crash while creating it does not break it ----

# Run in a subprocess: make one step of Dagster's storage creation kill the process outright, then
# open the instance the way `askpro sync` does.
CRASH_SCRIPT = """
import importlib, os, signal, sys
module = importlib.import_module(sys.argv[1])
owner, _, name = sys.argv[2].rpartition(".")
target = getattr(module, owner) if owner else module
setattr(target, name, lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL))
from askpro_pipelines.instance import open_instance
with open_instance():
    pass
"""
EVENT_LOG = "dagster._core.storage.event_log.sqlite.sqlite_event_log"
KILL_POINTS = {
    "index tables": (EVENT_LOG, "SqlEventLogStorageMetadata.create_all"),
    "index stamp": (EVENT_LOG, "stamp_alembic_rev"),
    "runs tables": ("dagster._core.storage.runs.sqlite.sqlite_run_storage", "RunStorageSqlMetadata.create_all"),
    "schedules tables": (
        "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
        "ScheduleStorageSqlMetadata.create_all",
    ),
}


def test_the_home_is_under_the_data_dir_unless_dagster_home_is_set(tmp_path):
    assert dagster_home({"ASKPRO_DATA_DIR": str(tmp_path)}) == tmp_path / "dagster_home"
    assert (
        dagster_home({"ASKPRO_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "elsewhere")})
        == tmp_path / "elsewhere"
    )
    assert dagster_home({}) == Path(".askpro", "dagster_home").resolve()


def _stamped(path: Path) -> bool:
    with sqlite3.connect(path) as conn:
        return bool(conn.execute("select count(*) from alembic_version").fetchone()[0])


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_a_kill_while_the_instance_is_created_is_repaired_by_the_next_command(kill_point, tmp_path):
    home = tmp_path / "data" / "dagster_home"
    env = {**os.environ, "ASKPRO_DATA_DIR": str(tmp_path / "data")}
    env.pop("DAGSTER_HOME", None)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, *KILL_POINTS[kill_point]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()

    if kill_point == "index tables":
        # The bug as users met it: plain Dagster on this home fails until `dagster instance migrate`.
        with DagsterInstance.from_config(str(home)) as broken:
            with pytest.raises(DagsterInvalidInvocationError, match="dynamic partitions table"):
                broken.get_dynamic_partitions("tenants")

    with open_instance({"ASKPRO_DATA_DIR": str(tmp_path / "data")}) as instance:
        instance.add_dynamic_partitions("tenants", ["praxis-v2"])
        instance.report_runless_asset_event(AssetMaterialization("staff", partition="praxis-v2"))

    # What `make dev` opens afterwards: a complete instance holding what the command recorded.
    assert all(_stamped(home / relative) for relative in STORAGE_DATABASES)
    with DagsterInstance.from_config(str(home)) as fresh:
        assert fresh.get_dynamic_partitions("tenants") == ["praxis-v2"]
        assert fresh.get_latest_materialization_event(AssetKey("staff")) is not None


def test_an_unstamped_database_with_rows_is_migrated_not_removed(tmp_path):
    environ = {"DAGSTER_HOME": str(tmp_path / "home")}
    with open_instance(environ) as instance:
        instance.add_dynamic_partitions("tenants", ["praxis-v2"])
    index = tmp_path / "home" / "history" / "runs" / "index.db"
    with sqlite3.connect(index) as conn:
        conn.execute("delete from alembic_version")
    with open_instance(environ) as instance:
        assert instance.get_dynamic_partitions("tenants") == ["praxis-v2"]
    assert _stamped(index)

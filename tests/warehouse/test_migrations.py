"""Schema migrations on SQLite and PostgreSQL: a fresh warehouse, and one of the first release
(created by `create_all`, filled by a real sync) upgraded in place without losing a row."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from askpro_pipelines.cli import main
from askpro_pipelines.warehouse import Warehouse, migrate
from askpro_pipelines.warehouse.migrations import baseline_schema
from askpro_pipelines.warehouse.store import _row_hash, create_engine
from askpro_pipelines.warehouse.tables import HISTORY_TABLES, metadata
from tests.conftest import FAST_RETRIES

DIMENSIONS = list(HISTORY_TABLES)


def _schema_differences(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def test_fresh_database_gets_every_table_at_head(warehouse_url):
    engine = create_engine(warehouse_url)
    try:
        assert migrate.status(engine).state == "empty"
        Warehouse(engine).create_tables()
        assert migrate.status(engine).state == "current"
        # The migrations build exactly what tables.py declares: a column added there without a
        # migration shows up here.
        assert _schema_differences(engine) == []
        Warehouse(engine).create_tables()  # idempotent
    finally:
        engine.dispose()


def _first_release_copy(source_url: str, target_url: str) -> dict[str, int]:
    """Make `target` a first-release warehouse holding `source`'s rows: the frozen baseline DDL,
    the first release's columns only, and row hashes as the first release computed them."""
    source, target = create_engine(source_url), create_engine(target_url)
    counts = {}
    try:
        baseline_schema.metadata.create_all(target)
        with source.connect() as read, target.begin() as write:
            for name, table in baseline_schema.metadata.tables.items():
                columns = [c.name for c in table.columns if name != "webhook_events" or c.name != "id"]
                typed = metadata.tables[name]  # the reference is at head; read with its column types
                rows = [dict(r._mapping) for r in read.execute(sa.select(*[typed.c[c] for c in columns]))]
                if "row_hash" in columns:
                    content = [c for c in columns if c not in ("tenant", "day", "row_hash", "synced_at")]
                    for row in rows:
                        row["row_hash"] = _row_hash(row, content)
                if rows:
                    write.execute(table.insert(), rows)
                counts[name] = len(rows)
    finally:
        source.dispose()
        target.dispose()
    return counts


def _rows(url: str, table: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        t = metadata.tables[table]
        columns = [c for c in t.columns if c.name != "synced_at"]
        with engine.connect() as conn:
            return sorted(tuple(map(repr, r)) for r in conn.execute(sa.select(*columns)))
    finally:
        engine.dispose()


def _with_url(url: str) -> dict:
    return {"resources": {**FAST_RETRIES["resources"], "warehouse": {"config": {"url": url}}}}


def test_first_release_warehouse_upgrades_without_losing_rows_and_fills_new_columns(
    sync, warehouse_env, tmp_path, capsys
):
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    assert sync(select=DIMENSIONS, run_config=_with_url(reference)).success
    counts = _first_release_copy(reference, warehouse_env)
    assert counts["retell_agent_versions"] > 0 and counts["working_hours"] > 0

    engine = create_engine(warehouse_env)
    try:
        assert migrate.status(engine).state == "first-release"
        if engine.dialect.name == "postgresql":
            # Production: the sync stops with one instruction instead of altering tables itself.
            with pytest.raises(migrate.WarehouseSchemaError, match="run `askpro warehouse upgrade`"):
                sync(select=DIMENSIONS)
            assert main(["warehouse", "status"]) == 1
            assert main(["warehouse", "upgrade"]) == 0
            assert (
                f"upgraded from the first release (no revision) to {migrate.head_revision()}" in capsys.readouterr().out
            )
        # (SQLite: the sync below upgrades the embedded warehouse by itself.)
        report = sync(select=DIMENSIONS)
        assert report.success, report
        assert migrate.status(engine).state == "current"
        assert _schema_differences(engine) == []
        with engine.connect() as conn:
            for name, count in counts.items():
                assert conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one() == count, name
            history = conn.execute(sa.text("select count(*) from staff_history where valid_to is null")).scalar_one()
            assert history == counts["staff"]  # seeded from the current rows, nothing changed since
            prompts = conn.execute(
                sa.text("select count(*) from retell_agent_versions where prompt is not null")
            ).scalar_one()
        assert prompts == counts["retell_agent_versions"]  # the new column is filled by the next sync
        for table in DIMENSIONS:
            assert _rows(warehouse_env, table) == _rows(reference, table), table
    finally:
        engine.dispose()
    assert main(["warehouse", "status"]) == 0
    assert "(current)" in capsys.readouterr().out


def test_tables_that_do_not_match_the_first_release_are_not_adopted(sqlite_url):
    engine = create_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table staff (tenant varchar(64), staff_id varchar(64))"))
        with pytest.raises(migrate.WarehouseSchemaError, match="staff lacks name"):
            migrate.upgrade(engine)
    finally:
        engine.dispose()


def test_a_warehouse_holding_only_the_receivers_table_is_adopted_without_an_operator(warehouse_url):
    from askpro_pipelines.webhooks.store import WebhookStore

    engine = create_engine(warehouse_url)
    try:
        WebhookStore(engine)  # the receiver started first on an empty database
        assert migrate.status(engine).state == "first-release"
        migrate.ensure_schema(engine, auto_upgrade=False)  # the PostgreSQL policy
        assert migrate.status(engine).state == "current"
    finally:
        engine.dispose()

"""Dashboard links after real syncs against the simulator, on SQLite and PostgreSQL: every row of
the seven linked tables carries its page (praxis-v1 on a self-hosted Cal.com, praxis-v2 on the
defaults), the history follows, the materializations show the links, and a warehouse at the
revision before the column keeps its rows through the upgrade and gets the links on the next sync."""

import textwrap
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from alembic import command
from dagster import AssetKey, AssetRecordsFilter, MetadataValue

from askpro_pipelines.warehouse import migrate
from askpro_pipelines.warehouse.store import _row_hash, create_engine
from askpro_pipelines.warehouse.tables import HISTORY_TABLES, metadata
from tests.conftest import FAST_RETRIES, TENANTS_YAML

SELF_HOSTED_CAL = "https://termine.praxis-v1.example/cal"
SELF_HOSTED_RETELL = "https://retell.praxis-v1.example"
BASES = {
    "praxis-v1": (SELF_HOSTED_CAL, SELF_HOSTED_RETELL),
    "praxis-v2": ("https://app.cal.com", "https://dashboard.retellai.com"),
}
LINKED = (
    "calcom_event_types",
    "staff",
    "working_hours",
    "working_hour_overrides",
    "retell_agents",
    "retell_agent_versions",
    "retell_phone_numbers",
)
DIMENSIONS = list(HISTORY_TABLES)


def _expected(table: str, row) -> str:
    calcom, retell = BASES[row.tenant]
    return {
        "calcom_event_types": lambda: f"{calcom}/event-types/{quote(row.event_type_id, safe='')}",
        "staff": lambda: f"{calcom}/settings/organizations/members",
        "working_hours": lambda: f"{calcom}/availability/{quote(row.schedule_id, safe='')}",
        "working_hour_overrides": lambda: f"{calcom}/availability/{quote(row.schedule_id, safe='')}",
        "retell_agents": lambda: f"{retell}/agents/{quote(row.agent_id, safe='')}",
        "retell_agent_versions": lambda: f"{retell}/agents/{quote(row.agent_id, safe='')}",
        "retell_phone_numbers": lambda: f"{retell}/phone-numbers",
    }[table]()


@pytest.fixture
def tenants_file(tmp_path, monkeypatch):
    """The test tenants, praxis-v1 with its own Cal.com web app and Retell dashboard bases."""
    text = textwrap.dedent(TENANTS_YAML)
    text = text.replace(
        "      api_key_env: TEST_V1_CALCOM_API_KEY\n",
        f"      api_key_env: TEST_V1_CALCOM_API_KEY\n      dashboard_url: {SELF_HOSTED_CAL}/\n",
    ).replace(
        "      api_key_env: TEST_V1_RETELL_API_KEY\n",
        f"      api_key_env: TEST_V1_RETELL_API_KEY\n      dashboard_url: {SELF_HOSTED_RETELL}\n",
    )
    assert SELF_HOSTED_CAL in text and SELF_HOSTED_RETELL in text
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    monkeypatch.setenv("ASKPRO_TENANTS_FILE", str(path))
    monkeypatch.setenv("TEST_V2_CALCOM_WEBHOOK_SECRET", "whsec-v2-test")
    monkeypatch.setenv("TEST_V1_CALCOM_WEBHOOK_SECRET", "whsec-v1-test")
    return path


def _assert_rows_link_their_pages(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for table in LINKED:
                rows = conn.execute(sa.select(metadata.tables[table])).all()
                assert rows, table
                if table != "working_hour_overrides":  # not every account has date overrides
                    assert {r.tenant for r in rows} == set(BASES), table
                for row in rows:
                    assert row.dashboard_url == _expected(table, row), (table, row)
                history = metadata.tables[f"{table}_history"]
                current = conn.execute(sa.select(history).where(history.c.is_current.is_(True))).all()
                assert sorted(r.dashboard_url for r in current) == sorted(r.dashboard_url for r in rows), table
    finally:
        engine.dispose()


def _latest(instance, asset: str, partition: str):
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return records[0].asset_materialization.metadata


def test_rows_and_materializations_link_to_the_dashboards(sync, warehouse_env):
    assert sync(select=DIMENSIONS).success
    _assert_rows_link_their_pages(warehouse_env)

    instance = sync.instance
    event_types = _latest(instance, "calcom_event_types", "praxis-v1")
    assert event_types["dashboard"] == MetadataValue.url(f"{SELF_HOSTED_CAL}/event-types")
    assert f"]({SELF_HOSTED_CAL}/event-types/3001)" in event_types["dashboard_pages"].md_str
    staff = _latest(instance, "staff", "praxis-v2")
    assert staff["dashboard"] == MetadataValue.url("https://app.cal.com/settings/organizations/members")
    assert "dashboard_pages" not in staff  # one page for every member: the link says it all
    hours = _latest(instance, "working_hours", "praxis-v2")
    assert hours["dashboard"] == MetadataValue.url("https://app.cal.com/availability")
    assert "](https://app.cal.com/availability/" in hours["dashboard_pages"].md_str
    agents = _latest(instance, "retell_agent_versions", "praxis-v1")
    assert agents["dashboard"] == MetadataValue.url(f"{SELF_HOSTED_RETELL}/agents")
    assert f"]({SELF_HOSTED_RETELL}/agents/agent_" in agents["dashboard_pages"].md_str
    numbers = _latest(instance, "retell_phone_numbers", "praxis-v2")
    assert numbers["dashboard"] == MetadataValue.url("https://dashboard.retellai.com/phone-numbers")

    chain = _latest(instance, "phone_assignments", "praxis-v1")["phone_chain"].md_str
    line = next(line for line in chain.splitlines() if line.startswith("| [+4940555123401]("))
    assert f"[+4940555123401]({SELF_HOSTED_RETELL}/phone-numbers)" in line
    assert f"]({SELF_HOSTED_RETELL}/agents/agent_" in line
    assert f"(3001)]({SELF_HOSTED_CAL}/event-types/3001)" in line


NOT_CONTENT = {"tenant", "row_hash", "synced_at", "valid_from", "valid_to", "change_kind", "is_current"}


def _copy_at_0005(source_url: str, target_url: str) -> dict[str, int]:
    """Make `target` a warehouse at 0005 (the revision before the column) holding `source`'s rows
    of the linked tables and their history, hashed as that revision hashed them."""
    source, target = create_engine(source_url), create_engine(target_url)
    counts = {}
    try:
        with target.begin() as conn:
            command.upgrade(migrate._config(conn), "0005_analytics")
        with source.connect() as read, target.begin() as write:
            for name in [n for table in LINKED for n in (table, f"{table}_history")]:
                typed = metadata.tables[name]
                columns = [c.name for c in typed.columns if c.name != "dashboard_url"]
                rows = [dict(r._mapping) for r in read.execute(sa.select(*[typed.c[c] for c in columns]))]
                content = [c for c in columns if c not in NOT_CONTENT]
                for row in rows:
                    row["row_hash"] = _row_hash(row, content)
                if rows:
                    write.execute(typed.insert(), rows)  # the typed table binds JSON and instants; no dashboard_url key
                counts[name] = len(rows)
    finally:
        source.dispose()
        target.dispose()
    return counts


def test_upgrade_keeps_the_rows_and_the_next_sync_fills_the_links(sync, warehouse_env, tmp_path):
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    run_config = {"resources": {**FAST_RETRIES["resources"], "warehouse": {"config": {"url": reference}}}}
    assert sync(select=DIMENSIONS, run_config=run_config).success
    counts = _copy_at_0005(reference, warehouse_env)
    assert all(counts[table] for table in ("calcom_event_types", "staff", "retell_agent_versions"))

    engine = create_engine(warehouse_env)
    try:
        assert migrate.status(engine).state == "behind"
        assert migrate.upgrade(engine) == ("0005_analytics", migrate.head_revision())
        with engine.connect() as conn:
            for name, count in counts.items():
                found = conn.execute(sa.text(f"select count(*), count(dashboard_url) from {name}")).one()
                assert tuple(found) == (count, 0), name  # every row kept; the link comes with the next sync

        assert sync(select=DIMENSIONS).success
        _assert_rows_link_their_pages(warehouse_env)
        with engine.connect() as conn:
            versions = conn.execute(
                sa.text("select staff_id, is_current, change_kind, dashboard_url from staff_history")
            ).all()
        by_member: dict[str, list] = {}
        for version in versions:
            by_member.setdefault(version.staff_id, []).append(version)
        assert len(by_member) == counts["staff"]
        for member, kept in by_member.items():
            # the version from before the upgrade closes; the one with the link is open
            assert sorted((v.is_current, v.change_kind, v.dashboard_url is None) for v in kept) == [
                (False, "changed", True),
                (True, None, False),
            ], member
    finally:
        engine.dispose()

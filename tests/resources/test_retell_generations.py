"""Retell endpoint generations through a real sync: a current-only account is read without a single
request to a superseded endpoint, a legacy-only one still syncs completely, and both give the same rows."""

import datetime as dt
import re

import pytest
from dagster import AssetKey, DagsterInstance

from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_simulator.demo import simulator_for
from askpro_simulator.retell_routes import CURRENT, LEGACY

SLUG = "praxis-v2"
DAY = dt.date(2026, 11, 18)
RETELL_ASSETS = [
    "retell_agents",
    "retell_agent_versions",
    "retell_phone_numbers",
    "retell_calls",
    "retell_call_transcripts",
]
SUPERSEDED = (
    "/retell/list-agents",
    "/retell/get-agent-versions/",
    "/retell/list-phone-numbers",
    "/retell/v2/list-calls",
)
CURRENT_ONLY = (
    "/retell/v2/list-agents",
    "/retell/list-agent-versions/",
    "/retell/v2/list-phone-numbers",
    "/retell/v3/list-calls",
)
COMPARED = {
    "retell_agent_versions": ["agent_id", "version", "is_published", "llm_id", "llm_version", "prompt_hash"],
    "retell_phone_numbers": ["phone_number", "inbound_agent_id", "inbound_agent_version", "inbound_agents"],
    "retell_calls": ["call_id", "agent_id", "agent_version", "call_status", "disconnection_reason", "booking_uid"],
    "retell_call_transcripts": ["call_id", "transcript"],
}


@pytest.fixture
def current_only(tenants_file, warehouse_env):
    """praxis-v2 served as a current-only Retell account."""
    with simulator_for(load_tenants(), spec_overrides={SLUG: {"retell_generation": CURRENT}}) as sim:
        yield sim


def _sync(instance):
    report = run_sync(load_tenants(), tenant_slugs=[SLUG], select=RETELL_ASSETS, instance=instance, until=DAY)
    assert report.success, [t.errors for t in report.tenants]
    return {t.table: t for t in report.tenants[0].tables}


def _rows(wh, table):
    rows = wh.read_slice(table, SLUG, COMPARED[table])
    if table == "retell_call_transcripts":
        # Legacy lists carry "" for calls that never connected; the current path does not fetch those.
        rows = [r for r in rows if r["transcript"]]
    return sorted(rows, key=repr)


def _endpoint_metadata(instance, asset):
    event = instance.get_latest_materialization_event(AssetKey(asset))
    metadata = event.asset_materialization.metadata
    return {k: v.value for k, v in metadata.items() if k.startswith("retell/endpoints/")}


def test_current_only_account_never_touches_a_superseded_endpoint(current_only, warehouse_env):
    instance = DagsterInstance.ephemeral()
    tables = _sync(instance)
    assert tables["retell_agent_versions"].rows > tables["retell_agents"].rows > 0
    assert tables["retell_calls"].rows > 0

    log = current_only.request_log
    retell = [(method, path, status) for method, path, status in log if path.startswith("/retell/")]
    assert retell and all(status == 200 for _, _, status in retell), [r for r in retell if r[2] != 200]
    assert not [path for _, path, _ in retell if path.startswith(SUPERSEDED)]
    world = current_only.world.tenants[SLUG]
    # Every version's configuration came from get-agent?version=N, with integer versions only
    # (half the agents carry response_engine.version as 7.0).
    got_versions = sorted(
        re.sub(r"\?.*", "", p) + "@" + p.split("version=")[1]
        for _, p, _ in retell
        if p.startswith("/retell/get-agent/")
    )
    assert got_versions == sorted(
        f"/retell/get-agent/{a.agent_id}@{v.version}" for a in world.agents for v in a.versions
    )
    queried = [p for _, p, _ in retell if "version=" in p]
    assert queried and not [p for p in queried if re.search(r"version=\d+\.\d", p)]

    assert _endpoint_metadata(instance, "retell_agents") == {
        "retell/endpoints/retell_agents": CURRENT,
        "retell/endpoints/retell_agent_versions": CURRENT,
    }
    assert _endpoint_metadata(instance, "retell_phone_numbers") == {"retell/endpoints/retell_phone_numbers": CURRENT}
    assert _endpoint_metadata(instance, "retell_calls")["retell/endpoints/retell_calls"] == CURRENT


def test_a_legacy_only_account_syncs_the_same_rows(current_only, warehouse_env):
    instance = DagsterInstance.ephemeral()
    _sync(instance)
    wh = Warehouse.from_url(warehouse_env)
    before = {table: _rows(wh, table) for table in COMPARED}
    assert all(before.values())

    current_only.world.tenants[SLUG].spec.retell_generation = LEGACY
    served = len(current_only.request_log)
    tables = _sync(instance)
    for table in COMPARED:
        if table != "retell_call_transcripts":
            assert (tables[table].inserted, tables[table].updated, tables[table].deleted) == (0, 0, 0), table
        assert _rows(wh, table) == before[table], table
    after = [(path, status) for _, path, status in current_only.request_log[served:]]
    # The current endpoints were each tried once and answered 404; everything else came from the legacy ones.
    tried = [(path, status) for path, status in after if path.startswith(CURRENT_ONLY)]
    assert tried and all(status == 404 for _, status in tried)
    assert [p for p, _ in after if p.startswith(SUPERSEDED)]
    assert _endpoint_metadata(instance, "retell_agents")["retell/endpoints/retell_agents"] == LEGACY
    assert _endpoint_metadata(instance, "retell_phone_numbers") == {"retell/endpoints/retell_phone_numbers": LEGACY}


def test_an_account_without_list_agent_versions_falls_back_per_client(current_only, warehouse_env):
    """A transition account: current list-agents, but get-agent-versions where list-agent-versions is 404."""
    from askpro_simulator import Fault

    current_only.world.tenants[SLUG].spec.retell_generation = "both"
    current_only.add_fault(Fault(kind="status", status=404, path_prefix="/retell/list-agent-versions/", count=-1))
    instance = DagsterInstance.ephemeral()
    report = run_sync(
        load_tenants(), tenant_slugs=[SLUG], select=["retell_agents", "retell_agent_versions"], instance=instance
    )
    assert report.success, report.tenants[0].errors
    world = current_only.world.tenants[SLUG]
    assert Warehouse.from_url(warehouse_env).count("retell_agent_versions", SLUG) == sum(
        len(a.versions) for a in world.agents
    )
    # One probe, remembered: every other agent went straight to the legacy endpoint.
    assert current_only.request_count("/retell/list-agent-versions/") == 1
    assert current_only.request_count("/retell/get-agent-versions/") == len(world.agents)
    assert _endpoint_metadata(instance, "retell_agents") == {
        "retell/endpoints/retell_agents": CURRENT,
        "retell/endpoints/retell_agent_versions": LEGACY,
    }

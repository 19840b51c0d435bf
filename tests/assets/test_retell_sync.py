"""Syncing Retell and resolving the phone chain through Dagster, on SQLite and PostgreSQL."""

import os

from dagster import AssetKey, build_op_context

from askpro_pipelines.phone_chain import Assignment, NotFound, resolve_phone_number
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.table_checks import askpro_checks
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_simulator.server import Fault

RETELL_TABLES = {"retell_agents", "retell_agent_versions", "retell_phone_numbers"}


def _tables(report, slug):
    tenant = next(t for t in report.tenants if t.tenant == slug)
    assert tenant.success, tenant.errors
    return {t.table: t for t in tenant.tables}


def _metadata(instance, asset):
    event = instance.get_latest_materialization_event(AssetKey(asset))
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def test_sync_resolves_the_chain_end_to_end(sync, warehouse_env, simulator):
    report = sync()
    wh = Warehouse.from_url(warehouse_env)
    for slug in ("praxis-v2", "praxis-v1"):
        tables = _tables(report, slug)
        assert RETELL_TABLES | {"phone_assignments"} <= set(tables)
        assert tables["retell_agent_versions"].rows >= tables["retell_agents"].rows > 0

    found = resolve_phone_number("030 123456701", wh)
    assert isinstance(found, Assignment)
    assert (found.tenant, found.branch_id, found.event_type_id) == ("praxis-v2", "mitte", "1001")
    assert found.agent_id and found.agent_version_resolved is not None
    assert found.event_type_title and found.hosting_staff_count >= 1
    assert resolve_phone_number("0049 40 555123401", wh).branch_id == "hauptpraxis"

    missing = resolve_phone_number("+49 89 0000000", wh)
    assert isinstance(missing, NotFound) and not missing and "+49890000000" in missing.reason
    assert isinstance(resolve_phone_number("hello", wh), NotFound)


def test_legacy_endpoints_and_legacy_bindings(sync, simulator, warehouse_env):
    assert sync(tenant_slugs=["praxis-v2"]).success
    wh = Warehouse.from_url(warehouse_env)
    current_numbers = sorted(
        wh.read_slice("retell_phone_numbers", "praxis-v2", ["phone_number", "inbound_agent_id"]), key=str
    )
    current_versions = sorted(
        wh.read_slice("retell_agent_versions", "praxis-v2", ["agent_id", "version", "prompt_hash"]), key=str
    )

    for path in ("/retell/v2/list-agents", "/retell/v2/list-phone-numbers"):
        simulator.add_fault(Fault(kind="status", status=404, path_prefix=path, count=-1))
    report = sync(tenant_slugs=["praxis-v2"])
    tables = _tables(report, "praxis-v2")
    # The same rows whichever generation answered (legacy lists carry no tags, so retell_agents may differ there).
    for name in ("retell_agent_versions", "retell_phone_numbers"):
        assert (tables[name].inserted, tables[name].updated, tables[name].deleted) == (0, 0, 0), name
    assert (
        sorted(wh.read_slice("retell_phone_numbers", "praxis-v2", ["phone_number", "inbound_agent_id"]), key=str)
        == current_numbers
    )
    assert (
        sorted(wh.read_slice("retell_agent_versions", "praxis-v2", ["agent_id", "version", "prompt_hash"]), key=str)
        == current_versions
    )
    metadata = _metadata(sync.instance, "retell_agents")
    assert metadata["retell/endpoints/retell_agents"] == "legacy"


def test_multi_page_listing(sync, simulator, warehouse_env):
    config = {"resources": {"retell": {"config": {"page_size": 1}}}}
    assert sync(tenant_slugs=["praxis-v2"], run_config=config).success
    wh = Warehouse.from_url(warehouse_env)
    world = simulator.world.tenants["praxis-v2"]
    assert wh.count("retell_agents", "praxis-v2") == len(world.agents)
    assert wh.count("retell_phone_numbers", "praxis-v2") == len(world.phone_numbers)
    assert simulator.request_count("/retell/v2/list-agents") >= len(world.agents)


def test_keys_inside_prompts_are_redacted(sync, warehouse_env):
    assert sync().success
    wh = Warehouse.from_url(warehouse_env)
    secrets = [
        os.environ[name] for name in ("TEST_V2_CALCOM_API_KEY", "TEST_V1_CALCOM_API_KEY", "TEST_V2_RETELL_API_KEY")
    ]
    for slug in ("praxis-v2", "praxis-v1"):
        for row in wh.read_slice("retell_agents", slug):
            text = repr(row)
            assert row["prompt"] and row["prompt_hash"]
            assert not any(secret in text for secret in secrets)
            assert "cal_live_" not in text and "cal_test_" not in text


def test_assignment_checks_fail_on_purpose(sync, warehouse_env):
    assert sync().success
    wh = Warehouse.from_url(warehouse_env)
    slug = "praxis-v2"
    rows = wh.read_slice("phone_assignments", slug)
    good = rows[0]
    rows += [
        {
            **good,
            "phone_number": "+4930999000001",
            "agent_id": None,
            "agent_version": None,
            "agent_version_published": None,
        },
        {**good, "phone_number": "+4930999000002", "agent_version": "9", "agent_version_published": False},
        {**good, "phone_number": "+4930999000003", "branch_id": None, "branch_name": None},
        {**good, "phone_number": "+4930999000004", "event_type_id": "424242", "event_type_title": None},
        {**good, "branch_id": "zweite-filiale"},
    ]
    wh.replace_slice("phone_assignments", slug, rows)

    resources = {"warehouse": WarehouseResource(url=warehouse_env), "tenants": TenantsResource()}
    results = {}
    for check in askpro_checks:
        with build_op_context(partition_key=slug) as context:
            results[check.spec.name] = check.evaluate(context, **resources)
    assert {name for name, r in results.items() if not r.passed} == set(results)
    assert "+4930999000001" in results["phone_numbers_have_agent"].description
    assert "+4930999000002" in results["agent_versions_are_published"].description
    assert "+4930999000003" in results["phone_numbers_mapped_to_branch"].description
    assert "424242" in results["branch_event_types_exist"].description
    assert "zweite-filiale" in results["phone_numbers_on_one_branch"].description


def test_retell_rate_limit_with_retry_after_ms_then_success(sync, simulator):
    simulator.add_fault(
        Fault(
            kind="status",
            status=429,
            retry_after=0.2,
            retry_after_header="retry-after-ms",
            path_prefix="/retell/v2/list-phone-numbers",
        )
    )
    report = sync(tenant_slugs=["praxis-v2"], select=["retell_phone_numbers"])
    assert report.success, report.tenants[0].errors
    metadata = _metadata(sync.instance, "retell_phone_numbers")
    assert metadata["retell/rate_limited"] == 1 and metadata["retell/retries"] == 1
    assert metadata["retell/endpoints/retell_phone_numbers"] == "current"


def test_a_resync_reuses_stored_transcripts_of_ended_calls(sync, simulator, warehouse_env):
    import datetime as dt

    from askpro_pipelines.sync import FACT_ASSETS

    day = dt.date(2026, 11, 18)
    assert sync(tenant_slugs=["praxis-v2"], select=FACT_ASSETS, until=day).success
    fetched = simulator.request_count("/retell/v2/get-call")
    assert fetched > 0
    again = sync(tenant_slugs=["praxis-v2"], select=FACT_ASSETS, until=day)
    assert again.success
    assert simulator.request_count("/retell/v2/get-call") == fetched  # nothing fetched again
    tables = {t.table: t for t in again.tenants[0].tables}
    assert (tables["retell_call_transcripts"].inserted, tables["retell_call_transcripts"].updated) == (0, 0)
    assert tables["retell_call_transcripts"].rows > 0


def test_a_resync_reuses_stored_prompts_of_published_versions(sync, simulator, warehouse_env):
    select = ["retell_agents", "retell_agent_versions"]
    assert sync(tenant_slugs=["praxis-v2"], select=select).success
    wh = Warehouse.from_url(warehouse_env)
    versions = wh.read_slice("retell_agent_versions", "praxis-v2", ["is_published", "llm_id", "prompt", "prompt_hash"])
    published = [v for v in versions if v["is_published"] and v["llm_id"]]
    assert published and all(v["prompt"] and v["prompt_hash"] for v in published)
    fetched = simulator.request_count("/retell/get-retell-llm")
    again = sync(tenant_slugs=["praxis-v2"], select=select)
    tables = _tables(again, "praxis-v2")
    assert all((tables[t].inserted, tables[t].updated, tables[t].deleted) == (0, 0, 0) for t in select), tables
    drafts = {(v["llm_id"]) for v in versions if not v["is_published"] and v["llm_id"]}
    # Only drafts (which may still change) are asked for their LLM again; published versions are not.
    assert simulator.request_count("/retell/get-retell-llm") - fetched == len(drafts)


def _version_states(wh, slug):
    rows = wh.read_slice("retell_agent_versions", slug, ["agent_id", "version", "is_published", "last_modified"])
    return {(r["agent_id"], r["version"]): (r["is_published"], r["last_modified"]) for r in rows}


def test_a_resync_reads_only_drafts_and_changed_versions_again(sync, simulator, warehouse_env):
    select = ["retell_agents", "retell_agent_versions"]
    slug = "praxis-v2"
    assert sync(tenant_slugs=[slug], select=select).success
    wh = Warehouse.from_url(warehouse_env)
    first = _version_states(wh, slug)
    drafts = [key for key, (published, _) in first.items() if not published]
    assert len(drafts) < len(first)  # some versions are published, so there is something to reuse
    agents_before = {
        r["agent_id"]: r for r in wh.read_slice("retell_agents", slug, ["agent_id", "version", "voice_id"])
    }

    fetched = simulator.request_count("/retell/get-agent/")
    tables = _tables(sync(tenant_slugs=[slug], select=select), slug)
    assert all((tables[t].inserted, tables[t].updated, tables[t].deleted) == (0, 0, 0) for t in select), tables
    # Nothing changed: only the drafts are read again with get-agent?version=N.
    assert simulator.request_count("/retell/get-agent/") - fetched == len(drafts)

    agent_id = sorted(agents_before)[0]
    resource = RetellResource(backoff_base_s=0.01, max_backoff_s=0.02, max_attempts=2)
    client = resource.client_for(load_tenants().get(slug))
    try:
        published = client.publish_agent(agent_id)
    finally:
        client.http.close()
        resource.teardown_after_execution(None)

    fetched = simulator.request_count("/retell/get-agent/")
    tables = _tables(sync(tenant_slugs=[slug], select=select), slug)
    assert tables["retell_agent_versions"].inserted >= 1  # the new draft (and the published copy if there was no draft)
    after = _version_states(wh, slug)
    # The version just published (its modified time moved) and every draft, the new one included, are read again.
    changed = [key for key, state in after.items() if not state[0] or first.get(key) != state]
    assert (agent_id, published.version) in changed
    assert simulator.request_count("/retell/get-agent/") - fetched == len(changed)
    assert after[(agent_id, published.version)][0] is True
    agent = next(
        r
        for r in wh.read_slice("retell_agents", slug, ["agent_id", "version", "voice_id"])
        if r["agent_id"] == agent_id
    )
    assert agent["version"] == max(v for a, v in after if a == agent_id) > agents_before[agent_id]["version"]
    assert agent["voice_id"] == agents_before[agent_id]["voice_id"]

"""The code location loads, and its graph is what the README promises (catches lost lineage)."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, DefaultSensorStatus, Definitions

from askpro_pipelines.assets.history import GROUPS as HISTORY_GROUPS
from askpro_pipelines.definitions import defs
from askpro_pipelines.partitions import tenant_day_partitions, tenant_partitions
from askpro_pipelines.report.week import tenant_week_partitions
from askpro_pipelines.warehouse.tables import CONTRACTS

ROOT = Path(__file__).resolve().parents[1]

# The analytics tenant_report reads besides booking_outcomes and phone_assignments.
REPORT_INPUTS = {"booking_success", "call_analysis", "api_health"}
REPORTS = {"tenant_report"}  # files, not tables: no column schema, no checks, no sync job


def _keys(graph) -> list:
    return list(graph.get_all_asset_keys())


def test_definitions_are_loadable():
    Definitions.validate_loadable(defs)


def test_calcom_group_and_lineage():
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in _keys(graph)}
    assert groups == {
        "calcom_event_types": "calcom",
        "staff": "calcom",
        "staff_event_types": "calcom",
        "working_hours": "calcom",
        "working_hour_overrides": "calcom",
        "retell_agents": "retell",
        "retell_agent_versions": "retell",
        "retell_phone_numbers": "retell",
        "phone_assignments": "askpro",
        "calcom_bookings": "calcom",
        "retell_calls": "retell",
        "retell_call_transcripts": "retell",
        "booking_outcomes": "askpro",
        "call_analysis": "askpro",
        "booking_success": "askpro",
        "branch_availability": "askpro",
        "api_health": "askpro",
        "tenant_report": "askpro",
        "webhook_events": "landing",
        # each history table sits beside its current table, downstream of it
        **{f"{t}_history": group for t, group in HISTORY_GROUPS.items()},
    }
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys} for key in _keys(graph)}
    assert parents["staff"] == {"calcom_event_types"}
    assert parents["staff_event_types"] == {"calcom_event_types", "staff"}
    assert parents["working_hours"] == {"staff"}
    assert parents["working_hour_overrides"] == {"staff"}
    assert parents["calcom_bookings"] == {"webhook_events", "calcom_event_types"}
    assert parents["retell_calls"] == {"webhook_events", "retell_agent_versions"}
    assert parents["booking_outcomes"] == {"calcom_bookings", "retell_calls"}
    assert parents["call_analysis"] == {
        "retell_calls",
        "retell_call_transcripts",
        "calcom_bookings",
        "phone_assignments",
    }
    assert parents["booking_success"] == {"call_analysis", "calcom_bookings"}
    assert parents["tenant_report"] == {"booking_outcomes", "phone_assignments", *REPORT_INPUTS}
    assert all(parents[f"{t}_history"] == {t} for t in HISTORY_GROUPS)
    # api_health follows every table read from an API, so it runs after them in both sync jobs
    api_tables = {k for k, g in groups.items() if g in ("calcom", "retell") and not k.endswith("_history")}
    assert parents["api_health"] == api_tables
    assert parents["phone_assignments"] == {
        "retell_phone_numbers",
        "retell_agent_versions",
        "retell_agents",
        "calcom_event_types",
        "staff_event_types",
    }


def test_every_table_has_checks_and_is_partitioned_by_tenant_or_tenant_day():
    graph = defs.resolve_asset_graph()
    for key in _keys(graph):
        node = graph.get(key)
        if not node.is_materializable:
            assert key == AssetKey("webhook_events")  # external: the receiver writes it
            continue
        if key == AssetKey("tenant_report"):  # one file per tenant and week
            assert node.partitions_def == tenant_week_partitions
            continue
        if key == AssetKey("branch_availability"):  # looks ahead of the day partitions: one per tenant
            assert node.partitions_def == tenant_partitions
            continue
        if key == AssetKey("api_health"):  # one row per tenant, API and run: in both sync jobs, unpartitioned
            assert node.partitions_def is None
            continue
        table = key.to_user_string().removesuffix("_history")
        expected = tenant_day_partitions if CONTRACTS[table].by_day else tenant_partitions
        assert node.partitions_def == expected, key
    checked = {check.asset_key for check in graph.asset_check_keys}
    assert checked == {AssetKey(t) for t in CONTRACTS} | {AssetKey(f"{t}_history") for t in HISTORY_GROUPS} | {
        AssetKey("branch_availability"),
        AssetKey("api_health"),
    }


def test_facts_backfill_a_day_range_in_one_run():
    graph = defs.resolve_asset_graph()
    facts = ("calcom_bookings", "retell_calls", "retell_call_transcripts", "booking_outcomes")
    for name in (*facts, "call_analysis", "booking_success"):
        policy = graph.get(AssetKey(name)).backfill_policy
        assert policy is not None and policy.max_partitions_per_run is None, name


def test_sensors_default_to_running():
    for sensor in defs.sensors:
        assert sensor.default_status == DefaultSensorStatus.RUNNING


def test_dagster_cli_validates_the_workspace(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_synced_table_declares_freshness():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert node.freshness_policy is not None, key


def test_derived_tables_follow_their_upstreams():
    from dagster import (
        AssetMaterialization,
        evaluate_automation_conditions,
        instance_for_test,
    )

    with instance_for_test() as instance:
        instance.add_dynamic_partitions("tenants", ["praxis-am-stadtpark"])
        tenant = "praxis-am-stadtpark"
        upstream = [
            "retell_phone_numbers",
            "retell_agent_versions",
            "retell_agents",
            "calcom_event_types",
            "staff_event_types",
        ]
        for name in [*upstream, "phone_assignments"]:
            instance.report_runless_asset_event(AssetMaterialization(name, partition=tenant))
        quiet = evaluate_automation_conditions(defs=defs, instance=instance)
        assert quiet.get_num_requested(AssetKey("phone_assignments")) == 0

        # A phone number changed in Retell: the assignments follow without a schedule.
        instance.report_runless_asset_event(AssetMaterialization("retell_phone_numbers", partition=tenant))
        result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
        assert result.get_num_requested(AssetKey("phone_assignments")) == 1
        assert result.get_num_requested(AssetKey("booking_outcomes")) == 0


def test_the_two_sync_jobs_cover_every_synced_asset():
    graph = defs.resolve_asset_graph()
    materializable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    covered = set()
    for name in ("sync_dimensions", "sync_facts", "refresh_availability"):
        covered |= set(defs.resolve_job_def(name).asset_layer.selected_asset_keys)
    assert not {k.to_user_string() for k in covered} & REPORTS  # a report is never part of a sync
    reports = set(defs.resolve_job_def("tenant_reports").asset_layer.selected_asset_keys)
    assert {k.to_user_string() for k in reports} == REPORTS
    assert covered | reports == materializable


def test_every_column_is_described_on_its_asset():
    from askpro_pipelines.warehouse.tables import metadata as tables

    graph = defs.resolve_asset_graph()
    for key in _keys(graph):
        if key.to_user_string() in REPORTS:
            assert "dagster/column_schema" not in graph.get(key).metadata
            continue
        table = tables.tables[key.to_user_string()]
        schema = graph.get(key).metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == [c.name for c in table.columns], key
        undescribed = [c.name for c in schema.columns if not (c.description or "").strip()]
        assert not undescribed, f"{key.to_user_string()}: no description for {undescribed}"


def test_assets_carry_owners_and_provider_and_layer_tags():
    graph = defs.resolve_asset_graph()
    seen = {}
    for key in _keys(graph):
        node = graph.get(key)
        assert node.owners == ["team:data-ops"], key
        seen[key.to_user_string()] = (node.tags["provider"], node.tags["layer"])
    assert seen["calcom_event_types"] == ("calcom", "dimension")
    assert seen["retell_calls"] == ("retell", "fact")
    assert seen["phone_assignments"] == ("askpro", "dimension")
    assert seen["booking_outcomes"] == ("askpro", "fact")
    assert seen["call_analysis"] == ("askpro", "fact")
    assert seen["booking_success"] == ("askpro", "fact")
    assert seen["webhook_events"] == ("webhooks", "landing")
    assert seen["tenant_report"] == ("askpro", "report")


def test_loading_the_code_location_does_not_import_pandas():
    """Every run worker and code server loads the definitions; pandas (~0.4 s) loads only where used."""
    probe = "import sys, askpro_pipelines.definitions; print('pandas' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"

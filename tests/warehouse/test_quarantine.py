"""One bad record stops only itself: it is quarantined, the rest of its table and the tenant's facts land."""

import pytest

from askpro_pipelines.cli import main
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.history import versions
from askpro_pipelines.warehouse.quarantine import listed
from askpro_simulator.server import Fault


@pytest.fixture
def wh(warehouse_env):
    warehouse = Warehouse.from_url(warehouse_env)
    yield warehouse
    warehouse.dispose()


def _schedules(wh, tenant):
    return {r["schedule_id"] for r in wh.read_slice("working_hours", tenant, ["schedule_id"])}


def test_a_malformed_schedule_is_quarantined_and_the_rest_lands(sync, simulator, wh, capsys):
    reference = sync(tenant_slugs=["praxis-v1"])
    assert reference.success, reference
    all_schedules = _schedules(wh, "praxis-v1")
    hours = wh.count("working_hours", "praxis-v1")

    # The next sync sees one malformed schedule: the rest lands, and its rows stay as they were
    # (the schedule still exists at the source, it just cannot be read this time).
    simulator.add_fault(Fault(kind="malformed", path_prefix="/calcom/v1/schedules", tenant="praxis-v1"))
    report = sync(tenant_slugs=["praxis-v1"])
    (tenant,) = report.tenants
    assert tenant.success and report.success, tenant  # a warning, not a failure
    assert "praxis-v1_no_quarantined_records" not in " ".join(tenant.failed_checks)
    assert any("working_hours_no_quarantined_records warns" in note for note in tenant.notes), tenant.notes

    (held,) = listed(wh, "praxis-v1")
    assert (held["tenant"], held["api"], held["entity"], held["scope"]) == ("praxis-v1", "calcom", "schedules", "")
    assert held["record_id"] in all_schedules and "startTime" in held["error"]
    assert held["payload"]["id"] == int(held["record_id"])
    assert _schedules(wh, "praxis-v1") == all_schedules and wh.count("working_hours", "praxis-v1") == hours
    assert all(r["change_kind"] != "deleted" for r in versions(wh, "working_hours", "praxis-v1"))
    assert wh.count("calcom_event_types", "praxis-v1") > 0 and wh.count("staff", "praxis-v1") > 0
    assert {t.table for t in tenant.tables} >= {"working_hours", "calcom_bookings", "retell_calls", "booking_outcomes"}

    assert main(["quarantine", "list", "--tenant", "praxis-v1"]) == 0
    out = capsys.readouterr().out
    assert f"praxis-v1  calcom/schedules  record {held['record_id']}" in out and "1 quarantined record(s)" in out

    # The next sync reads the schedule fine: it leaves quarantine and its rows land.
    again = sync(tenant_slugs=["praxis-v1"])
    assert again.success and not again.tenants[0].notes, again
    assert listed(wh, "praxis-v1") == []
    assert _schedules(wh, "praxis-v1") == all_schedules and wh.count("working_hours", "praxis-v1") == hours


def test_on_a_fresh_warehouse_a_malformed_schedule_costs_only_its_own_rows(sync, simulator, wh):
    simulator.add_fault(Fault(kind="malformed", path_prefix="/calcom/v1/schedules", tenant="praxis-v1"))
    assert sync(tenant_slugs=["praxis-v1"]).success
    (held,) = listed(wh, "praxis-v1")
    fresh = _schedules(wh, "praxis-v1")
    assert held["record_id"] not in fresh and fresh
    assert sync(tenant_slugs=["praxis-v1"], select=["working_hours", "working_hour_overrides"]).success
    assert _schedules(wh, "praxis-v1") == fresh | {held["record_id"]} and listed(wh, "praxis-v1") == []


def test_a_malformed_event_type_costs_only_itself(sync, simulator, wh):
    simulator.add_fault(Fault(kind="malformed", path_prefix="/calcom/v2/event-types", tenant="praxis-v2", count=-1))
    report = sync(
        tenant_slugs=["praxis-v2"], select=["calcom_event_types", "staff", "staff_event_types", "working_hours"]
    )
    assert report.success, report
    held = listed(wh, "praxis-v2")
    assert held and {r["entity"] for r in held} == {"event_types"}
    assert all(r["record_id"].startswith("payload:") for r in held)  # the corrupt record lost its id
    assert wh.count("calcom_event_types", "praxis-v2") > 0
    assert wh.count("staff_event_types", "praxis-v2") > 0 and wh.count("working_hours", "praxis-v2") > 0


def test_facts_sync_when_a_dimension_failed_and_the_summary_says_so(sync, simulator, wh):
    simulator.add_fault(
        Fault(kind="status", status=500, path_prefix="/calcom/v1/event-types", tenant="praxis-v1", count=-1)
    )
    report = sync(tenant_slugs=["praxis-v1"])
    (tenant,) = report.tenants
    assert not tenant.success and "facts ran although dimensions failed" in tenant.notes
    assert "tenant=praxis-v1" in " ".join(tenant.errors)
    assert {t.table for t in tenant.tables} >= {"calcom_bookings", "retell_calls", "booking_outcomes"}


def test_an_unreadable_prompt_keeps_the_agent_versions_as_they_were(sync, simulator, wh):
    tables = ["retell_agents", "retell_agent_versions"]
    assert sync(tenant_slugs=["praxis-v2"], select=tables).success
    before = {t: sorted(wh.read_slice(t, "praxis-v2", ["agent_id", "row_hash"]), key=str) for t in tables}
    simulator.add_fault(Fault(kind="malformed", path_prefix="/retell/get-retell-llm/", tenant="praxis-v2"))
    report = sync(tenant_slugs=["praxis-v2"], select=tables)
    assert report.success, report
    (held,) = listed(wh, "praxis-v2")
    assert (held["api"], held["entity"]) == ("retell", "retell_llms") and held["record_id"].startswith("llm_")
    assert {t: sorted(wh.read_slice(t, "praxis-v2", ["agent_id", "row_hash"]), key=str) for t in tables} == before
    assert not [v for v in versions(wh, "retell_agent_versions", "praxis-v2") if v["change_kind"]]

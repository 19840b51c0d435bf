"""Drift detection through real syncs: the simulator changes a response's shape, the sync still
lands the data, the tenant's `api_responses_match_models` check warns naming endpoint, field and an
example record, and the check-failure alert carries that description."""

import datetime as dt
import json

from dagster import AssetCheckSeverity, DagsterEventType

from askpro_pipelines.models.calls import call_from_webhook
from askpro_pipelines.sensors.alerts import check_failure_alert
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.shapes import read_shapes
from askpro_pipelines.webhooks.app import redact_payload
from askpro_simulator import Fault

DAY = dt.date(2026, 11, 18)
CHECK = "api_responses_match_models"


def _evaluations(instance, check_name=CHECK):
    storage = instance.event_log_storage
    entries = storage.get_logs_for_all_runs_by_log_id(
        after_cursor=-1, dagster_event_type=DagsterEventType.ASSET_CHECK_EVALUATION
    )
    return [
        entry
        for _, entry in sorted(entries.items())
        if entry.get_dagster_event().asset_check_evaluation_data.check_name == check_name
    ]


def test_a_clean_sync_passes_every_drift_check(sync, warehouse_env):
    report = sync(until=DAY)
    assert report.success, [(t.tenant, t.failed_checks, t.errors) for t in report.tenants]
    evaluations = [e.get_dagster_event().asset_check_evaluation_data for e in _evaluations(sync.instance)]
    checked = {(e.asset_key.to_user_string(), e.partition) for e in evaluations}
    assert {asset for asset, _ in checked} == {
        "retell_agents",
        "retell_phone_numbers",
        "retell_calls",
        "calcom_event_types",
        "staff",
        "working_hours",
        "calcom_bookings",
    }
    assert all(e.passed for e in evaluations)
    wh = Warehouse.from_url(warehouse_env)
    for slug in ("praxis-v2", "praxis-v1"):
        endpoints = {(r["api"], r["endpoint"]) for r in read_shapes(wh, slug)}
        assert ("retell", "/v3/list-calls") in endpoints and ("retell", "/get-retell-llm/{llm_id}") in endpoints
    v1 = {(r["api"], r["endpoint"]) for r in read_shapes(wh, "praxis-v1")}
    assert {
        ("calcom", "/v1/bookings"),
        ("calcom", "/v1/event-types"),
        ("calcom", "/v1/users"),
        ("calcom", "/v1/schedules"),
    } <= v1
    v2 = {(r["api"], r["endpoint"]) for r in read_shapes(wh, "praxis-v2")}
    assert {
        ("calcom", "/v2/bookings"),
        ("calcom", "/v2/event-types"),
        ("calcom", "/v2/teams/{team_id}/event-types"),
    } <= v2


def test_an_unknown_key_and_call_status_warn_and_alert(sync, simulator, warehouse_env):
    changes = {"call_status": "on_hold", "handoff_summary": "Weitergeleitet an die Rezeption"}
    simulator.add_fault(Fault(kind="drift", path_prefix="/retell/v3/list-calls", tenant="praxis-v2", changes=changes))
    report = sync(tenant_slugs=["praxis-v2"], select=["retell_calls"], until=DAY)
    (tenant,) = report.tenants
    # the data landed; the check warns (a warning is no failure: the sync succeeds and says so)
    assert tenant.success and not tenant.failed_checks and tenant.warned_checks == [CHECK]
    assert any(note.startswith(f"check {CHECK} warns:") for note in tenant.notes)

    wh = Warehouse.from_url(warehouse_env)
    drifted = [r for r in read_shapes(wh, "praxis-v2", "retell_calls") if not r["known"]]
    example = drifted[0]["example_record_id"]
    assert {(r["kind"], r["field"], r["value"], r["example_record_id"]) for r in drifted} == {
        ("key", "handoff_summary", "", example),
        ("value", "call_status", "on_hold", example),
    }
    assert example in {r["call_id"] for r in wh.read_slice("retell_calls", "praxis-v2", ["call_id"], day=DAY)}
    status = next(
        r
        for r in wh.read_slice("retell_calls", "praxis-v2", ["call_id", "call_status"], day=DAY)
        if r["call_id"] == example
    )
    assert status["call_status"] == "on_hold"  # kept as text while the models catch up

    (entry,) = [e for e in _evaluations(sync.instance) if not e.get_dagster_event().asset_check_evaluation_data.passed]
    evaluation = entry.get_dagster_event().asset_check_evaluation_data
    assert evaluation.severity == AssetCheckSeverity.WARN
    for text in (
        "praxis-v2",
        "/v3/list-calls",
        "unknown key 'handoff_summary'",
        "unknown call_status 'on_hold'",
        example,
    ):
        assert text in evaluation.description, text
    alert = check_failure_alert(evaluation, entry.run_id, entry.get_dagster_event().job_name)
    assert (alert.tenant, alert.asset, alert.check) == ("praxis-v2", "retell_calls", CHECK)
    assert "handoff_summary" in alert.error_first_line and "on_hold" in alert.error_first_line

    # The next sync sees the usual shape again, and the warning clears.
    report = sync(tenant_slugs=["praxis-v2"], select=["retell_calls"], until=DAY)
    assert report.success and not report.tenants[0].failed_checks and not report.tenants[0].warned_checks


def test_an_expected_key_that_disappears_warns(sync, simulator, warehouse_env):
    simulator.add_fault(
        Fault(
            kind="drift",
            path_prefix="/retell/v2/list-phone-numbers",
            tenant="praxis-v2",
            changes={"phone_number_type": "retell-sip-trunk"},
        ),
    )
    report = sync(tenant_slugs=["praxis-v2"], select=["retell_phone_numbers"])
    assert not report.tenants[0].failed_checks and report.tenants[0].warned_checks == [CHECK]
    (row,) = [
        r for r in read_shapes(Warehouse.from_url(warehouse_env), "praxis-v2", "retell_phone_numbers") if not r["known"]
    ]
    assert (row["field"], row["value"]) == ("phone_number_type", "retell-sip-trunk") and row[
        "example_record_id"
    ].startswith("+")


def test_a_cal_com_shape_change_warns_on_its_table(sync, simulator, warehouse_env):
    """What an unversioned or re-versioned event-types answer looks like: an old key and a new enum value."""
    changes = {"length": 30, "schedulingType": "roundRobinWeighted"}
    simulator.add_fault(Fault(kind="drift", path_prefix="/calcom/v2/teams/", tenant="praxis-v2", changes=changes))
    report = sync(tenant_slugs=["praxis-v2"], select=["calcom_event_types"])
    assert not report.tenants[0].failed_checks and report.tenants[0].warned_checks == [CHECK]
    drifted = [
        r for r in read_shapes(Warehouse.from_url(warehouse_env), "praxis-v2", "calcom_event_types") if not r["known"]
    ]
    assert {(r["endpoint"], r["field"], r["value"]) for r in drifted} == {
        ("/v2/teams/{team_id}/event-types", "length", ""),
        ("/v2/teams/{team_id}/event-types", "schedulingType", "roundRobinWeighted"),
    }
    assert all(r["example_record_id"] for r in drifted)


def test_new_fields_stay_in_the_raw_webhook_payload():
    """webhook_events keeps the raw body (secrets masked), so a new field is not lost meanwhile."""
    body = {
        "event": "call_ended",
        "call": {"call_id": "call_1", "call_status": "on_hold", "handoff_summary": "neu", "agent_id": "a"},
    }
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    stored = json.loads(redact_payload(text, body))
    assert stored["call"]["handoff_summary"] == "neu" and stored["call"]["call_status"] == "on_hold"
    event, call = call_from_webhook(body)
    assert (event, call.call_status) == ("call_ended", "on_hold")

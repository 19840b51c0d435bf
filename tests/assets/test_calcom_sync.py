"""Syncing Cal.com through Dagster against the simulator, on SQLite and on PostgreSQL."""

import os

from dagster import AssetKey, build_op_context

from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.table_checks import calcom_checks
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.quarantine import listed
from askpro_pipelines.warehouse.tables import CONTRACTS
from askpro_simulator.server import Fault

CALCOM_TABLES = {"calcom_event_types", "staff", "staff_event_types", "working_hours", "working_hour_overrides"}


def _tenant(report, slug):
    return next(t for t in report.tenants if t.tenant == slug)


def _latest_metadata(instance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(asset))
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def _all_event_text(instance, report) -> str:
    return "\n".join(repr(record) for t in report.tenants for record in instance.all_logs(t.run_id))


def test_full_sync_of_both_api_versions(sync, warehouse_env):
    report = sync()
    assert report.success, [t.errors for t in report.tenants]
    wh = Warehouse.from_url(warehouse_env)
    for slug in ("praxis-v2", "praxis-v1"):
        tenant = _tenant(report, slug)
        assert CALCOM_TABLES <= {t.table for t in tenant.tables}
        counts = {t.table: t.rows for t in tenant.tables if t.table in CALCOM_TABLES}
        assert all(counts[t] > 0 for t in CALCOM_TABLES - {"working_hour_overrides"}), counts
        assert counts == {t: wh.count(t, slug) for t in CALCOM_TABLES}
        # 25 table checks (call_analysis: unique keys and bookings confirmed; booking_success: unique
        # keys and rate steady), 7 drift checks, 2 per history table (9), 7 quarantine checks,
        # branch_availability_is_consistent (a full sync refreshes availability too), and
        # api_key_headroom once per run (dimensions and facts)
        assert tenant.checks_run == 25 + 7 + 18 + 7 + 1 + 2 and not tenant.failed_checks
        assert "api_key_headroom" not in tenant.warned_checks
        weekdays = {r["weekday"] for r in wh.read_slice("working_hours", slug, ["weekday"])}
        assert weekdays <= set(range(1, 8)) and 7 in weekdays, "Sunday must map to ISO 7"
        times = wh.read_slice("working_hours", slug, ["start_time", "end_time"])
        assert all(len(r["start_time"]) == 5 and len(r["end_time"]) == 5 for r in times)
    assert {"1001"} <= {r["event_type_id"] for r in wh.read_slice("calcom_event_types", "praxis-v2", ["event_type_id"])}
    assert {"3001"} <= {r["event_type_id"] for r in wh.read_slice("calcom_event_types", "praxis-v1", ["event_type_id"])}


def test_second_sync_with_nothing_changed_writes_nothing(sync):
    assert sync().success
    again = sync()
    assert again.success
    for tenant in again.tenants:
        for table in tenant.tables:
            assert (table.inserted, table.updated, table.deleted) == (0, 0, 0), table


def test_metadata_reports_rows_schema_lineage_and_requests(sync):
    assert sync(tenant_slugs=["praxis-v2"]).success
    metadata = _latest_metadata(sync.instance, "staff_event_types")
    assert metadata["dagster/row_count"] > 0
    assert {"inserted", "updated", "deleted", "dagster/column_schema", "dagster/column_lineage"} <= set(metadata)
    lineage = metadata["dagster/column_lineage"].deps_by_column["event_type_id"]
    assert lineage[0].asset_key == AssetKey("calcom_event_types")
    requests = _latest_metadata(sync.instance, "calcom_event_types")
    assert requests["calcom/requests"] >= 2
    assert any(key.startswith("calcom/ratelimit/x-ratelimit") for key in requests)


def test_rate_limit_then_success_honours_retry_after(sync, simulator):
    simulator.add_fault(
        Fault(kind="status", status=429, retry_after=0.3, path_prefix="/calcom/v2/event-types", count=1)
    )
    report = sync(tenant_slugs=["praxis-v2"], select=["calcom_event_types"])
    assert report.success, report.tenants[0].errors
    metadata = _latest_metadata(sync.instance, "calcom_event_types")
    assert metadata["calcom/rate_limited"] == 1 and metadata["calcom/retries"] == 1


def test_server_errors_are_retried(sync, simulator):
    simulator.add_fault(Fault(kind="status", status=503, path_prefix="/calcom/v1/schedules", count=2))
    report = sync(tenant_slugs=["praxis-v1"])
    assert report.success, report.tenants[0].errors
    metadata = _latest_metadata(sync.instance, "working_hours")
    assert metadata["calcom/server_errors"] == 2 and metadata["calcom/retries"] == 2


def test_breaker_opens_fails_fast_and_other_tenants_still_sync(sync, simulator):
    simulator.add_fault(Fault(kind="status", status=503, tenant="praxis-v2", count=-1))
    config = {
        "resources": {
            "calcom": {"config": {"backoff_base_s": 0.01, "max_attempts": 10, "breaker_failure_threshold": 3}}
        }
    }
    report = sync(run_config=config)
    failed, healthy = _tenant(report, "praxis-v2"), _tenant(report, "praxis-v1")
    assert not failed.success and healthy.success
    assert not report.success
    message = " ".join(failed.errors)
    assert "tenant=praxis-v2" in message and "circuit open" in message
    # Three failures opened the breaker; the remaining seven attempts were never sent.
    served = [entry for entry in simulator.request_log if entry[1].startswith("/calcom/v2/event-types")]
    assert len(served) == 3


def test_api_key_never_appears_in_errors_logs_or_metadata(sync, simulator, caplog):
    key = os.environ["TEST_V1_CALCOM_API_KEY"]
    assert sync(tenant_slugs=["praxis-v1"]).success
    simulator.add_fault(Fault(kind="status", status=500, path_prefix="/calcom/v1/users", count=-1))
    report = sync(tenant_slugs=["praxis-v1"])
    assert not report.success
    failure = " ".join(report.tenants[0].errors)
    assert "HTTP 500" in failure and "tenant=praxis-v1" in failure
    assert key not in failure
    assert key not in caplog.text
    assert key not in _all_event_text(sync.instance, report)


def test_wrong_tenants_key_is_rejected(sync):
    own = os.environ["TEST_V2_CALCOM_API_KEY"]
    os.environ["TEST_V2_CALCOM_API_KEY"] = os.environ["TEST_V1_CALCOM_API_KEY"]
    try:
        report = sync(tenant_slugs=["praxis-v2"])
    finally:
        os.environ["TEST_V2_CALCOM_API_KEY"] = own
    (tenant,) = report.tenants
    assert not tenant.success
    assert "HTTP 401" in " ".join(tenant.errors) and "tenant=praxis-v2" in " ".join(tenant.errors)


def test_malformed_record_is_quarantined_and_the_rest_of_the_table_lands(sync, simulator, warehouse_env):
    assert sync(tenant_slugs=["praxis-v2"]).success
    wh = Warehouse.from_url(warehouse_env)
    before = wh.read_slice("calcom_event_types", "praxis-v2", ["event_type_id", "row_hash"])
    simulator.add_fault(Fault(kind="malformed", path_prefix="/calcom/v2/event-types", count=-1))
    report = sync(tenant_slugs=["praxis-v2"], select=["calcom_event_types"])
    (tenant,) = report.tenants
    assert tenant.success and any("calcom_event_types_no_quarantined_records warns" in n for n in tenant.notes)
    assert "entity=event_types" not in " ".join(tenant.errors)
    (held,) = [r for r in listed(wh, "praxis-v2")]
    assert held["entity"] == "event_types" and "lengthInMinutes" in held["error"]
    # The corrupt record lost its id, so it cannot be matched to a previous row: the others stay unchanged.
    after = wh.read_slice("calcom_event_types", "praxis-v2", ["event_type_id", "row_hash"])
    assert len(after) == len(before) - 1 and all(row in before for row in after)


def test_pagination_across_pages_in_both_versions(sync, simulator, warehouse_env):
    config = {"resources": {"calcom": {"config": {"page_size": 2}}}}
    assert sync(run_config=config, select=["staff", "calcom_event_types"]).success
    wh = Warehouse.from_url(warehouse_env)
    for slug in ("praxis-v2", "praxis-v1"):
        users = [r for r in wh.read_slice("staff", slug, ["staff_id", "source"]) if r["source"] == "user"]
        assert len(users) == len(simulator.world.tenants[slug].users)
    assert simulator.request_count("/calcom/v2/organizations") >= 3
    assert simulator.request_count("/calcom/v1/users") >= 3


def test_checks_fail_on_purpose_and_name_the_rows(sync, warehouse_env):
    assert sync(tenant_slugs=["praxis-v2"]).success
    wh = Warehouse.from_url(warehouse_env)
    slug = "praxis-v2"
    event_types = wh.read_slice("calcom_event_types", slug)
    event_types[0] = {**event_types[0], "hosts": []}
    wh.replace_slice("calcom_event_types", slug, event_types)
    links = wh.read_slice("staff_event_types", slug)
    links.append({**links[0], "staff_id": "ghost-42"})
    links.append(dict(links[1]))
    wh.replace_slice("staff_event_types", slug, links)
    hours = wh.read_slice("working_hours", slug)
    first = hours[0]
    hours.append({**first, "start_time": "23:00", "end_time": "22:00"})
    hours.append({**first, "start_time": first["start_time"], "end_time": "23:59", "schedule_name": "overlap"})
    wh.replace_slice("working_hours", slug, hours)

    resources = {"warehouse": WarehouseResource(url=warehouse_env), "tenants": TenantsResource()}
    evaluations = {}
    for check in calcom_checks:
        key = check.spec.key
        if CONTRACTS[key.asset_key.to_user_string()].by_day:
            continue  # fact checks run per tenant-day; tested with the facts
        with build_op_context(partition_key=slug) as context:
            evaluations[key.name] = check.evaluate(context, **resources)
    failed = {name for name, e in evaluations.items() if not e.passed}
    assert failed == {
        "event_types_have_hosts",
        "staff_event_types_resolve",
        "working_hours_are_valid",
        "staff_event_types_unique_keys",
        "working_hours_unique_keys",
    }
    assert event_types[0]["event_type_id"] in evaluations["event_types_have_hosts"].description
    assert "ghost-42" in evaluations["staff_event_types_resolve"].description
    assert "offending_rows" in evaluations["working_hours_are_valid"].metadata


def test_uuid_host_ids_become_staff_and_links(tenants_file, warehouse_env):
    from dagster import DagsterInstance

    from askpro_pipelines.sync import run_sync
    from askpro_pipelines.tenants import load_tenants
    from askpro_simulator.demo import simulator_for

    with simulator_for(load_tenants(), spec_overrides={"praxis-v2": {"uuid_host_ids": True}}):
        report = run_sync(load_tenants(), ["praxis-v2"], instance=DagsterInstance.ephemeral())
    assert report.success, report.tenants[0].errors
    wh = Warehouse.from_url(warehouse_env)
    uuid_links = [r for r in wh.read_slice("staff_event_types", "praxis-v2") if len(r["staff_id"]) == 36]
    assert uuid_links and all(r["role"] == "host" for r in uuid_links)
    staff_ids = {r["staff_id"] for r in wh.read_slice("staff", "praxis-v2", ["staff_id"])}
    assert {r["staff_id"] for r in uuid_links} <= staff_ids

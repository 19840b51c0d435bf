"""The `tenant_report` asset (run through the code location's `tenant_reports` job) and its Monday schedule."""

import datetime as dt
from pathlib import Path
from urllib.parse import urlparse

import pytest
from dagster import AssetKey, build_schedule_context, instance_for_test

from askpro_pipelines.assets.tenant_report import tenant_reports_weekly
from askpro_pipelines.definitions import defs
from askpro_pipelines.report.week import IsoWeek, tenant_week_key
from askpro_pipelines.resources.tenants import TenantsResource
from tests.report.week_rows import OTHER, TENANT, WEEK, WEEK_BOOKINGS, WEEK_CALLS


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("tenants", [TENANT, OTHER])
        yield instance


def test_materialization_writes_the_file_and_links_it(filled_sqlite, report_tenants_file, instance, tmp_path):
    folder = tmp_path / "reports"
    result = defs.resolve_job_def("tenant_reports").execute_in_process(
        instance=instance,
        partition_key=str(tenant_week_key(TENANT, WEEK)),
        run_config={"ops": {"tenant_report": {"config": {"folder": str(folder)}}}},
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("tenant_report")
    assert materialization.asset_key == AssetKey("tenant_report")
    assert materialization.partition == "praxis-report|2026-11-23"
    meta = materialization.metadata
    path = folder / TENANT / "2026-W48.html"
    assert meta["report"].value == str(path)
    assert Path(urlparse(meta["report_url"].value).path) == path and meta["report_url"].value.startswith("file:///")
    assert (meta["calls"].value, meta["bookings"].value, meta["quarantined"].value) == (WEEK_CALLS, WEEK_BOOKINGS, 12)
    assert meta["success_rate"].value == 0.5
    assert "2026-W48" in meta["week"].value
    assert "<b>44</b>inbound calls" in path.read_text(encoding="utf-8")


def _tick(when: dt.datetime, instance):
    with build_schedule_context(
        instance=instance, scheduled_execution_time=when, resources={"tenants": TenantsResource()}
    ) as context:
        return tenant_reports_weekly(context)


def test_schedule_runs_last_week_on_monday_morning_local(report_tenants_file, instance):
    # 05:20 UTC on Monday 2026-11-30 is 06:20 in Berlin: both tenants (Europe/Berlin) get 2026-W48.
    requests = _tick(dt.datetime(2026, 11, 30, 5, 20, tzinfo=dt.UTC), instance)
    assert sorted(r.partition_key for r in requests) == sorted(
        str(tenant_week_key(slug, IsoWeek(2026, 48))) for slug in (TENANT, OTHER)
    )
    assert {r.run_key for r in requests} == {f"report:{TENANT}:2026-W48", f"report:{OTHER}:2026-W48"}
    assert all(r.tags["askpro/tenant"] in (TENANT, OTHER) for r in requests)
    # Any other hour, or another day, requests nothing.
    for when in (dt.datetime(2026, 11, 30, 6, 20, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 5, 20, tzinfo=dt.UTC)):
        skipped = _tick(when, instance)
        assert not isinstance(skipped, list), when


def test_schedule_skips_tenants_without_a_partition(report_tenants_file):
    with instance_for_test() as empty:
        assert not isinstance(_tick(dt.datetime(2026, 11, 30, 5, 20, tzinfo=dt.UTC), empty), list)

"""Schedules request the right partitions, in each tenant's own calendar."""

import datetime as dt

import pytest
from dagster import DefaultScheduleStatus, build_schedule_context, instance_for_test

from askpro_pipelines.definitions import defs
from askpro_pipelines.partitions import tenant_day_key
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.schedules import (
    dimensions_hourly,
    facts_every_15_minutes,
    facts_nightly_reconciliation,
)


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("tenants", ["praxis-v2", "praxis-v1"])
        yield instance


def _evaluate(schedule, when: dt.datetime, instance):
    with build_schedule_context(
        instance=instance, scheduled_execution_time=when, resources={"tenants": TenantsResource()}
    ) as context:
        return schedule(context)


def test_schedules_run_by_default():
    assert {s.name for s in defs.schedules} == {
        "dimensions_hourly",
        "facts_every_15_minutes",
        "facts_nightly_reconciliation",
        "availability_every_30_minutes",
        "tenant_reports_weekly",
    }
    assert all(s.default_status == DefaultScheduleStatus.RUNNING for s in defs.schedules)


def test_dimensions_for_every_known_tenant(tenants_file, instance):
    requests = _evaluate(dimensions_hourly, dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC), instance)
    assert sorted(r.partition_key for r in requests) == ["praxis-v1", "praxis-v2"]


def test_facts_use_the_tenants_local_day(tenants_file, instance):
    # 23:30 UTC on the 24th is already the 25th in Berlin.
    requests = _evaluate(facts_every_15_minutes, dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC), instance)
    assert _facts_ranges(requests, "praxis-v2") == [("2026-11-24", "2026-11-25")]


def _facts_ranges(requests, slug: str) -> list[tuple[str, str]]:
    """(first day, last day) of each facts run of a tenant."""
    out = []
    for request in requests:
        if request.tags["askpro/tenant"] != slug:
            continue
        assert request.partition_key is None  # a range, not one partition
        first = request.tags["dagster/asset_partition_range_start"]
        last = request.tags["dagster/asset_partition_range_end"]
        assert first.endswith(f"|{slug}") and last.endswith(f"|{slug}")
        out.append((first.split("|")[0], last.split("|")[0]))
    return out


def test_a_facts_tick_is_one_run_per_tenant(tenants_file, instance):
    """Each run costs a process start and a code load: a tick of a fleet pays it once per tenant."""
    requests = _evaluate(facts_every_15_minutes, dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC), instance)
    assert sorted(r.tags["askpro/tenant"] for r in requests) == ["praxis-v1", "praxis-v2"]
    assert len({r.run_key for r in requests}) == 2
    assert _facts_ranges(requests, "praxis-v1") == [("2026-11-23", "2026-11-24")]


def test_nightly_reconciliation_at_three_local(tenants_file, instance):
    # 02:15 UTC in November is 03:15 in Berlin: every (Berlin) tenant reconciles the last 7 days.
    requests = _evaluate(facts_nightly_reconciliation, dt.datetime(2026, 11, 24, 2, 15, tzinfo=dt.UTC), instance)
    (request,) = [r for r in requests if r.tags["askpro/tenant"] == "praxis-v2"]
    assert request.tags["dagster/asset_partition_range_start"] == str(tenant_day_key("praxis-v2", "2026-11-17"))
    assert request.tags["dagster/asset_partition_range_end"] == str(tenant_day_key("praxis-v2", "2026-11-23"))
    quiet = _evaluate(facts_nightly_reconciliation, dt.datetime(2026, 11, 24, 10, 15, tzinfo=dt.UTC), instance)
    assert "no tenant is at 03" in quiet.skip_message


def test_schedules_never_request_days_before_the_history_start(tenants_file, instance, monkeypatch):
    # A history that starts on the 22nd: yesterday (the 24th) stays, the reconciliation starts on the 22nd.
    monkeypatch.setattr("askpro_pipelines.partitions.FACTS_START_DATE", "2026-11-22")
    requests = _evaluate(facts_nightly_reconciliation, dt.datetime(2026, 11, 24, 2, 15, tzinfo=dt.UTC), instance)
    (request,) = [r for r in requests if r.tags["askpro/tenant"] == "praxis-v2"]
    assert request.tags["dagster/asset_partition_range_start"] == str(tenant_day_key("praxis-v2", "2026-11-22"))
    monkeypatch.setattr("askpro_pipelines.partitions.FACTS_START_DATE", "2026-11-25")
    requests = _evaluate(facts_every_15_minutes, dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC), instance)
    assert _facts_ranges(requests, "praxis-v2") == [("2026-11-25", "2026-11-25")]
    quiet = _evaluate(facts_nightly_reconciliation, dt.datetime(2026, 11, 25, 2, 15, tzinfo=dt.UTC), instance)
    assert quiet.skip_message  # every day of the window is before the start: nothing to reconcile

"""Flushed request figures add up into api_health rows, per tenant, API and run, on both backends."""

import sqlalchemy as sa

from askpro_pipelines.assets.api_health import run_tenants
from askpro_pipelines.resources.request_stats import RequestStats, percentile_ms
from askpro_pipelines.warehouse.api_health import record_request_stats, stats_row, summarize
from askpro_pipelines.warehouse.tables import api_health, api_request_stats


def _stats(requests, answers_ms, remaining=None, limit=None, **counts):
    stats = RequestStats(requests=requests, **counts)
    for ms in answers_ms:
        stats.note_answer(1_764_000_000.0 + ms, ms / 1000.0)
    if remaining is not None:
        stats.note_headers({"x-ratelimit-remaining": str(remaining), "x-ratelimit-limit": str(limit)})
    return stats


def test_steps_of_a_run_add_up_and_other_tenants_wait_for_their_own_run(warehouse):
    first = _stats(3, [10.0, 20.0, 30.0], remaining=90, limit=120, server_errors=1, retries=1)
    second = _stats(2, [40.0, 50.0], remaining=70, limit=120, rate_limited=1, retries=1, budget_waits=2)
    record_request_stats(warehouse, [
        stats_row("run-a", "calcom_event_types", "a", "calcom", first),
        stats_row("run-a", "calcom_bookings", "a", "calcom", second),
        stats_row("run-old", "staff", "a", "calcom", _stats(1, [5.0], client_errors=1, breaker_opens=1)),
        stats_row("run-b", "staff", "b", "calcom", _stats(4, [1.0] * 4)),
    ])  # fmt: skip

    rows = summarize(warehouse, "run-a", {"a"})

    by_run = {r["run_id"]: r for r in rows}
    assert set(by_run) == {"run-a", "run-old"}  # b's run is b's api_health step's to sum
    a = by_run["run-a"]
    assert (a["requests"], a["errors_5xx"], a["rate_limited"], a["retries"], a["budget_waits"]) == (5, 1, 1, 2, 2)
    assert (a["min_rate_limit_remaining"], a["rate_limit"]) == (70, 120)
    merged = dict(first.latency)
    for bucket, count in second.latency.items():
        merged[bucket] = merged.get(bucket, 0) + count
    assert a["latency_p50_ms"] == percentile_ms(merged, 0.5)
    assert abs(a["latency_p50_ms"] - 30.0) <= 0.6 and abs(a["latency_p95_ms"] - 50.0) <= 1.0
    assert a["started_at"] < a["finished_at"]
    assert (by_run["run-old"]["errors_4xx"], by_run["run-old"]["breaker_opens"]) == (1, 1)

    with warehouse.engine.connect() as conn:
        stored = conn.execute(sa.select(api_health.c.run_id, api_health.c.requests)).all()
        pending = conn.execute(sa.select(api_request_stats.c.run_id).where(api_request_stats.c.summarized.is_(False)))
        assert sorted(stored) == [("run-a", 5), ("run-old", 1)]
        assert [r.run_id for r in pending] == ["run-b"]

    # a late flush of run-a (a step after api_health) rewrites its row, never a second one
    record_request_stats(warehouse, [stats_row("run-a", "dimension_history", "a", "calcom", _stats(1, [60.0]))])
    assert [r["requests"] for r in summarize(warehouse, "run-a", {"a"})] == [6]
    with warehouse.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(api_health)).scalar() == 2


def test_the_runs_tenants_come_from_its_partition_tags():
    assert run_tenants({"dagster/partition": "praxis-am-stadtpark"}) == {"praxis-am-stadtpark"}
    assert run_tenants({"dagster/partition": "2026-11-18|praxis-am-stadtpark"}) == {"praxis-am-stadtpark"}
    range_tags = {
        "dagster/asset_partition_range_start": "2026-11-12|salon-schoenhaar",
        "dagster/asset_partition_range_end": "2026-11-18|salon-schoenhaar",
    }
    assert run_tenants(range_tags) == {"salon-schoenhaar"}
    assert run_tenants({}) is None

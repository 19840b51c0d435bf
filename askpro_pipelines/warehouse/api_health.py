"""Request figures into the warehouse: raw rows per flush (`api_request_stats`), summed per tenant,
API and run into `api_health`.

`summarize` takes every run with rows not yet summed (the current run, and runs whose api_health
step never ran because an API step failed before it) and rewrites those runs' api_health rows from
all of their raw rows, so a run's figures are complete whichever step flushed them.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.resources.request_stats import RequestStats, percentile_ms
from askpro_pipelines.warehouse.store import Warehouse
from askpro_pipelines.warehouse.tables import api_health, api_request_stats

SUMMED = (
    "requests",
    "errors_4xx",
    "errors_5xx",
    "errors_network",
    "rate_limited",
    "retries",
    "breaker_opens",
    "budget_waits",
)


def _utc(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


def stats_row(run_id: str, step_key: str, tenant: str, api: str, stats: RequestStats) -> dict[str, Any]:
    """One `api_request_stats` row from a client's counters."""
    return {
        "run_id": run_id,
        "tenant": tenant,
        "api": api,
        "step_key": step_key,
        "recorded_at": dt.datetime.now(dt.UTC),
        "first_request_at": _utc(stats.first_at),
        "last_answer_at": _utc(stats.last_at),
        "requests": stats.requests,
        "errors_4xx": stats.client_errors,
        "errors_5xx": stats.server_errors,
        "errors_network": stats.transport_errors,
        "rate_limited": stats.rate_limited,
        "retries": stats.retries,
        "breaker_opens": stats.breaker_opens,
        "budget_waits": stats.budget_waits,
        "latency_histogram": {str(k): v for k, v in sorted(stats.latency.items())},
        "min_rate_limit_remaining": stats.min_remaining,
        "rate_limit": stats.rate_limit,
        "summarized": False,
    }


def record_request_stats(warehouse: Warehouse, rows: Iterable[dict[str, Any]]) -> int:
    """Append flushed figures; returns the rows written."""
    batch = list(rows)
    if batch:
        with warehouse.engine.begin() as conn:
            conn.execute(api_request_stats.insert(), batch)
    return len(batch)


def _health_row(key: tuple[str, str, str], raws: Sequence[Any]) -> dict[str, Any]:
    run_id, tenant, api = key
    histogram: dict[int, int] = {}
    for raw in raws:
        for bucket, count in (raw.latency_histogram or {}).items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + int(count)
    lowest = min((r for r in raws if r.min_rate_limit_remaining is not None),
                 key=lambda r: r.min_rate_limit_remaining, default=None)  # fmt: skip
    firsts = [r.first_request_at or r.recorded_at for r in raws]
    lasts = [r.last_answer_at or r.recorded_at for r in raws]
    return {
        "tenant": tenant,
        "api": api,
        "run_id": run_id,
        "started_at": min(firsts),
        "finished_at": max(lasts),
        **{name: sum(getattr(r, name) for r in raws) for name in SUMMED},
        "latency_p50_ms": percentile_ms(histogram, 0.50),
        "latency_p95_ms": percentile_ms(histogram, 0.95),
        "min_rate_limit_remaining": None if lowest is None else lowest.min_rate_limit_remaining,
        "rate_limit": None if lowest is None else lowest.rate_limit,
    }


def summarize(warehouse: Warehouse, run_id: str, tenants: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """(Re)write the api_health rows of the run `run_id` and of every run of `tenants` (None: of
    any tenant) with figures not yet summed; returns those rows, ordered by tenant, API and start.

    Limited to the run's tenants because a tenant has one run at a time (the instance's tenant
    concurrency), so two api_health steps never sum the same run at once."""
    raw_table = api_request_stats
    which_runs = raw_table.c.run_id == run_id
    if tenants is None:
        which_runs = sa.true()
    else:
        which_runs = which_runs | raw_table.c.tenant.in_(sorted(set(tenants)))
    with warehouse.engine.begin() as conn:
        pending = conn.execute(
            sa.select(raw_table.c.run_id, raw_table.c.tenant, raw_table.c.api)
            .where(raw_table.c.summarized.is_(False) & which_runs)
            .distinct()
        ).all()
        rows = []
        for run_id, tenant, api in pending:
            which = (raw_table.c.run_id == run_id) & (raw_table.c.tenant == tenant) & (raw_table.c.api == api)
            raws = conn.execute(sa.select(raw_table).where(which)).all()
            rows.append(_health_row((run_id, tenant, api), raws))
            conn.execute(
                api_health.delete().where(
                    (api_health.c.run_id == run_id) & (api_health.c.tenant == tenant) & (api_health.c.api == api)
                )
            )
            conn.execute(raw_table.update().where(which).values(summarized=True))
        if rows:
            conn.execute(api_health.insert(), rows)
    return sorted(rows, key=lambda r: (r["tenant"], r["api"], r["started_at"]))

"""`api_health`: per tenant, API and run, what the run's requests met (errors, 429s, latency,
rate-limit headroom), and the `api_key_headroom` check that warns when a Cal.com key ran close to
its limit or a breaker opened.

Unpartitioned, so the one asset sits in both sync jobs (dimensions by tenant, facts by tenant and
day), after their API assets. The figures are flushed to `api_request_stats` after every step by a
hook on those jobs (a failed step's too) and summed here; a run whose API step failed never reaches
this step, so its figures are summed by the next run's (rows for earlier runs included).
"""

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    HookContext,
    MaterializeResult,
    MetadataValue,
    asset,
    failure_hook,
    success_hook,
)

from askpro_pipelines.assets.calcom import calcom_assets
from askpro_pipelines.assets.retell import retell_assets
from askpro_pipelines.resources.api_base import ApiResource
from askpro_pipelines.resources.calcom import CalcomResource
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.api_health import record_request_stats, stats_row, summarize

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
HEADROOM_SHARE = 0.1  # warn when a Cal.com key's lowest remaining fell below 10 % of its limit
CHECK = "api_key_headroom"


def flush_request_stats(run_id: str, step_key: str, warehouse: WarehouseResource, *apis: ApiResource) -> int:
    """Write what the API resources counted since their last flush; returns the rows written."""
    rows = [
        stats_row(run_id, step_key, tenant, api, stats)
        for resource in apis
        for (tenant, api), stats in resource.take_request_stats().items()
    ]
    return record_request_stats(warehouse.warehouse, rows) if rows else 0


def _flush_after_step(context: HookContext) -> None:
    resources = context.resources
    flush_request_stats(context.run_id, context.step_key or "-", resources.warehouse, resources.calcom,
                        resources.retell)  # fmt: skip


@success_hook(required_resource_keys={"calcom", "retell", "warehouse"})
def api_stats_after_success(context: HookContext) -> None:
    """After each successful step of a sync job: its request figures into the warehouse."""
    _flush_after_step(context)


@failure_hook(required_resource_keys={"calcom", "retell", "warehouse"})
def api_stats_after_failure(context: HookContext) -> None:
    """After a failed step too: the 429s and breaker opens that failed it are what ops look for."""
    _flush_after_step(context)


API_STATS_HOOKS = {api_stats_after_success, api_stats_after_failure}


def run_tenants(tags: Mapping[str, str]) -> set[str] | None:
    """The tenants a run is for, from its partition tags (a fact key reads `<day>|<tenant>`: Dagster
    orders the dimension names); None when it has none (then every tenant's pending figures)."""
    keys = [tags.get(name) for name in (PARTITION_TAG, RANGE_START_TAG, RANGE_END_TAG)]
    slugs = {key.split("|")[-1] for key in keys if key}
    return slugs or None


def headroom_problems(rows: list[dict[str, Any]], share: float = HEADROOM_SHARE) -> list[str]:
    """One line per row whose Cal.com key came within `share` of its limit, or whose breaker opened."""
    problems = []
    for row in rows:
        where = f"tenant {row['tenant']}, api {row['api']}, run {row['run_id']}"
        remaining, limit = row["min_rate_limit_remaining"], row["rate_limit"]
        if row["api"] == "calcom" and remaining is not None and limit and remaining < share * limit:
            problems.append(f"{where}: rate limit remaining fell to {remaining} of {limit}")
        if row["breaker_opens"]:
            problems.append(f"{where}: circuit breaker opened {row['breaker_opens']} time(s)")
    return problems


def _plotted(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Numeric metadata per tenant and API of this materialization, for the asset's Plots tab."""
    metadata: dict[str, Any] = {"runs_summarized": MetadataValue.int(len({r["run_id"] for r in rows}))}
    for row in rows:
        prefix = f"{row['tenant']}/{row['api']}"
        metadata[f"{prefix}/requests"] = MetadataValue.int(row["requests"])
        metadata[f"{prefix}/errors"] = MetadataValue.int(row["errors_4xx"] + row["errors_5xx"] + row["errors_network"])
        metadata[f"{prefix}/rate_limited"] = MetadataValue.int(row["rate_limited"])
        metadata[f"{prefix}/budget_waits"] = MetadataValue.int(row["budget_waits"])
        if row["latency_p95_ms"] is not None:
            metadata[f"{prefix}/latency_p95_ms"] = MetadataValue.float(row["latency_p95_ms"])
        if row["min_rate_limit_remaining"] is not None:
            metadata[f"{prefix}/min_rate_limit_remaining"] = MetadataValue.int(row["min_rate_limit_remaining"])
    return metadata


@asset(
    group_name="askpro",
    kinds={"sql"},
    deps=[*calcom_assets, *retell_assets],
    check_specs=[
        AssetCheckSpec(
            CHECK,
            asset="api_health",
            description="Warns when a tenant's Cal.com key came within 10 % of its rate limit, or a circuit "
            "breaker opened, in a run; names tenant, API and run id.",
        )
    ],
    description="Per tenant, API and run: requests, errors by class, 429s, retries, breaker opens, budget waits, "
    "latency p50/p95 and the lowest rate-limit remaining. Runs in every sync run after the API assets.",
)
def api_health(
    context: AssetExecutionContext, calcom: CalcomResource, retell: RetellResource, warehouse: WarehouseResource
) -> MaterializeResult:  # type: ignore[type-arg]
    flush_request_stats(context.run.run_id, "api_health", warehouse,
                        calcom, retell)  # fmt: skip
    rows = summarize(warehouse.warehouse, context.run.run_id, run_tenants(context.run.tags))
    problems = headroom_problems(rows)
    for line in problems:
        context.log.warning(f"{CHECK}: {line}")
    return MaterializeResult(
        metadata={"dagster/row_count": MetadataValue.int(len(rows)), **_plotted(rows)},
        check_results=[
            AssetCheckResult(
                check_name=CHECK,
                passed=not problems,
                severity=AssetCheckSeverity.WARN,
                description="; ".join(problems[:10]) if problems else "every key kept its headroom; no breaker opened",
                metadata={"problems": MetadataValue.int(len(problems))},
            )
        ],
    )

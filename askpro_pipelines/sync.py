"""A full sync through Dagster, one run per tenant, and the report the CLI prints.

One run per tenant keeps failures apart: a tenant whose API is down shows red alone, and can
be re-run alone, while the others land.
"""

import datetime as dt
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    JobDefinition,
)

from askpro_pipelines.deployment import mode_tags, simulator_url
from askpro_pipelines.instance import open_instance
from askpro_pipelines.partitions import (
    TENANTS,
    newest_day,
    tenant_day_key,
    tenant_day_partitions,
    tenant_partitions,
)
from askpro_pipelines.tenants import (
    Tenant,
    TenantsConfig,
)
from askpro_pipelines.warehouse import resolve_warehouse_url
from askpro_pipelines.warehouse.migrate import ensure_schema_at

FACT_ASSETS = [
    "calcom_bookings",
    "retell_calls",
    "retell_call_transcripts",
    "booking_outcomes",
    "call_analysis",
    "booking_success",
]
DIMENSIONS_JOB = "sync_dimensions"
FACTS_JOB = "sync_facts"
# The module path before an exception's class name in an error's first line, left out of the summary.
_MODULE_PATH = re.compile(r"^(?:[a-z_]\w*\.)+(?=[A-Z]\w*:)")


@dataclass
class TableResult:
    """What one table of one tenant did in the run."""

    table: str
    rows: int
    inserted: int
    updated: int
    deleted: int


@dataclass
class RunResult:
    """One Dagster run of a tenant (its dimensions, or its facts' days): what to look up in the UI."""

    job: str
    run_id: str
    success: bool
    seconds: float
    checks_run: int
    checks_failed: int


@dataclass
class TenantResult:
    """One tenant's runs: tables written, checks, and the failure if any."""

    tenant: str
    success: bool
    seconds: float
    tables: list[TableResult] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    checks_run: int = 0
    errors: list[str] = field(default_factory=list)
    runs: list[RunResult] = field(default_factory=list)
    warned_checks: list[str] = field(default_factory=list)  # checks that warn (WARN severity): not a failure
    notes: list[str] = field(default_factory=list)  # warnings and facts-after-failure, printed as NOTE

    @property
    def run_id(self) -> str:
        """The tenant's run ids, space-separated (one run per job)."""
        return " ".join(run.run_id for run in self.runs)


@dataclass
class SyncReport:
    """The whole sync: one result per tenant."""

    tenants: list[TenantResult]
    simulator_url: str | None = None

    @property
    def success(self) -> bool:
        return all(t.success and not t.failed_checks for t in self.tenants)


def _int(metadata: Mapping[str, Any], key: str) -> int:
    value = metadata.get(key)
    return int(getattr(value, "value", value) or 0)


def _tenant_result(slug: str, job: str, result: ExecuteInProcessResult, seconds: float) -> TenantResult:
    tables = []
    seen: set[str] = set()
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        name = materialization.asset_key.to_user_string()
        if name in seen:  # a range run records one event per partition, each with the run's totals
            continue
        seen.add(name)
        md = materialization.metadata
        tables.append(
            TableResult(
                table=name,
                rows=_int(md, "dagster/row_count"),
                inserted=_int(md, "inserted"),
                updated=_int(md, "updated"),
                deleted=_int(md, "deleted"),
            )
        )
    evaluations = result.get_asset_check_evaluations()
    # A warning (e.g. a quarantined record) shows in the summary but does not fail the sync.
    warned = [e for e in evaluations if not e.passed and e.severity == AssetCheckSeverity.WARN]
    failed_checks = [e.check_name for e in evaluations if not e.passed and e not in warned]
    errors = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            cause = event.step_failure_data.error
            if cause is None:
                errors.append(f"{event.step_key}: failed without an error")
                continue
            while cause.cause is not None and cause.cls_name in {
                "DagsterExecutionStepExecutionError",
                "DagsterUserCodeExecutionError",
            }:
                cause = cause.cause
            first_line = (cause.message or "").strip().splitlines()[0] if cause.message else (cause.cls_name or "")
            # "askpro_pipelines.resources.http.ApiError: [tenant=…] …" -> "ApiError: [tenant=…] …"
            errors.append(f"{event.step_key}: {_MODULE_PATH.sub('', first_line)}")
    if not result.success and not errors:  # the run failed outside any step (e.g. a bad partition)
        failure = next((e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE), None)
        message = (failure.message or "").strip() if failure is not None else ""
        errors.append(f"{job}: {message.splitlines()[0] if message else 'the run failed'}")
    return TenantResult(
        tenant=slug,
        success=result.success,
        seconds=seconds,
        tables=tables,
        failed_checks=failed_checks,
        checks_run=len(evaluations),
        errors=errors,
        runs=[RunResult(job, result.run_id, result.success, seconds, len(evaluations), len(failed_checks))],
        warned_checks=[e.check_name for e in warned],
        notes=[f"check {e.check_name} warns: {e.description}" for e in warned],
    )


def tenant_today(tenant: Tenant, now: dt.datetime | None = None) -> dt.date:
    """The tenant's local calendar day now: the newest day a sync or backfill may ask for."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(tenant.timezone)).date()


def history_start() -> dt.date:
    """The first day the fact partitions offer; earlier days cannot be synced."""
    for dimension in tenant_day_partitions.partitions_defs:
        start = getattr(dimension.partitions_def, "start", None)
        if start is not None:
            day: dt.date = start.date()
            return day
    raise RuntimeError("the fact partitions have no time dimension")


def fact_days(tenant: Tenant, days: int, until: dt.date | None = None) -> list[dt.date]:
    """The last `days` tenant-local days up to `until` (default: the tenant's today, capped at the last partition)."""
    now = dt.datetime.now(dt.UTC)
    end = until or min(tenant_today(tenant, now), newest_day(now))
    return [end - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


HEALTH_ASSET = "api_health"


class SelectionError(ValueError):
    """--select names an asset that does not exist."""


def split_selection(select: Sequence[str] | None) -> dict[str, list[AssetKey]]:
    """The chosen assets (default: all) by the job that runs them: dimensions or facts."""
    from askpro_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    # What a sync can run: the tenant and tenant × day assets (and api_health); the weekly report has
    # its own job and partitions (`askpro report`).
    synced = (tenant_partitions, tenant_day_partitions, None)
    known = {
        key.to_user_string(): key
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable and graph.get(key).partitions_def in synced
    }
    chosen = list(known) if not select else list(dict.fromkeys(select))
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise SelectionError(f"unknown asset(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    by_job: dict[str, list[AssetKey]] = {DIMENSIONS_JOB: [], FACTS_JOB: []}
    for name in chosen:
        if name == HEALTH_ASSET:  # in both jobs: placed below, after what else was chosen
            continue
        is_fact = graph.get(known[name]).partitions_def == tenant_day_partitions
        by_job[FACTS_JOB if is_fact else DIMENSIONS_JOB].append(known[name])
    if HEALTH_ASSET in chosen:  # sums the requests of each run it joins (assets/api_health.py)
        for job in [job for job, keys in by_job.items() if keys] or [DIMENSIONS_JOB]:
            by_job[job].append(known[HEALTH_ASSET])
    return by_job


def _execute(
    job: JobDefinition,
    instance: DagsterInstance,
    run_config: Mapping[str, Any] | None,
    tags: Mapping[str, str],
    asset_selection: Sequence[AssetKey],
    partition_key: str | None = None,
    range_tags: Mapping[str, str] | None = None,
) -> ExecuteInProcessResult:
    return job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        asset_selection=asset_selection,
        run_config=run_config,
        tags={**tags, **(range_tags or {})},
        raise_on_error=False,
    )


def run_sync(
    config: TenantsConfig,
    tenant_slugs: Sequence[str] | None = None,
    select: Sequence[str] | None = None,
    instance: DagsterInstance | None = None,
    run_config: dict[str, Any] | None = None,
    log_level: str = "WARNING",
    days: int = 1,
    until: dt.date | None = None,
) -> SyncReport:
    """Materialize the selection for each chosen tenant: its dimensions in one run, then its facts
    for the last `days` days (up to `until`) in one single-run range.

    Without `instance`, the runs are recorded in the shared local instance (`askpro_pipelines.instance`),
    so the Dagster UI shows them."""
    slugs = list(tenant_slugs) if tenant_slugs else config.slugs
    for slug in slugs:
        config.get(slug)  # unknown tenants fail before any run starts
    by_job = split_selection(select)
    if instance is None:
        with open_instance() as local:
            return _run_tenants(config, slugs, by_job, local, run_config, log_level, days, until)
    return _run_tenants(config, slugs, by_job, instance, run_config, log_level, days, until)


def _run_tenants(
    config: TenantsConfig,
    slugs: Sequence[str],
    by_job: Mapping[str, list[AssetKey]],
    instance: DagsterInstance,
    run_config: Mapping[str, Any] | None,
    log_level: str,
    days: int,
    until: dt.date | None,
) -> SyncReport:
    from askpro_pipelines.definitions import defs

    run_config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}}
    # A behind PostgreSQL warehouse stops here with one instruction, not once per step of every run.
    warehouse_config = run_config.get("resources", {}).get("warehouse", {}).get("config", {})
    ensure_schema_at(resolve_warehouse_url(warehouse_config.get("url")))
    existing = set(instance.get_dynamic_partitions(TENANTS))
    missing = [s for s in slugs if s not in existing]
    if missing:
        instance.add_dynamic_partitions(TENANTS, missing)

    results: list[TenantResult] = []
    for slug in slugs:
        tenant = config.get(slug)
        tags = {"askpro/tenant": slug, "askpro/trigger": "cli", **mode_tags()}
        outcome: TenantResult | None = None
        if by_job[DIMENSIONS_JOB]:
            started = time.perf_counter()
            result = _execute(
                defs.resolve_job_def(DIMENSIONS_JOB), instance, run_config, tags, by_job[DIMENSIONS_JOB], slug
            )
            outcome = _tenant_result(slug, DIMENSIONS_JOB, result, time.perf_counter() - started)
        # Facts run even when a dimension failed: a bad event type must not cost the day's calls.
        if by_job[FACTS_JOB]:
            if outcome is not None and not outcome.success:
                outcome.notes.append("facts ran although dimensions failed")
            window = fact_days(tenant, days, until)
            started = time.perf_counter()
            facts = _execute(
                defs.resolve_job_def(FACTS_JOB),
                instance,
                run_config,
                tags,
                by_job[FACTS_JOB],
                **range_arguments(slug, window[0], window[-1]),
            )
            outcome = _merge(outcome, _tenant_result(slug, FACTS_JOB, facts, time.perf_counter() - started))
        assert outcome is not None  # a selection names dimensions, facts or both
        results.append(outcome)
    return SyncReport(tenants=results, simulator_url=simulator_url())


def range_arguments(slug: str, first: dt.date, last: dt.date) -> dict[str, Any]:
    """execute_in_process arguments for one tenant's days first..last: a key, or a single-run range."""
    if first == last:
        return {"partition_key": tenant_day_key(slug, first)}
    return {
        "range_tags": {
            "dagster/asset_partition_range_start": str(tenant_day_key(slug, first)),
            "dagster/asset_partition_range_end": str(tenant_day_key(slug, last)),
        }
    }


def _merge(first: TenantResult | None, second: TenantResult) -> TenantResult:
    if first is None:
        return second
    return TenantResult(
        tenant=first.tenant,
        success=first.success and second.success,
        seconds=first.seconds + second.seconds,
        tables=first.tables + second.tables,
        failed_checks=first.failed_checks + second.failed_checks,
        checks_run=first.checks_run + second.checks_run,
        errors=first.errors + second.errors,
        runs=first.runs + second.runs,
        warned_checks=first.warned_checks + second.warned_checks,
        notes=first.notes + second.notes,
    )

"""The checks on the mirror tables, per tenant (and day, for facts), run as one step per table.

Each check is a spec and a function that evaluates it (`TableCheck`); `one_step_per_table` puts the
checks of a table into one `multi_asset_check`. One step per check cost a dimensions run 22 steps of
its 36, each ~27 ms of the run's CPU in Dagster's step machinery and 5 events written to the instance
(benchmarks/RESULTS.md, issue 15). A check that raises fails its table's step after the other checks
of the table have reported, so nothing is hidden and no other check is lost.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)

from askpro_pipelines.checks import (
    assignment_problems,
    check_result,
    dangling_links,
    event_types_without_hosts,
    invalid_working_hours,
    numbers_on_several_branches,
)
from askpro_pipelines.drift import describe
from askpro_pipelines.partitions import fact_partitions, tenant_day_partitions, tenant_partitions
from askpro_pipelines.redaction import redact_text
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.quarantine import ENTITIES_BY_TABLE
from askpro_pipelines.warehouse.quarantine import listed as quarantined
from askpro_pipelines.warehouse.shapes import read_shapes
from askpro_pipelines.warehouse.tables import CONTRACTS

Evaluate = Callable[[AssetCheckExecutionContext, WarehouseResource, TenantsResource], AssetCheckResult]


@dataclass(frozen=True)
class TableCheck:
    """One check on a table: its spec, and how to evaluate it for the run's partition (or range)."""

    spec: AssetCheckSpec
    evaluate: Evaluate


def tenant_check(asset: str, name: str, evaluate: Evaluate, description: str, **extra: Any) -> TableCheck:
    """A check on a dimension table, one tenant partition at a time."""
    spec = AssetCheckSpec(name, asset=asset, partitions_def=tenant_partitions, description=description, **extra)
    return TableCheck(spec, evaluate)


# ---- Cal.com -------------------------------------------------------------------------------------


def _event_types_have_hosts(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    rows = warehouse.warehouse.read_slice("calcom_event_types", tenant, ["event_type_id", "title", "hosts"])
    return check_result(tenant, "event types without a host", event_types_without_hosts(rows), len(rows))


def _staff_event_types_resolve(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    wh = warehouse.warehouse
    links = wh.read_slice("staff_event_types", tenant, ["staff_id", "event_type_id"])
    staff_ids = {r["staff_id"] for r in wh.read_slice("staff", tenant, ["staff_id"])}
    event_type_ids = {r["event_type_id"] for r in wh.read_slice("calcom_event_types", tenant, ["event_type_id"])}
    return check_result(tenant, "dangling links", dangling_links(links, staff_ids, event_type_ids), len(links))


def _working_hours_are_valid(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    rows = warehouse.warehouse.read_slice(
        "working_hours", tenant, ["staff_id", "schedule_id", "weekday", "start_time", "end_time"]
    )
    return check_result(tenant, "invalid working-hour intervals", invalid_working_hours(rows), len(rows))


CALCOM_RULES = [
    tenant_check("calcom_event_types", "event_types_have_hosts", _event_types_have_hosts,
                 "Every event type has at least one owner, host or user who can be booked."),
    tenant_check("staff_event_types", "staff_event_types_resolve", _staff_event_types_resolve,
                 "Every staff ↔ event type link points at a synced staff member and event type.",
                 additional_deps=["staff", "calcom_event_types"]),
    tenant_check("working_hours", "working_hours_are_valid", _working_hours_are_valid,
                 "Working-hour intervals end after they start and do not overlap within a day."),
]  # fmt: skip


# ---- phone assignments ---------------------------------------------------------------------------

ASSIGNMENT_CHECKS = {
    "phone_numbers_have_agent": ("no agent", "Every number is bound to a Retell agent."),
    "agent_versions_are_published": (
        "agent version not published",
        "The agent version a number reaches is published (a draft answering calls is a mistake).",
    ),
    "phone_numbers_mapped_to_branch": ("no branch", "Every Retell number belongs to a branch in the tenants file."),
    "branch_event_types_exist": ("event type missing in Cal.com", "Each branch's event type exists in Cal.com."),
}
ASSIGNMENT_COLUMNS = [
    "phone_number",
    "agent_id",
    "agent_version",
    "agent_version_published",
    "branch_id",
    "event_type_id",
    "event_type_title",
]


def assignment_check(name: str) -> TableCheck:
    """One broken-link check on phone_assignments."""
    problem, description = ASSIGNMENT_CHECKS[name]

    def evaluate(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
    ) -> AssetCheckResult:
        tenant = tenants.get(context.partition_key).slug
        rows = warehouse.warehouse.read_slice("phone_assignments", tenant, ASSIGNMENT_COLUMNS)
        return check_result(tenant, f"numbers with {problem}", assignment_problems(rows, problem), len(rows))

    return tenant_check("phone_assignments", name, evaluate, description)


def _phone_numbers_on_one_branch(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    wh = warehouse.warehouse
    own = {r["phone_number"] for r in wh.read_slice("phone_assignments", tenant, ["phone_number"])}
    rows = [
        r for r in wh.read_all("phone_assignments", ["tenant", "phone_number", "branch_id"]) if r["phone_number"] in own
    ]
    return check_result(tenant, "numbers on several branches", numbers_on_several_branches(rows), len(own))


ASSIGNMENT_RULES = [
    *[assignment_check(name) for name in ASSIGNMENT_CHECKS],
    tenant_check("phone_assignments", "phone_numbers_on_one_branch", _phone_numbers_on_one_branch,
                 "No number is mapped to two branches (in this tenant or across tenants)."),
]  # fmt: skip


# ---- every mirror table: unique keys, quarantined records, response drift -----------------------


def unique_key_check(table: str) -> TableCheck:
    """`<table>_unique_keys`: the natural key occurs once per tenant (and day, for facts)."""
    contract = CONTRACTS[table]
    key = contract.row_key

    def evaluate(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
    ) -> AssetCheckResult:
        if contract.by_day:  # one key, or every day of a single-run range
            pairs = fact_partitions(context.partition_keys)
            days_by_tenant: dict[str, list[Any]] = defaultdict(list[Any])
            for slug, day in pairs:
                days_by_tenant[tenants.get(slug).slug].append(day)
            rows, problems = 0, []
            for tenant, days in days_by_tenant.items():
                found, duplicates = warehouse.warehouse.duplicate_keys(table, tenant, days=days)
                rows += found
                problems += [{**p, "day": str(p["day"])} for p in duplicates]
            days = sorted({str(day) for _, day in pairs})
            label = f"{pairs[0][0]} {days[0]}" + (f"…{days[-1]}" if len(days) > 1 else "")
            return check_result(label, "duplicate keys", problems, rows)
        tenant = tenants.get(context.partition_key).slug
        rows, problems = warehouse.warehouse.duplicate_keys(table, tenant)
        return check_result(tenant, "duplicate keys", problems, rows)

    spec = AssetCheckSpec(
        f"{table}_unique_keys",
        asset=AssetKey(table),
        partitions_def=tenant_day_partitions if contract.by_day else tenant_partitions,
        description=f"No duplicate ({', '.join(key)}) within a tenant{' and day' if contract.by_day else ''}.",
    )
    return TableCheck(spec, evaluate)


def quarantine_check(table: str) -> TableCheck:
    """`<table>_no_quarantined_records`: warns (does not fail) while records feeding the table are quarantined."""
    entities = ENTITIES_BY_TABLE[table]
    by_day = CONTRACTS[table].by_day

    def evaluate(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
    ) -> AssetCheckResult:
        if by_day:
            pairs = fact_partitions(context.partition_keys)
            tenant = tenants.get(pairs[0][0]).slug
            scopes = sorted({str(day) for _, day in pairs})
        else:
            tenant, scopes = tenants.get(context.partition_key).slug, [""]
        found = quarantined(warehouse.warehouse, tenant, entities, scopes)
        problems = [
            {"entity": r["entity"], "record_id": r["record_id"], "day": r["scope"] or "-", "error": r["error"][:200]}
            for r in found
        ]
        return check_result(tenant, "quarantined records", problems, len(found), severity=AssetCheckSeverity.WARN)

    spec = AssetCheckSpec(
        f"{table}_no_quarantined_records",
        asset=AssetKey(table),
        partitions_def=tenant_day_partitions if by_day else tenant_partitions,
        description=f"No {' or '.join(entities)} record is quarantined (malformed at the source); warns when one is, "
        "while the rest of the table lands. `askpro quarantine list` shows them.",
    )
    return TableCheck(spec, evaluate)


# Assets whose sync notes the response shapes it read (askpro_pipelines/drift.py), with their partitions.
DRIFT_CHECKED = {
    "calcom_event_types": tenant_partitions,
    "staff": tenant_partitions,
    "working_hours": tenant_partitions,
    "retell_agents": tenant_partitions,
    "retell_phone_numbers": tenant_partitions,
    "retell_calls": tenant_day_partitions,
    "calcom_bookings": tenant_day_partitions,
}
DRIFT_COLUMNS = ["api", "endpoint", "kind", "field", "value", "records", "example_record_id"]


def drift_result(tenants: list[str], shapes: list[dict[str, Any]]) -> AssetCheckResult:
    """Pass, or warn naming each endpoint, field (or value) and an example record the models do not know."""
    drift = [{c: row[c] for c in DRIFT_COLUMNS} for row in shapes if not row["known"]]
    return check_result(
        ", ".join(tenants),
        "response drift(s) the models do not know",
        drift,
        len(shapes),
        severity=AssetCheckSeverity.WARN,
        describe_problem=describe,
        separator="; ",
    )


def drift_check(asset: str) -> TableCheck:
    """`api_responses_match_models` on one syncing asset: warns on keys or enum values the models
    do not know, and on expected keys a response lacked (new fields stay in raw payloads meanwhile)."""
    partitions_def = DRIFT_CHECKED[asset]

    def evaluate(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
    ) -> AssetCheckResult:
        if partitions_def == tenant_day_partitions:
            slugs = sorted({slug for slug, _ in fact_partitions(context.partition_keys)})
        else:
            slugs = [context.partition_key]
        names = [tenants.get(slug).slug for slug in slugs]
        shapes = [row for name in names for row in read_shapes(warehouse.warehouse, name, asset)]
        return drift_result(names, shapes)

    spec = AssetCheckSpec(
        "api_responses_match_models",
        asset=asset,
        partitions_def=partitions_def,
        description="The API responses this asset read carry only keys and enum values the models know.",
    )
    return TableCheck(spec, evaluate)


calcom_checks = [
    *CALCOM_RULES,
    *[unique_key_check(table) for table in CONTRACTS],
    *[quarantine_check(table) for table in ENTITIES_BY_TABLE],
]
askpro_checks = ASSIGNMENT_RULES
TABLE_CHECKS: list[TableCheck] = [*calcom_checks, *askpro_checks, *[drift_check(asset) for asset in DRIFT_CHECKED]]


# ---- one step per table --------------------------------------------------------------------------


def table_step(asset_key: AssetKey, checks: Sequence[TableCheck]) -> AssetChecksDefinition:
    """The checks of one table as one step; a run (or the UI) may select any subset of them."""

    @multi_asset_check(
        name=f"{asset_key.to_python_identifier()}_checks",
        specs=[check.spec for check in checks],
        can_subset=True,
        description=f"The checks on {asset_key.to_user_string()}, evaluated in one step.",
    )
    def _checks(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
    ) -> Iterator[AssetCheckResult]:
        failed: Exception | None = None
        for check in checks:
            if check.spec.key not in context.selected_asset_check_keys:
                continue
            try:
                result = check.evaluate(context, warehouse, tenants)
            except Exception as exc:  # noqa: BLE001 - the table's other checks still report; re-raised below
                where = f"tenant {context.partition_key if context.has_partition_key else '-'}"
                context.log.error(f"{where}: check {check.spec.name} on {asset_key.to_user_string()} raised: "
                                  f"{redact_text(repr(exc))}")  # fmt: skip
                failed = failed or exc
                continue
            # a step of several checks names each result's asset and check
            yield result._replace(asset_key=asset_key, check_name=check.spec.name)
        if failed is not None:
            raise failed

    return _checks


def one_step_per_table(checks: Sequence[TableCheck]) -> list[AssetChecksDefinition]:
    """Group the checks by the table they check, keeping their order."""
    by_table: dict[AssetKey, list[TableCheck]] = {}
    for check in checks:
        by_table.setdefault(check.spec.asset_key, []).append(check)
    return [table_step(key, group) for key, group in by_table.items()]


all_checks = one_step_per_table(TABLE_CHECKS)

"""Asset checks on the Cal.com tables, per tenant partition.

The rules are plain functions over rows (easy to test on their own); the check definitions read
one tenant's slice from the warehouse and report the offending rows by key.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    asset_check,
)

from askpro_pipelines.drift import describe
from askpro_pipelines.partitions import (
    fact_partitions,
    tenant_day_partitions,
    tenant_partitions,
)
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.quarantine import ENTITIES_BY_TABLE
from askpro_pipelines.warehouse.quarantine import listed as quarantined
from askpro_pipelines.warehouse.shapes import read_shapes
from askpro_pipelines.warehouse.tables import CONTRACTS

MAX_LISTED = 50


# ---- rules ----------------------------------------------------------------------------------


def event_types_without_hosts(event_types: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Event types nobody can be booked for: no owner, host or user."""
    return [
        {"event_type_id": et["event_type_id"], "title": et.get("title")} for et in event_types if not et.get("hosts")
    ]


def dangling_links(
    links: Iterable[Mapping[str, Any]], staff_ids: set[str], event_type_ids: set[str]
) -> list[dict[str, Any]]:
    """Staff ↔ event type links whose staff member or event type is not in the warehouse."""
    problems = []
    for link in links:
        missing = [
            name
            for name, ok in (
                ("staff", link["staff_id"] in staff_ids),
                ("event type", link["event_type_id"] in event_type_ids),
            )
            if not ok
        ]
        if missing:
            problems.append(
                {"staff_id": link["staff_id"], "event_type_id": link["event_type_id"], "missing": " and ".join(missing)}
            )
    return problems


def invalid_working_hours(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Intervals that end at or before they start, and intervals that overlap on the same day."""
    problems: list[dict[str, Any]] = []
    by_day: dict[tuple[Any, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["end_time"] <= row["start_time"]:
            problems.append(
                {**_interval_key(row), "problem": f"ends {row['end_time']} at or before start {row['start_time']}"}
            )
        else:
            by_day[(row["staff_id"], row["schedule_id"], row["weekday"])].append(row)
    for intervals in by_day.values():
        intervals.sort(key=lambda r: (r["start_time"], r["end_time"]))
        for earlier, later in zip(intervals, intervals[1:], strict=False):
            if later["start_time"] < earlier["end_time"]:
                problems.append(
                    {
                        **_interval_key(later),
                        "problem": f"overlaps {earlier['start_time']}-{earlier['end_time']}",
                    }
                )
    return problems


def _interval_key(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "staff_id": row["staff_id"],
        "schedule_id": row["schedule_id"],
        "weekday": row["weekday"],
        "interval": f"{row['start_time']}-{row['end_time']}",
    }


def assignment_problems(rows: Iterable[Mapping[str, Any]], problem: str) -> list[dict[str, Any]]:
    """phone_assignments rows with one kind of broken chain link."""
    tests: dict[str, Callable[[Mapping[str, Any]], bool]] = {
        "no agent": lambda r: r["agent_id"] is None,
        "agent version not published": lambda r: r["agent_id"] is not None and r["agent_version_published"] is not True,
        "no branch": lambda r: r["branch_id"] is None,
        "event type missing in Cal.com": lambda r: r["branch_id"] is not None and r["event_type_title"] is None,
    }
    failing = tests[problem]
    return [
        {
            "phone_number": r["phone_number"],
            "agent": f"{r['agent_id']} v{r['agent_version']}" if r["agent_id"] else "-",
            "branch_id": r["branch_id"],
            "event_type_id": r["event_type_id"],
        }
        for r in rows
        if failing(r)
    ]


def numbers_on_several_branches(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Numbers that ring at more than one branch (any tenant): a caller's booking would be ambiguous."""
    places: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["branch_id"] is not None:
            places[r["phone_number"]].add(f"{r['tenant']}/{r['branch_id']}")
    return [{"phone_number": n, "branches": ", ".join(sorted(p))} for n, p in sorted(places.items()) if len(p) > 1]


def overlapping_versions(versions: Sequence[Mapping[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """History versions of one key whose validity intervals overlap (versions sorted by key, valid_from)."""
    problems = []
    for earlier, later in zip(versions, versions[1:], strict=False):
        same_key = all(earlier[k] == later[k] for k in key)
        if same_key and (earlier["valid_to"] is None or later["valid_from"] < earlier["valid_to"]):
            problems.append(
                {
                    **{k: later[k] for k in key},
                    "problem": f"version from {later['valid_from']} overlaps the one from {earlier['valid_from']}",
                }
            )
    return problems


def open_version_problems(
    versions: Iterable[Mapping[str, Any]], live_keys: set[tuple[Any, ...]], key: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Live keys without exactly one open history version, and open versions of keys no longer live."""
    open_count: dict[tuple[Any, ...], int] = defaultdict(int)
    for version in versions:
        if version["valid_to"] is None:
            open_count[tuple(version[k] for k in key)] += 1
    problems = []
    for found in sorted(live_keys | set(open_count), key=str):
        count = open_count.get(found, 0)
        if found in live_keys and count != 1:
            problems.append({**dict(zip(key, found, strict=True)), "problem": f"{count} open versions"})
        elif found not in live_keys:
            problems.append(
                {**dict(zip(key, found, strict=True)), "problem": "open version of a row no longer in the table"}
            )
    return problems


def history_check_specs(table: str, asset: str) -> dict[str, AssetCheckSpec]:
    """The two checks every history table carries, run in the history asset's own step."""
    return {
        f"{table}_history_no_overlaps": AssetCheckSpec(
            f"{table}_history_no_overlaps",
            asset=asset,
            partitions_def=tenant_partitions,
            description=f"No two versions of one {table} row are valid at the same time.",
        ),
        f"{table}_history_one_open_version": AssetCheckSpec(
            f"{table}_history_one_open_version",
            asset=asset,
            partitions_def=tenant_partitions,
            description=f"Every row in {table} has exactly one open history version, and no deleted row has one.",
        ),
    }


# ---- reporting ------------------------------------------------------------------------------


def _markdown(rows: list[dict[str, Any]]) -> str:
    shown = rows[:MAX_LISTED]
    columns = list(shown[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in shown]
    if len(rows) > MAX_LISTED:
        lines.append(f"\n… and {len(rows) - MAX_LISTED} more")
    return "\n".join(lines)


def _as_text(problem: dict[str, Any]) -> str:
    return str({k: v for k, v in problem.items() if k != "problem"})


def check_result(
    tenant: str,
    what: str,
    problems: list[dict[str, Any]],
    checked: int,
    *,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    describe_problem: Callable[[dict[str, Any]], str] = _as_text,
    separator: str = ", ",
    **identity: Any,
) -> AssetCheckResult:
    """Pass, or fail naming the tenant and every offending row (first 50 in the table).

    `identity` (asset_key, check_name) is for checks reported from inside an asset's step.
    """
    metadata: dict[str, Any] = {
        "tenant": tenant,
        "rows_checked": MetadataValue.int(checked),
        "failures": MetadataValue.int(len(problems)),
    }
    if not problems:
        return AssetCheckResult(passed=True, metadata=metadata, description=f"tenant {tenant}: no {what}", **identity)
    metadata["offending_rows"] = MetadataValue.md(_markdown(problems))
    listed = separator.join(describe_problem(p) for p in problems[:5])
    return AssetCheckResult(
        passed=False,
        severity=severity,
        metadata=metadata,
        description=f"tenant {tenant}: {len(problems)} {what}: {listed}{' …' if len(problems) > 5 else ''}",
        **identity,
    )


# ---- definitions ----------------------------------------------------------------------------


@asset_check(
    asset="calcom_event_types",
    partitions_def=tenant_partitions,
    description="Every event type has at least one owner, host or user who can be booked.",
)
def event_types_have_hosts(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    rows = warehouse.warehouse.read_slice("calcom_event_types", tenant, ["event_type_id", "title", "hosts"])
    return check_result(tenant, "event types without a host", event_types_without_hosts(rows), len(rows))


@asset_check(
    asset="staff_event_types",
    partitions_def=tenant_partitions,
    additional_deps=["staff", "calcom_event_types"],
    description="Every staff ↔ event type link points at a synced staff member and event type.",
)
def staff_event_types_resolve(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    wh = warehouse.warehouse
    links = wh.read_slice("staff_event_types", tenant, ["staff_id", "event_type_id"])
    staff_ids = {r["staff_id"] for r in wh.read_slice("staff", tenant, ["staff_id"])}
    event_type_ids = {r["event_type_id"] for r in wh.read_slice("calcom_event_types", tenant, ["event_type_id"])}
    return check_result(tenant, "dangling links", dangling_links(links, staff_ids, event_type_ids), len(links))


@asset_check(
    asset="working_hours",
    partitions_def=tenant_partitions,
    description="Working-hour intervals end after they start and do not overlap within a day.",
)
def working_hours_are_valid(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    rows = warehouse.warehouse.read_slice(
        "working_hours", tenant, ["staff_id", "schedule_id", "weekday", "start_time", "end_time"]
    )
    return check_result(tenant, "invalid working-hour intervals", invalid_working_hours(rows), len(rows))


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


def build_assignment_check(name: str) -> AssetChecksDefinition:
    """One broken-link check on phone_assignments."""
    problem, description = ASSIGNMENT_CHECKS[name]

    @asset_check(asset="phone_assignments", name=name, partitions_def=tenant_partitions, description=description)
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
    ) -> AssetCheckResult:
        tenant = tenants.get(context.partition_key).slug
        rows = warehouse.warehouse.read_slice("phone_assignments", tenant, ASSIGNMENT_COLUMNS)
        return check_result(tenant, f"numbers with {problem}", assignment_problems(rows, problem), len(rows))

    return _check


@asset_check(
    asset="phone_assignments",
    partitions_def=tenant_partitions,
    description="No number is mapped to two branches (in this tenant or across tenants).",
)
def phone_numbers_on_one_branch(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> AssetCheckResult:
    tenant = tenants.get(context.partition_key).slug
    wh = warehouse.warehouse
    own = {r["phone_number"] for r in wh.read_slice("phone_assignments", tenant, ["phone_number"])}
    rows = [
        r for r in wh.read_all("phone_assignments", ["tenant", "phone_number", "branch_id"]) if r["phone_number"] in own
    ]
    return check_result(tenant, "numbers on several branches", numbers_on_several_branches(rows), len(own))


def build_unique_key_check(table: str) -> AssetChecksDefinition:
    """A `<table>_unique_keys` check: the natural key occurs once per tenant (and day, for facts)."""
    contract = CONTRACTS[table]
    key = contract.row_key

    @asset_check(
        asset=AssetKey(table),
        name=f"{table}_unique_keys",
        partitions_def=tenant_day_partitions if contract.by_day else tenant_partitions,
        description=f"No duplicate ({', '.join(key)}) within a tenant{' and day' if contract.by_day else ''}.",
    )
    def _check(
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

    return _check


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


def build_drift_check(asset: str) -> AssetChecksDefinition:
    """`api_responses_match_models` on one syncing asset: warns on keys or enum values the models
    do not know, and on expected keys a response lacked (new fields stay in raw payloads meanwhile)."""
    partitions_def = DRIFT_CHECKED[asset]

    @asset_check(
        asset=asset,
        name="api_responses_match_models",
        partitions_def=partitions_def,
        description="The API responses this asset read carry only keys and enum values the models know.",
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
    ) -> AssetCheckResult:
        if partitions_def == tenant_day_partitions:
            slugs = sorted({slug for slug, _ in fact_partitions(context.partition_keys)})
        else:
            slugs = [context.partition_key]
        names = [tenants.get(slug).slug for slug in slugs]
        shapes = [row for name in names for row in read_shapes(warehouse.warehouse, name, asset)]
        return drift_result(names, shapes)

    return _check


def build_quarantine_check(table: str) -> AssetChecksDefinition:
    """`<table>_no_quarantined_records`: warns (does not fail) while records feeding the table are quarantined."""
    entities = ENTITIES_BY_TABLE[table]
    by_day = CONTRACTS[table].by_day

    @asset_check(
        asset=AssetKey(table),
        name=f"{table}_no_quarantined_records",
        partitions_def=tenant_day_partitions if by_day else tenant_partitions,
        description=f"No {' or '.join(entities)} record is quarantined (malformed at the source); warns when one is, "
        "while the rest of the table lands. `askpro quarantine list` shows them.",
    )
    def _check(
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

    return _check


drift_checks = [build_drift_check(asset) for asset in DRIFT_CHECKED]

askpro_checks = [*[build_assignment_check(name) for name in ASSIGNMENT_CHECKS], phone_numbers_on_one_branch]

calcom_checks = [
    event_types_have_hosts,
    staff_event_types_resolve,
    working_hours_are_valid,
    *[build_unique_key_check(table) for table in CONTRACTS],
    *[build_quarantine_check(table) for table in ENTITIES_BY_TABLE],
]

all_checks = [*calcom_checks, *askpro_checks, *drift_checks]

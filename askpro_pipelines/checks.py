"""The rules of the asset checks, as plain functions over rows (easy to test on their own), and how a
check reports: pass, or fail naming the tenant and the offending rows by key.

The checks on the mirror tables are defined in table_checks.py; the history, call-analysis and
booking-success assets report theirs from their own steps.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
)

from askpro_pipelines.partitions import (
    tenant_partitions,
)

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

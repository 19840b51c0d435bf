"""Shaping typed records into warehouse rows, and deriving the linked tables.

Pure functions: records in, dicts keyed by table column out. The assets stay a few lines.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from askpro_pipelines.models.calcom import EventType, EventTypeHost, Schedule, Staff, staff_from_host


def event_type_rows(event_types: Iterable[EventType], api_version: str) -> Iterator[dict[str, Any]]:
    """One row per event type; hosts kept as JSON so the link table can be derived from the warehouse."""
    for et in event_types:
        row = et.model_dump(mode="json", exclude={"hosts"})
        row["hosts"] = [h.model_dump(mode="json") for h in et.hosts]
        row["api_version"] = api_version
        yield row


def staff_rows(listed: Iterable[Staff], event_type_rows_: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Users the API lists, plus hosts known only from event types (e.g. UUID host ids)."""
    seen: set[str] = set()
    for member in listed:
        if member.staff_id in seen:
            continue
        seen.add(member.staff_id)
        yield {**member.model_dump(mode="json"), "source": "user"}
    for et in event_type_rows_:
        for host in et.get("hosts") or []:
            if host["staff_id"] in seen:
                continue
            seen.add(host["staff_id"])
            yield {**staff_from_host(EventTypeHost.model_validate(host)).model_dump(mode="json"), "source": "host"}


def staff_event_type_rows(event_type_rows_: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Staff ↔ event type links from each event type's owner, hosts and users."""
    for et in event_type_rows_:
        for host in et.get("hosts") or []:
            yield {
                "staff_id": str(host["staff_id"]),
                "event_type_id": str(et["event_type_id"]),
                "role": host["role"],
                "mandatory": host.get("mandatory"),
                "priority": host.get("priority"),
            }


def working_hour_rows(schedules: Iterable[Schedule]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Weekly intervals and date overrides of every schedule, one row each."""
    hours: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    for schedule in schedules:
        base = {"staff_id": schedule.staff_id, "schedule_id": schedule.schedule_id, "time_zone": schedule.time_zone}
        for interval in schedule.intervals:
            hours.append(
                {
                    **base,
                    "schedule_name": schedule.name,
                    "is_default_schedule": schedule.is_default,
                    "weekday": interval.weekday,
                    "start_time": interval.start_time,
                    "end_time": interval.end_time,
                }
            )
        for override in schedule.overrides:
            overrides.append(
                {
                    **base,
                    "date": override.date,
                    "start_time": override.start_time,
                    "end_time": override.end_time,
                    "is_day_off": override.is_day_off,
                }
            )
    return hours, overrides

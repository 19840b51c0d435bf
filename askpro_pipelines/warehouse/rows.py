"""Shaping typed records into warehouse rows, and deriving the linked tables.

Pure functions: records in, dicts keyed by table column out. The assets stay a few lines.
"""

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from askpro_pipelines.models.bookings import Booking
from askpro_pipelines.models.calcom import (
    EventType,
    EventTypeHost,
    Schedule,
    Staff,
    staff_from_host,
)
from askpro_pipelines.models.calls import Call
from askpro_pipelines.models.links import DashboardLinks
from askpro_pipelines.models.retell import AgentVersion, PhoneNumber, StoredVersion

if TYPE_CHECKING:  # the store imports this module
    from askpro_pipelines.warehouse.store import Warehouse


def event_type_rows(
    event_types: Iterable[EventType], api_version: str, links: DashboardLinks
) -> Iterator[dict[str, Any]]:
    """One row per event type; hosts kept as JSON so the link table can be derived from the warehouse."""
    for et in event_types:
        row = et.model_dump(mode="json", exclude={"hosts"})
        row["hosts"] = [h.model_dump(mode="json") for h in et.hosts]
        row["api_version"] = api_version
        row["dashboard_url"] = links.calcom.event_type(et.event_type_id)
        yield row


def staff_rows(
    listed: Iterable[Staff], event_type_rows_: Iterable[Mapping[str, Any]], links: DashboardLinks
) -> Iterator[dict[str, Any]]:
    """Users the API lists, plus hosts known only from event types (e.g. UUID host ids)."""
    seen: set[str] = set()
    page = {"dashboard_url": links.calcom.members()}
    for member in listed:
        if member.staff_id in seen:
            continue
        seen.add(member.staff_id)
        yield {**member.model_dump(mode="json"), "source": "user", **page}
    for et in event_type_rows_:
        for host in et.get("hosts") or []:
            if host["staff_id"] in seen:
                continue
            seen.add(host["staff_id"])
            member = staff_from_host(EventTypeHost.model_validate(host))
            yield {**member.model_dump(mode="json"), "source": "host", **page}


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


def working_hour_rows(
    schedules: Iterable[Schedule], links: DashboardLinks
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Weekly intervals and date overrides of every schedule, one row each."""
    hours: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    for schedule in schedules:
        base = {
            "staff_id": schedule.staff_id,
            "schedule_id": schedule.schedule_id,
            "time_zone": schedule.time_zone,
            "dashboard_url": links.calcom.schedule(schedule.schedule_id),
        }
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


def agent_version_rows(versions: Iterable[AgentVersion], links: DashboardLinks) -> Iterator[dict[str, Any]]:
    """Every version of every agent; a changed prompt shows as a different prompt_hash."""
    for v in versions:
        yield {
            "agent_id": v.agent_id,
            "version": v.version,
            "agent_name": v.agent_name,
            "version_title": v.version_title,
            "is_published": v.is_published,
            "llm_id": v.llm_id,
            "llm_version": v.llm_version,
            "prompt_hash": v.prompt_hash,
            "last_modified": v.last_modified,
            "prompt": v.prompt,
            "dashboard_url": links.retell.agent(v.agent_id),
        }


def readable_versions(versions: list[AgentVersion], rejected_llm_ids: set[str]) -> tuple[list[AgentVersion], set[str]]:
    """Versions whose prompt could be read, and the agents touched by an unreadable (quarantined) LLM.

    A version without its prompt would overwrite the stored prompt with nothing; leaving it out (and
    keeping the agent's stored rows) records no change that did not happen at the source.
    """
    touched = {v.agent_id for v in versions if v.llm_id in rejected_llm_ids}
    return [v for v in versions if v.llm_id not in rejected_llm_ids], touched


def latest_agent_rows(
    versions: Iterable[AgentVersion], tags: Mapping[str, Mapping[str, Any]], links: DashboardLinks
) -> list[dict[str, Any]]:
    """One row per agent at its highest version, with its latest published version and tags."""
    by_agent: dict[str, list[AgentVersion]] = {}
    for v in versions:
        by_agent.setdefault(v.agent_id, []).append(v)
    rows = []
    for agent_id, agent_versions in sorted(by_agent.items()):
        latest = max(agent_versions, key=lambda v: v.version)
        published = [v.version for v in agent_versions if v.is_published]
        rows.append(
            {
                "agent_id": agent_id,
                "version": latest.version,
                "agent_name": latest.agent_name,
                "is_published": latest.is_published,
                "latest_published_version": max(published) if published else None,
                "voice_id": latest.voice_id,
                "language": latest.language,
                "webhook_url": latest.webhook_url,
                "response_engine_type": latest.response_engine_type,
                "llm_id": latest.llm_id,
                "llm_version": latest.llm_version,
                "prompt": latest.prompt,
                "prompt_hash": latest.prompt_hash,
                "tags": dict(tags.get(agent_id, {})),
                "last_modified": latest.last_modified,
                "dashboard_url": links.retell.agent(agent_id),
            }
        )
    return rows


def phone_number_rows(numbers: Iterable[PhoneNumber], links: DashboardLinks) -> Iterator[dict[str, Any]]:
    """One row per number; the highest-weight bindings in columns, all bindings as JSON."""
    for n in numbers:

        def bindings(direction: str) -> list[dict[str, Any]]:
            return [
                {"agent_id": b.agent_id, "agent_version": b.agent_version, "weight": b.weight}
                for b in n.bindings  # noqa: B023 - called within this iteration only
                if b.direction == direction
            ]

        yield {
            "phone_number": n.phone_number,
            "phone_number_pretty": n.phone_number_pretty,
            "nickname": n.nickname,
            "phone_number_type": n.phone_number_type,
            "inbound_agent_id": n.inbound_agent_id,
            "inbound_agent_version": n.inbound_agent_version,
            "outbound_agent_id": n.outbound_agent_id,
            "outbound_agent_version": n.outbound_agent_version,
            "inbound_agents": bindings("inbound"),
            "outbound_agents": bindings("outbound"),
            "last_modified": n.last_modified,
            "dashboard_url": links.retell.phone_numbers(),
        }


def booking_rows(bookings: Iterable[Booking]) -> Iterator[dict[str, Any]]:
    """One row per booking (the model's fields are the table's columns)."""
    for booking in bookings:
        yield booking.model_dump()


CALL_COLUMNS_EXCLUDED = {"transcript", "tool_calls"}


def call_rows(calls: Iterable[Call]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Calls without their transcripts, and the transcripts in their own rows."""
    rows, transcripts = [], []
    for call in calls:
        rows.append(call.model_dump(exclude=CALL_COLUMNS_EXCLUDED))
        if call.transcript is not None or call.tool_calls is not None:
            transcripts.append({"call_id": call.call_id, "transcript": call.transcript, "tool_calls": call.tool_calls})
    return rows, transcripts


def known_transcripts(
    warehouse: "Warehouse", tenant: str, day: dt.date, calls: Iterable[Call]
) -> dict[tuple[str, dt.datetime], dict[str, Any]]:
    """(call id, end) → the stored transcript and tool calls ({"transcript", "tool_calls"}) of those
    of `calls` that ended, so a re-sync need not fetch them. Asked per listing page, so what it holds
    does not grow with the calls of a day."""
    ended = [c.call_id for c in calls if c.call_status == "ended" and c.transcript is None]
    if not ended:
        return {}
    ends = {
        r["call_id"]: r["end_utc"]
        for r in warehouse.read_in(
            "retell_calls", tenant, "call_id", ended, ["call_id", "end_utc", "call_status", "day"]
        )
        if r["call_status"] == "ended" and r["end_utc"] is not None and r["day"] == day
    }
    if not ends:
        return {}
    columns = ["call_id", "transcript", "tool_calls", "day"]
    return {
        (r["call_id"], ends[r["call_id"]]): {"transcript": r["transcript"], "tool_calls": r["tool_calls"]}
        for r in warehouse.read_in("retell_call_transcripts", tenant, "call_id", list(ends), columns)
        # rows synced before tool calls were stored (tool_calls null) are fetched once more
        if r["day"] == day and r["transcript"] is not None and r["tool_calls"] is not None
    }


def stored_versions(warehouse: "Warehouse", tenant: str) -> dict[tuple[str, int], StoredVersion]:
    """(agent id, version) → each published version stored with its prompt (when it has an LLM): a
    published version no longer changes, so a re-sync that lists it unchanged need not read it again.
    The agent-level fields (voice, language, webhook, engine) come from `retell_agents` where that row
    was stored at this version; other versions do not need them (`agent_version_rows`)."""
    agent_columns = ["agent_id", "version", "voice_id", "language", "webhook_url", "response_engine_type"]
    agents = {r["agent_id"]: r for r in warehouse.read_slice("retell_agents", tenant, agent_columns)}
    columns = ["agent_id", "version", "agent_name", "version_title", "is_published", "llm_id", "llm_version"]
    stored: dict[tuple[str, int], StoredVersion] = {}
    for r in warehouse.read_slice("retell_agent_versions", tenant, [*columns, "last_modified", "prompt"]):
        if not r["is_published"] or (r["llm_id"] and r["prompt"] is None):
            continue
        agent = agents.get(r["agent_id"])
        whole = agent is not None and agent["version"] == r["version"]
        fields = {k: agent[k] for k in agent_columns[2:]} if whole and agent else dict.fromkeys(agent_columns[2:])
        row = AgentVersion.model_validate({**r, **fields, "prompt_hash": None})
        stored[(r["agent_id"], r["version"])] = StoredVersion(row, whole)
    return stored

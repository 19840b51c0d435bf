"""Retell's endpoint generations in the simulator: which account answers which path, and the
shapes that changed between generations (reference §5.2 and §11.3).

A simulated Retell account is one of three kinds (`SimTenantSpec.retell_generation`):

- `current`: only what the official SDK (retell-sdk 6.2.13) calls; superseded paths answer 404,
  and every LLM books through `custom` functions (the built-in Cal.com tools are gone);
- `legacy`: only the pre-2026 paths; the current ones answer 404, and every LLM still holds the
  built-in Cal.com tools;
- `both` (default): an account in transition, serving both; its first agent still holds the
  Cal.com tools, the others book through custom functions.

Kept apart from server.py so the generation rules read in one place.
"""

from typing import Any

CURRENT, LEGACY, BOTH = "current", "legacy", "both"
GENERATIONS = (CURRENT, LEGACY, BOTH)

# Handler names of server._App by the generation that has them; handlers not listed are served
# to every account (get-agent, get-retell-llm, get-phone-number, v2/get-call did not move).
ROUTE_GENERATIONS = {
    "retell_list_agents": CURRENT,  # POST /v2/list-agents
    "retell_list_agent_versions": CURRENT,  # GET /list-agent-versions/{agent_id}
    "retell_list_phone_numbers": CURRENT,  # GET /v2/list-phone-numbers
    "retell_list_calls": CURRENT,  # POST /v3/list-calls
    "retell_list_agents_legacy": LEGACY,  # GET /list-agents
    "retell_get_agent_versions": LEGACY,  # GET /get-agent-versions/{agent_id}
    "retell_list_phone_numbers_legacy": LEGACY,  # GET /list-phone-numbers
    "retell_list_calls_legacy": LEGACY,  # POST /v2/list-calls
}

AGENT_VERSIONS_LIMIT = 50  # list-agent-versions default page (unpublished; Retell's lists use 50)


def serves(generation: str, handler_name: str) -> bool:
    """Whether an account of this generation has the endpoint behind the handler."""
    wanted = ROUTE_GENERATIONS.get(handler_name)
    return wanted is None or generation == BOTH or generation == wanted


def uses_cal_tools(generation: str, agent_index: int) -> bool:
    """Whether the agent's LLM still books through the built-in (deprecated) Cal.com tools."""
    return generation == LEGACY or (generation == BOTH and agent_index == 0)


def engine_version(version: int, agent_index: int) -> int | float:
    """The response engine's version as Retell may send it: typed as a number, so some agents
    carry `7.0` (clients must query `version=7`)."""
    return float(version) if agent_index % 2 == 1 else version


def booking_tools(*, event_type_id: int, time_zone: str, calcom_key: str, cal_tools: bool, slug: str) -> list[dict]:
    """The LLM tools that check availability and book an appointment, in either generation.

    The built-in Cal.com tools carry the Cal.com key (masking is unverified on the real API), and
    the custom functions call the operator's booking service with it in a header: both must be
    redacted by a pipeline that stores LLM JSON.
    """
    if cal_tools:
        return [
            {
                "type": tool_type,
                "name": name,
                "event_type_id": event_type_id,
                "timezone": time_zone,
                "cal_api_key": calcom_key,
            }
            # named as Retell's dashboard names them by default (conversations.py invokes them so)
            for tool_type, name in (
                ("check_availability_cal", "check_availability_cal"),
                ("book_appointment_cal", "book_appointment_cal"),
            )
        ]
    base = f"https://booking.{slug}.example/cal"
    parameters = {
        "type": "object",
        "properties": {
            "start": {"type": "string", "description": "Gewünschter Termin (ISO 8601)"},
            "name": {"type": "string", "description": "Name des Anrufers"},
        },
        "required": ["start"],
    }
    return [
        {
            "type": "custom",
            "name": name,
            "description": description,
            "url": f"{base}/{path}",
            "method": "POST",
            "headers": {"Authorization": f"Bearer {calcom_key}"},
            "query_params": {"eventTypeId": str(event_type_id), "timeZone": time_zone},
            "parameters": parameters,
            "speak_during_execution": True,
            "speak_after_execution": True,
            "timeout_ms": 10000,
        }
        for name, path, description in (
            ("verfuegbarkeit_pruefen", "slots", "Freie Termine für den gewünschten Tag abfragen."),
            ("termin_buchen", "book", "Den vereinbarten Termin verbindlich buchen."),
        )
    ]


def version_items(agent_versions: list[dict]) -> list[dict]:
    """GET /list-agent-versions items (metadata only, ascending) from full agent records."""
    fields = ("version", "is_published", "last_modification_timestamp", "base_version", "version_title")
    items = [{name: record.get(name) for name in fields} | {"version_description": None} for record in agent_versions]
    return sorted(items, key=lambda item: item["version"])


def version_page(items: list[dict], *, limit: int, after: str | None, descending: bool) -> tuple[list[dict], bool, Any]:
    """(page, has_more, pagination_key) of a version listing; the key is the last version as text.

    Raises ValueError for a key that names no version of this agent.
    """
    ordered = list(reversed(items)) if descending else items
    start = 0
    if after:
        positions = [i for i, item in enumerate(ordered) if str(item["version"]) == after]
        if not positions:
            raise ValueError(f"Invalid pagination_key: {after}")
        start = positions[0] + 1
    page = ordered[start : start + limit]
    has_more = start + limit < len(ordered)
    return page, has_more, (str(page[-1]["version"]) if has_more else None)

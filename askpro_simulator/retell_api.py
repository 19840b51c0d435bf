"""Retell AI: its record shapes, call-listing filters and cursors, the tenant's listings and handlers.

Which endpoint generation a tenant serves is in retell_routes.py.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from askpro_simulator import retell_routes
from askpro_simulator.accounts import SimAgent, SimAgentVersion, SimPhoneNumber
from askpro_simulator.records import SimCall, retell_call_object
from askpro_simulator.responses import (
    ApiBase,
    ApiError,
    Ctx,
    Listing,
    Payload,
    activity_days,
    bare_list,
    bare_one,
    dump_json,
    ms_to_local_date,
    retell_page,
)
from askpro_simulator.world import TenantWorld

RETELL_LIST_CALLS_LIMIT = 50
RETELL_LIST_AGENTS_LIMIT = 50
RETELL_LEGACY_LIST_AGENTS_LIMIT = 1000
RETELL_PHONE_NUMBERS_LIMIT = 50
RETELL_MAX_LIMIT = 1000

_POST_CALL_ANALYSIS = [
    {"type": "system-presets", "name": "call_summary"},
    {
        "type": "string",
        "name": "terminwunsch",
        "description": "Gewünschter Termin des Anrufers (Datum/Uhrzeit) im Format YYYY-MM-DD HH:MM, falls genannt.",
    },
    {
        "type": "enum",
        "name": "anliegen",
        "description": "Hauptanliegen des Anrufs",
        "choices": ["Terminbuchung", "Terminabsage", "Rezeptfrage", "Sonstiges"],
    },
    {"type": "boolean", "name": "termin_gebucht", "description": "Wurde im Gespräch ein Termin gebucht?"},
]


def _agent_index(tenant: TenantWorld, agent: SimAgent) -> int:
    return next(i for i, a in enumerate(tenant.agents) if a.agent_id == agent.agent_id)


def _retell_agent(tenant: TenantWorld, agent: SimAgent, version: SimAgentVersion) -> dict:
    engine_version = retell_routes.engine_version(version.version, _agent_index(tenant, agent))
    return {
        "agent_id": agent.agent_id,
        "agent_name": agent.agent_name,
        "version": version.version,
        "is_published": version.is_published,
        "version_title": version.version_title,
        "base_version": version.version - 1 if version.version > 0 else None,
        "response_engine": {"type": "retell-llm", "llm_id": agent.llm_id, "version": engine_version},
        "voice_id": agent.voice_id,
        "voice_model": "eleven_multilingual_v2",
        "voice_temperature": 1,
        "voice_speed": 1,
        "volume": 1,
        "language": "de-DE",
        "timezone": tenant.spec.time_zone,
        "webhook_url": agent.webhook_url,
        "webhook_events": ["call_started", "call_ended", "call_analyzed"],
        "webhook_timeout_ms": 10000,
        "interruption_sensitivity": 0.9,
        "responsiveness": 1,
        "enable_backchannel": True,
        "backchannel_words": ["ja", "genau", "mhm"],
        "boosted_keywords": sorted({et.title for et in tenant.event_types[:3]}),
        "end_call_after_silence_ms": 30000,
        "max_call_duration_ms": 900000,
        "begin_message_delay_ms": 400,
        "ring_duration_ms": 30000,
        "stt_mode": "accurate",
        "vocab_specialization": "medical",
        "denoising_mode": "noise-cancellation",
        "data_storage_setting": "everything_except_pii",
        "opt_in_signed_url": True,
        "post_call_analysis_model": "gpt-4.1-mini",
        "post_call_analysis_data": _POST_CALL_ANALYSIS,
        "pronunciation_dictionary": [{"word": "KG", "alphabet": "ipa", "phoneme": "kaːˈɡeː"}],
        "last_modification_timestamp": version.last_modification_timestamp,
    }


def _retell_agent_summary(agent: SimAgent) -> dict:
    return {
        "agent_id": agent.agent_id,
        "agent_name": agent.agent_name,
        "channel": "voice",
        "is_suspended": False,
        "tags": agent.tags,
        "user_modified_timestamp": agent.latest.last_modification_timestamp,
    }


def _retell_llm(tenant: TenantWorld, agent: SimAgent, version: SimAgentVersion) -> dict:
    booked = tenant.event_types[0].id if tenant.event_types else None
    cal_tools = []
    if booked is not None:
        cal_tools = retell_routes.booking_tools(
            event_type_id=booked,
            time_zone=tenant.spec.time_zone,
            calcom_key=tenant.spec.calcom_key,
            cal_tools=retell_routes.uses_cal_tools(tenant.spec.retell_generation, _agent_index(tenant, agent)),
            slug=tenant.slug,
        )
    return {
        "llm_id": agent.llm_id,
        "version": version.version,
        "is_published": version.is_published,
        "model": "gpt-4.1",
        "model_temperature": 0.2,
        "model_high_priority": False,
        "tool_call_strict_mode": True,
        "start_speaker": "agent",
        "begin_message": f"{tenant.company_name}, guten Tag! Sie sprechen mit der digitalen Rezeption.",
        "general_prompt": (
            f"Du bist die freundliche telefonische Rezeption von {tenant.company_name}. "
            f"Sprich Deutsch und siezt die Anrufer. Zeitzone {tenant.spec.time_zone}."
        ),
        "general_tools": [
            {
                "type": "end_call",
                "name": "end_call",
                "description": "Beende das Gespräch, wenn der Anrufer sich verabschiedet.",
            }
        ]
        + cal_tools,
        "states": None,
        "starting_state": None,
        "default_dynamic_variables": {"praxis_name": tenant.company_name},
        "knowledge_base_ids": [],
        "last_modification_timestamp": version.last_modification_timestamp,
    } | version.llm_changes


def _retell_phone_number(tenant: TenantWorld, number: SimPhoneNumber) -> dict:
    def bindings(items):
        return [{"agent_id": b.agent_id, "agent_version": b.agent_version, "weight": b.weight} for b in items]

    return {
        "phone_number": number.phone_number,
        "phone_number_pretty": number.phone_number_pretty,
        "phone_number_type": "custom",
        "nickname": number.nickname,
        "inbound_agents": bindings(number.inbound_agents),
        "outbound_agents": bindings(number.outbound_agents),
        "inbound_webhook_url": None,
        "allowed_inbound_country_list": ["DE", "AT", "CH"],
        "allowed_outbound_country_list": ["DE"],
        "sip_outbound_trunk_config": {
            "termination_uri": "sip.example-carrier.de",
            "auth_username": tenant.slug,
            "transport": "TLS",
        },
        "last_modification_timestamp": number.last_modification_timestamp,
    }


def _retell_phone_number_legacy(tenant: TenantWorld, number: SimPhoneNumber) -> dict:
    """The pre-2026 shape: the weighted arrays plus the deprecated single-agent fields."""

    def first(items):
        if not items:
            return None, None
        version = items[0].agent_version
        return items[0].agent_id, version if isinstance(version, int) else None

    inbound_id, inbound_version = first(number.inbound_agents)
    outbound_id, outbound_version = first(number.outbound_agents)
    return _retell_phone_number(tenant, number) | {
        "inbound_agent_id": inbound_id,
        "inbound_agent_version": inbound_version,
        "outbound_agent_id": outbound_id,
        "outbound_agent_version": outbound_version,
        "area_code": None,
    }


def _encode_call_cursor(call: SimCall) -> str:
    raw = json.dumps({"start_timestamp": call.start_timestamp, "call_id": call.call_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_call_cursor(key: str) -> tuple[int, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))
        return int(raw["start_timestamp"]), str(raw["call_id"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise ApiError(400, f"Invalid pagination_key: {key}") from None


def _page_after(rows: list[tuple[Any, dict, bytes]], after: tuple[int, str], descending: bool) -> int:
    """Index of the first call row beyond the cursor in the listing's order."""
    for index, (call, _, _) in enumerate(rows):
        position = (call.start_timestamp, call.call_id)
        if (position < after) if descending else (position > after):
            return index
    return len(rows)


_NUMBER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}

_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
    "co": lambda a, b: b in a,
}

_CALL_NUMBERS: dict[str, Callable[[SimCall], Any]] = {
    "start_timestamp": lambda c: c.start_timestamp,
    "end_timestamp": lambda c: c.end_timestamp,
    "duration_ms": lambda c: c.duration_ms,
    "combined_cost": lambda c: c.call_cost["combined_cost"],
    "e2e_latency_p50": lambda c: c.latency.get("e2e", {}).get("p50"),
}

_CALL_VALUES: dict[str, Callable[[SimCall], Any]] = {
    "call_id": lambda c: c.call_id,
    "call_status": lambda c: c.call_status,
    "call_type": lambda c: "phone_call",
    "direction": lambda c: c.direction,
    "disconnection_reason": lambda c: c.disconnection_reason,
    "user_sentiment": lambda c: c.call_analysis.get("user_sentiment"),
    "from_number": lambda c: c.from_number,
    "to_number": lambda c: c.to_number,
    "call_successful": lambda c: c.call_analysis.get("call_successful"),
    "in_voicemail": lambda c: c.call_analysis.get("in_voicemail"),
    "agent_id": lambda c: c.agent_id,
    "version": lambda c: c.agent_version,
}


def _bad_filter(name: str, why: str) -> ApiError:
    return ApiError(400, f"filter_criteria.{name}: {why}")


def _v3_number_filter(name: str, spec: Any) -> tuple[Callable[[SimCall], bool], int | None, int | None]:
    """A typed number or range filter, and the (lo, hi) it puts on the value."""
    if not isinstance(spec, dict):
        raise _bad_filter(name, "expected {op, type, value}")
    op, value, read = spec.get("op"), spec.get("value"), _CALL_NUMBERS[name]
    if op == "bt":
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
            raise _bad_filter(name, "op bt needs value [lo, hi]")
        lo, hi = value
        return (lambda c: (v := read(c)) is not None and lo <= v <= hi), lo, hi
    if op not in _NUMBER_OPS or not isinstance(value, int | float) or isinstance(value, bool):
        raise _bad_filter(name, "op must be eq, ne, gt, ge, lt, le or bt with a number value")
    compare = _NUMBER_OPS[op]
    lo = value if op in ("eq", "gt", "ge") else None
    hi = value if op in ("eq", "lt", "le") else None
    return (lambda c: (v := read(c)) is not None and compare(v, value)), lo, hi


def _v3_call_filters(criteria: dict) -> tuple[list[Callable[[SimCall], bool]], int | None, int | None]:
    """POST /v3/list-calls filter_criteria as predicates, plus the start_timestamp bounds."""
    tests: list[Callable[[SimCall], bool]] = []
    lo = hi = None
    for name, spec in criteria.items():
        if name in _CALL_NUMBERS:
            test, low, high = _v3_number_filter(name, spec)
            tests.append(test)
            if name == "start_timestamp":
                lo, hi = low, high
        elif name == "agent":
            if not isinstance(spec, list) or not all(isinstance(a, dict) and a.get("agent_id") for a in spec):
                raise _bad_filter(name, "expected [{agent_id, version?}]")
            wanted = [(a["agent_id"], set(a.get("version") or [])) for a in spec]
            tests.append(
                lambda c, wanted=wanted: any(c.agent_id == i and (not v or c.agent_version in v) for i, v in wanted)
            )
        elif name in _CALL_VALUES and name not in ("agent_id", "version"):
            if not isinstance(spec, dict):
                raise _bad_filter(name, "expected {op, type, value}")
            read, op, value = _CALL_VALUES[name], spec.get("op"), spec.get("value")
            if spec.get("type") == "string" and op in _STRING_OPS and isinstance(value, str):
                compare = _STRING_OPS[op]
                tests.append(lambda c, read=read, compare=compare, value=value: compare(read(c), value))
            elif op == "in" and isinstance(value, list):
                tests.append(lambda c, read=read, value=value: read(c) in value)
            elif op in ("eq", "ne") and not isinstance(value, list | dict):
                tests.append(lambda c, read=read, op=op, value=value: (read(c) == value) == (op == "eq"))
            else:
                raise _bad_filter(name, "unsupported op, type or value")
        else:
            raise _bad_filter(name, "not supported by the simulator")
    return tests, lo, hi


def _legacy_call_filters(criteria: dict) -> tuple[list[Callable[[SimCall], bool]], int | None, int | None]:
    """POST /v2/list-calls filter_criteria: value arrays, {lower_threshold, upper_threshold} ranges
    (both inclusive) and {key: [values]} for metadata and dynamic_variables."""
    tests: list[Callable[[SimCall], bool]] = []
    lo = hi = None
    for name, spec in criteria.items():
        if name in _CALL_NUMBERS:
            if not isinstance(spec, dict) or set(spec) - {"lower_threshold", "upper_threshold"}:
                raise _bad_filter(name, "expected {lower_threshold, upper_threshold}")
            low, high, read = spec.get("lower_threshold"), spec.get("upper_threshold"), _CALL_NUMBERS[name]
            tests.append(
                lambda c, read=read, low=low, high=high: (v := read(c)) is not None
                and (low is None or v >= low)
                and (high is None or v <= high)
            )
            if name == "start_timestamp":
                lo, hi = low, high
        elif name in _CALL_VALUES:
            if not isinstance(spec, list):
                raise _bad_filter(name, "expected an array of values")
            tests.append(lambda c, read=_CALL_VALUES[name], spec=spec: read(c) in spec)
        elif name in ("metadata", "dynamic_variables"):
            if not isinstance(spec, dict) or not all(isinstance(v, list) for v in spec.values()):
                raise _bad_filter(name, "expected {key: [values]}")
            attribute = "metadata" if name == "metadata" else "retell_llm_dynamic_variables"
            tests.append(
                lambda c, attribute=attribute, spec=spec: all(
                    getattr(c, attribute).get(key) in values for key, values in spec.items()
                )
            )
        else:
            raise _bad_filter(name, "not supported by the simulator")
    return tests, lo, hi


class RetellViews:
    """The tenant's Retell listings, rendered on first use."""

    @cached_property
    def retell_agent_summaries(self) -> Listing:
        newest_first = sorted(self.tenant.agents, key=lambda a: (-a.latest.last_modification_timestamp, a.agent_id))
        return Listing("retell_agent_summary", [_retell_agent_summary(a) for a in newest_first])

    @cached_property
    def retell_agent_versions(self) -> dict[str, Listing]:
        """Per agent, every version newest first (like GET /get-agent-versions)."""
        return {
            a.agent_id: Listing("retell_agent", [_retell_agent(self.tenant, a, v) for v in reversed(a.versions)])
            for a in self.tenant.agents
        }

    @cached_property
    def retell_agents_legacy(self) -> Listing:
        records = [r for a in self.tenant.agents for r in self.retell_agent_versions[a.agent_id].records]
        return Listing("retell_agent", records)

    @cached_property
    def retell_llms(self) -> dict[str, dict[int, dict]]:
        return {a.llm_id: {v.version: _retell_llm(self.tenant, a, v) for v in a.versions} for a in self.tenant.agents}

    @cached_property
    def retell_phone_numbers(self) -> Listing:
        newest_first = sorted(self.tenant.phone_numbers, key=lambda p: (-p.last_modification_timestamp, p.phone_number))
        return Listing("retell_phone_number", [_retell_phone_number(self.tenant, p) for p in newest_first])

    @cached_property
    def retell_phone_numbers_legacy(self) -> Listing:
        return Listing(
            "retell_phone_number", [_retell_phone_number_legacy(self.tenant, p) for p in self.tenant.phone_numbers]
        )

    @cached_property
    def retell_phone_number_by_number(self) -> dict[str, dict]:
        return {r["phone_number"]: r for r in self.retell_phone_numbers.records}


class RetellApi(ApiBase):
    """Retell handlers (current and legacy endpoint generations)."""

    def _retell_limit(self, ctx: Ctx, default: int) -> int:
        return self._int_param(ctx, "limit", default, 1, RETELL_MAX_LIMIT)

    @staticmethod
    def _after_key(listing: Listing, key_field: str, pagination_key: str | None) -> int:
        if not pagination_key:
            return 0
        for index, record in enumerate(listing.records):
            if record[key_field] == pagination_key:
                return index + 1
        raise ApiError(400, f"Invalid pagination_key: {pagination_key}")

    @staticmethod
    def _sorted(ctx: Ctx, listing: Listing) -> Listing:
        """Listings are stored newest first (the default `descending`)."""
        order = ctx.query.get("sort_order", "descending")
        if order not in ("ascending", "descending"):
            raise ApiError(400, "sort_order must be ascending or descending")
        if order == "descending":
            return listing
        return listing.reversed()

    def _cursor_page(self, ctx: Ctx, listing: Listing, key_field: str, default_limit: int) -> Payload:
        limit = self._retell_limit(ctx, default_limit)
        listing = self._sorted(ctx, listing)
        start = self._after_key(listing, key_field, ctx.query.get("pagination_key"))
        page = listing.page(start, start + limit)
        has_more = start + limit < len(listing)
        return retell_page(page, has_more, page.records[-1][key_field] if has_more else None)

    def retell_list_agents(self, ctx: Ctx) -> Payload:
        """POST /v2/list-agents: summaries; `limit`/`pagination_key` in the query, filters in the body."""
        listing = ctx.views.retell_agent_summaries
        if ctx.body.strip():
            try:
                body = json.loads(ctx.body)
            except ValueError:
                raise ApiError(400, "Invalid request format, please check API reference.") from None
            criteria = (body or {}).get("filter_criteria") or {}
            channel = (criteria.get("channel") or {}).get("value")
            if channel:
                listing = listing.filtered(lambda r: r["channel"] == channel)
            query = criteria.get("query")
            if query:
                needle = str(query).lower()
                listing = listing.filtered(lambda r: needle in f"{r['agent_name']} {r['agent_id']}".lower())
        return self._cursor_page(ctx, listing, "agent_id", RETELL_LIST_AGENTS_LIMIT)

    def retell_list_agents_legacy(self, ctx: Ctx) -> Payload:
        """GET /list-agents: a bare array of every version unless is_latest=true."""
        limit = self._retell_limit(ctx, RETELL_LEGACY_LIST_AGENTS_LIMIT)
        listing = ctx.views.retell_agents_legacy
        if ctx.query.get("is_latest", "").lower() == "true":
            latest = {a.agent_id: a.latest.version for a in ctx.tenant.agents}
            listing = listing.filtered(lambda r: latest[r["agent_id"]] == r["version"])
        start = 0
        key = ctx.query.get("pagination_key")
        if key:
            version = ctx.query.get("pagination_key_version")
            if version is None or not version.lstrip("-").isdigit():
                raise ApiError(400, "pagination_key_version is required with pagination_key")
            after = (key, int(version))
            positions = [i for i, r in enumerate(listing.records) if (r["agent_id"], r["version"]) == after]
            if not positions:
                raise ApiError(400, f"Invalid pagination_key: {key}")
            start = positions[0] + 1
        return bare_list(listing.page(start, start + limit))

    def _agent(self, ctx: Ctx, agent_id: str) -> SimAgent:
        self._check_owner(ctx, "agent", agent_id, f"agent {agent_id}")
        return ctx.views.retell_agents[agent_id]

    def retell_get_agent(self, ctx: Ctx, agent_id: str) -> Payload:
        agent = self._agent(ctx, agent_id)
        versions = ctx.views.retell_agent_versions[agent.agent_id].records
        raw_version = ctx.query.get("version")
        if raw_version is None:
            return bare_one("retell_agent", versions[0])
        for record in versions:
            if str(record["version"]) == raw_version:
                return bare_one("retell_agent", record)
        raise ApiError(404, "Cannot find requested asset under given api key.")

    def retell_get_agent_versions(self, ctx: Ctx, agent_id: str) -> Payload:
        agent = self._agent(ctx, agent_id)
        return bare_list(ctx.views.retell_agent_versions[agent.agent_id])

    def retell_list_agent_versions(self, ctx: Ctx, agent_id: str) -> Payload:
        """GET /list-agent-versions/{agent_id}: version metadata, paged (the SDK's `list_versions`)."""
        agent = self._agent(ctx, agent_id)
        items = retell_routes.version_items(ctx.views.retell_agent_versions[agent.agent_id].records)
        limit = self._retell_limit(ctx, retell_routes.AGENT_VERSIONS_LIMIT)
        order = ctx.query.get("sort_order", "descending")
        if order not in ("ascending", "descending"):
            raise ApiError(400, "sort_order must be ascending or descending")
        descending = order == "descending"
        try:
            page, has_more, key = retell_routes.version_page(
                items, limit=limit, after=ctx.query.get("pagination_key"), descending=descending
            )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return retell_page(Listing("retell_agent_version", page), has_more, key)

    def retell_get_llm(self, ctx: Ctx, llm_id: str) -> Payload:
        self._check_owner(ctx, "llm", llm_id, f"llm {llm_id}")
        versions = ctx.views.retell_llms[llm_id]
        raw_version = ctx.query.get("version")
        if raw_version is None:
            return bare_one("retell_llm", versions[max(versions)])
        if not raw_version.isdigit() or int(raw_version) not in versions:
            raise ApiError(404, "Cannot find requested asset under given api key.")
        return bare_one("retell_llm", versions[int(raw_version)])

    def retell_list_phone_numbers(self, ctx: Ctx) -> Payload:
        return self._cursor_page(ctx, ctx.views.retell_phone_numbers, "phone_number", RETELL_PHONE_NUMBERS_LIMIT)

    def retell_list_phone_numbers_legacy(self, ctx: Ctx) -> Payload:
        return bare_list(ctx.views.retell_phone_numbers_legacy)

    def retell_get_phone_number(self, ctx: Ctx, phone_number: str) -> Payload:
        self._check_owner(ctx, "phone_number", phone_number, f"phone number {phone_number}")
        return bare_one("retell_phone_number", ctx.views.retell_phone_number_by_number[phone_number])

    def _sorted_calls(
        self,
        ctx: Ctx,
        kind: str,
        tests: list[Callable[[SimCall], bool]],
        lo: float | None,
        hi: float | None,
        descending: bool,
    ) -> list[tuple[Any, dict, bytes]]:
        activity = ctx.tenant.activity
        days = activity_days(activity, ms_to_local_date(activity, lo), ms_to_local_date(activity, hi))
        rows = ctx.views.rows(kind, days, lambda c: all(test(c) for test in tests))
        rows.sort(key=lambda row: (row[0].start_timestamp, row[0].call_id), reverse=descending)
        return rows

    def retell_list_calls(self, ctx: Ctx) -> Payload:
        """POST /v3/list-calls: typed filter_criteria, start_timestamp order, cursor or skip; no transcripts."""
        body = self._json_body(ctx)
        limit = self._body_int(body, "limit", RETELL_LIST_CALLS_LIMIT, 1, RETELL_MAX_LIMIT)
        descending = self._body_descending(body)
        key, skip = body.get("pagination_key"), body.get("skip")
        if key is not None and skip is not None:
            raise ApiError(400, "pagination_key and skip are mutually exclusive")
        criteria = body.get("filter_criteria") or {}
        if not isinstance(criteria, dict):
            raise ApiError(400, "filter_criteria must be an object")
        tests, lo, hi = _v3_call_filters(criteria)
        rows = self._sorted_calls(ctx, "retell_call", tests, lo, hi, descending)
        if key is not None:
            start = _page_after(rows, _decode_call_cursor(str(key)), descending)
        else:
            start = self._body_int(body, "skip", 0, 0)
        page = rows[start : start + limit]
        has_more = start + limit < len(rows)
        suffix = b',"has_more":' + dump_json(has_more)
        suffix += b',"pagination_key":' + dump_json(_encode_call_cursor(page[-1][0]) if has_more else None)
        if body.get("include_total") is True:
            suffix += b',"total":' + str(len(rows)).encode()
        return Payload("retell_call", b'{"items":', suffix + b"}", listing=Listing.of_rows("retell_call", page))

    def retell_list_calls_legacy(self, ctx: Ctx) -> Payload:
        """POST /v2/list-calls: a bare array of full calls; pagination_key is the previous page's last call_id."""
        body = self._json_body(ctx)
        limit = self._body_int(body, "limit", RETELL_LIST_CALLS_LIMIT, 1, RETELL_MAX_LIMIT)
        descending = self._body_descending(body)
        criteria = body.get("filter_criteria") or {}
        if not isinstance(criteria, dict):
            raise ApiError(400, "filter_criteria must be an object")
        tests, lo, hi = _legacy_call_filters(criteria)
        rows = self._sorted_calls(ctx, "retell_call_full", tests, lo, hi, descending)
        start = 0
        key = body.get("pagination_key")
        if key:
            last = ctx.tenant.activity.call(str(key))
            if last is None:
                raise ApiError(400, f"Invalid pagination_key: {key}")
            start = _page_after(rows, (last.start_timestamp, last.call_id), descending)
        return bare_list(Listing.of_rows("retell_call_full", rows[start : start + limit]))

    def retell_get_call(self, ctx: Ctx, call_id: str) -> Payload:
        """GET /v2/get-call/{call_id}: the full call, transcript included."""
        call = ctx.tenant.activity.call(call_id)
        if call is None:
            raise ApiError(404, "Cannot find requested asset under given api key.")
        return bare_one("retell_call_full", retell_call_object(call))

"""Typed, normalised Retell calls: one shape from get-call, both list-calls generations and webhooks.

The current `POST /v3/list-calls` items omit the transcript, the legacy `POST /v2/list-calls` and
`GET /v2/get-call` include it, and webhooks carry the call under `call` (very old ones under `data`)
with `call_analysis` only on `call_analyzed`. All of them become the same `Call`; `merge_call`
completes a transcript-less list item from get-call. Timestamps are milliseconds since the epoch and
become tz-aware UTC datetimes; versions are ints (3.0 is accepted, 3.5 rejected); costs are cents.

Transcripts, summaries, metadata and dynamic variables are redacted on the way in: a caller can read
out an API key and an agent can be configured with one. Phone numbers and what callers say about
themselves are the business data and stay as given. Every parser raises `RecordError` naming the
entity, the call id and the failing field path, never a payload value.
"""

import datetime
import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, field_validator
from pydantic_core import PydanticCustomError

from askpro_pipelines.models.errors import RecordError, record_id_of, validate_record
from askpro_pipelines.models.values import (
    MillisHidingNumber,
    StringId,
    VersionHidingNumber,
    aware_utc,
    count_hiding_number,
    stripped_string,
    text_or_none,
)
from askpro_pipelines.redaction import redact_mapping, redact_secrets, redact_text

CALLS = "retell_calls"

# Where an agent writes the Cal.com booking uid it created; the first key found wins, searched in
# collected_dynamic_variables (set during the call), then metadata, then retell_llm_dynamic_variables.
BOOKING_UID_KEYS = ("booking_uid", "cal_booking_uid", "bookingUid", "booking_id_cal")

# Enum-like values the models know (retell-sdk 6.2.13's literals). The models keep any value as
# text, since Retell keeps adding reasons; the drift check (askpro_pipelines/drift.py) reports new ones.
CALL_STATUSES = frozenset({"registered", "not_connected", "ongoing", "ended", "error"})
CALL_TYPES = frozenset({"phone_call", "web_call"})
DIRECTIONS = frozenset({"inbound", "outbound"})
DISCONNECTION_REASONS = frozenset(
    {
        "user_hangup", "agent_hangup", "user_requested_dnc", "user_requested_callback", "call_transfer",
        "voicemail_reached", "ivr_reached", "inactivity", "max_duration_reached", "concurrency_limit_reached",
        "no_concurrency_fallback", "no_valid_payment", "credit_exhausted", "budget_reached", "scam_detected",
        "dial_busy", "dial_failed", "dial_no_answer", "invalid_destination", "telephony_provider_permission_denied",
        "telephony_provider_unavailable", "sip_routing_error", "marked_as_spam", "network_blocked", "user_declined",
        "error_llm_websocket_open", "error_llm_websocket_lost_connection", "error_llm_websocket_runtime",
        "error_llm_websocket_corrupt_payload", "error_no_audio_received", "error_asr", "error_retell",
        "error_unknown", "error_user_not_joined", "registered_call_timeout", "transfer_bridged",
        "transfer_cancelled", "manual_stopped", "call_take_over",
    }
)  # fmt: skip

_MILLISECOND = datetime.timedelta(milliseconds=1)
# An unfilled Retell template variable ("{{booking_uid}}") is not a uid.
_PLACEHOLDER = re.compile(r"\{\{.*\}\}")


# ---- normalised record ----------------------------------------------------------------------


class Call(BaseModel):
    """One Retell call: the row of `retell_calls`, keyed by call_id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str
    agent_id: str | None
    agent_version: int | None
    call_type: str | None  # phone_call | web_call
    direction: str | None  # inbound | outbound; phone calls only
    from_number: str | None  # E.164, phone calls only
    to_number: str | None
    call_status: str | None  # registered | not_connected | ongoing | ended | error
    start_utc: datetime.datetime | None
    end_utc: datetime.datetime | None
    duration_ms: int | None  # as given, else end - start
    disconnection_reason: str | None  # text: Retell keeps adding reasons
    cost_cents: float | None  # call_cost.combined_cost
    call_successful: bool | None  # call_analysis: only once the call is analysed
    user_sentiment: str | None
    call_summary: str | None  # redacted
    in_voicemail: bool | None
    transcript: str | None  # redacted; None when the source omitted it (v3 list items), "" when it was empty
    tool_calls: list[dict[str, Any]] | None  # invocations and results, redacted; None when omitted
    metadata: dict[str, Any]  # redacted
    dynamic_variables: dict[str, Any]  # LLM variables overlaid with collected ones, redacted
    booking_uid: str | None  # the Cal.com booking this call produced, see BOOKING_UID_KEYS

    @field_validator("start_utc", "end_utc")
    @classmethod
    def _utc(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        return aware_utc(value)

    @field_validator("transcript", "call_summary")
    @classmethod
    def _redacted_text(cls, value: str | None) -> str | None:
        return redact_text(value) if value is not None else None

    @field_validator("metadata", "dynamic_variables")
    @classmethod
    def _redacted(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact_mapping(value)


# ---- value conversions ----------------------------------------------------------------------


def _as_cents(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PydanticCustomError("cost", "Input should be a finite number of cents")
    return float(value)


_as_event = stripped_string("event", "Input should be a non-empty event name")


_Duration = Annotated[int, PlainValidator(count_hiding_number("duration_ms", "milliseconds"))]
_Cents = Annotated[float, PlainValidator(_as_cents)]
_Event = Annotated[str, PlainValidator(_as_event)]


# ---- raw shapes -----------------------------------------------------------------------------


class _Raw(BaseModel):
    """Raw API shape: strict types (a string where an int belongs is an error), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class _RawCallCost(_Raw):
    combined_cost: _Cents | None = None


class _RawCallAnalysis(_Raw):
    call_summary: str | None = None
    call_successful: bool | None = None
    user_sentiment: str | None = None
    in_voicemail: bool | None = None


class _RawCall(_Raw):
    """PhoneCallResponse | WebCallResponse, with or without the transcript fields."""

    call_id: StringId
    agent_id: StringId | None = None
    agent_version: VersionHidingNumber | None = None
    call_type: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    call_status: str | None = None
    start_timestamp: MillisHidingNumber | None = None
    end_timestamp: MillisHidingNumber | None = None
    duration_ms: _Duration | None = None
    disconnection_reason: str | None = None
    call_cost: _RawCallCost | None = None
    call_analysis: _RawCallAnalysis | None = None
    transcript: str | None = None
    transcript_with_tool_calls: list[Any] | None = None
    metadata: dict[str, Any] | None = None
    retell_llm_dynamic_variables: dict[str, Any] | None = None
    collected_dynamic_variables: dict[str, Any] | None = None


class _CallWebhook(_Raw):
    """Validating the call through its envelope puts "call." in front of failing field paths."""

    event: _Event
    call: _RawCall


class _LegacyCallWebhook(_Raw):
    event: _Event
    data: _RawCall


# ---- conversion -----------------------------------------------------------------------------

TOOL_ROLES = ("tool_call_invocation", "tool_call_result")
# What each kind of entry keeps (retell-sdk's ToolCallInvocationUtterance / ToolCallResultUtterance).
_TOOL_FIELDS = {
    "tool_call_invocation": ("tool_call_id", "name", "type", "arguments"),
    "tool_call_result": ("tool_call_id", "content", "successful"),
}


def _redacted_json_text(value: Any) -> Any:
    """Tool arguments and results are text, often JSON: mask secrets by field name inside the JSON
    (a `cal_api_key` argument), else key-shaped substrings of the text."""
    if not isinstance(value, str):
        return redact_secrets(value)
    try:
        parsed = json.loads(value)
    except ValueError:
        return redact_text(value)
    if isinstance(parsed, dict | list):
        return json.dumps(redact_secrets(parsed), ensure_ascii=False)
    return redact_text(value)


def tool_calls_of(entries: list[Any] | None) -> list[dict[str, Any]] | None:
    """The tool-call entries of `transcript_with_tool_calls`, in order, secrets redacted.

    Utterances, node transitions, DTMF and roles Retell adds later are left out (the transcript
    column has the words); an entry that is not an object is skipped rather than failing the call.
    """
    if entries is None:
        return None
    kept = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("role") not in TOOL_ROLES:
            continue
        role = entry["role"]
        item: dict[str, Any] = {"role": role}
        for name in _TOOL_FIELDS[role]:
            if name in entry:
                value = entry[name]
                item[name] = _redacted_json_text(value) if name in ("arguments", "content") else value
        kept.append(item)
    return kept


def _booking_uid(*sources: Mapping[str, Any]) -> str | None:
    for source in sources:
        for key in BOOKING_UID_KEYS:
            value = text_or_none(source.get(key))
            if value is not None and not _PLACEHOLDER.fullmatch(value):
                return value
    return None


def _call(raw: _RawCall) -> Call:
    start, end = raw.start_timestamp, raw.end_timestamp
    if start is not None and end is not None and end < start:
        raise RecordError(CALLS, raw.call_id, "end_timestamp: before start_timestamp")
    duration = raw.duration_ms
    if duration is None and start is not None and end is not None:
        duration = (end - start) // _MILLISECOND
    analysis = raw.call_analysis or _RawCallAnalysis()
    # Redact before picking the uid, so the uid column can never hold what the dicts had masked.
    metadata = redact_secrets(dict(raw.metadata or {}))
    llm_variables = redact_secrets(dict(raw.retell_llm_dynamic_variables or {}))
    collected = redact_secrets(dict(raw.collected_dynamic_variables or {}))
    return Call(
        call_id=raw.call_id,
        agent_id=raw.agent_id,
        agent_version=raw.agent_version,
        call_type=text_or_none(raw.call_type),
        direction=text_or_none(raw.direction),
        from_number=text_or_none(raw.from_number),
        to_number=text_or_none(raw.to_number),
        call_status=text_or_none(raw.call_status),
        start_utc=start,
        end_utc=end,
        duration_ms=duration,
        disconnection_reason=text_or_none(raw.disconnection_reason),
        cost_cents=raw.call_cost.combined_cost if raw.call_cost else None,
        call_successful=analysis.call_successful,
        user_sentiment=text_or_none(analysis.user_sentiment),
        call_summary=text_or_none(analysis.call_summary),
        in_voicemail=analysis.in_voicemail,
        transcript=raw.transcript,
        tool_calls=tool_calls_of(raw.transcript_with_tool_calls),
        metadata=metadata,
        dynamic_variables={**llm_variables, **collected},
        booking_uid=_booking_uid(collected, metadata, llm_variables),
    )


def call_from_raw(raw: Mapping[str, Any]) -> Call:
    """A call from get-call, a v3 or legacy v2 list-calls item, or a webhook's call object."""
    return _call(validate_record(_RawCall, raw, CALLS, record_id_of(raw, "call_id")))


def _webhook_call(body: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The key the call sits under and its value: `call`, or `data` in payloads from before its deprecation."""
    for key in ("call", "data"):
        if key in body:
            return key, body[key]
    return None, None


def call_from_webhook(body: Mapping[str, Any]) -> tuple[str, Call]:
    """(event, call) from a whole Retell webhook body `{"event", "call"}` (or the legacy `{"event", "data"}`).

    Every voice event carries a call; chat events (`chat_*`, keyed otherwise) fail here by name.
    """
    if not isinstance(body, Mapping):
        raise RecordError(CALLS, None, f"expected an object, got {type(body).__name__}")
    key, _ = _webhook_call(body)
    record_id = call_id_of_webhook(body)
    if key is None:
        raise RecordError(CALLS, None, "call: missing (and no legacy 'data' either)")
    model = _CallWebhook if key == "call" else _LegacyCallWebhook
    webhook = validate_record(model, body, CALLS, record_id)
    return getattr(webhook, "event"), _call(getattr(webhook, key))  # noqa: B009 - both models have it


def call_id_of_webhook(body: Mapping[str, Any]) -> str | None:
    """The call id an event is about, without validating it: for de-duplication and error messages."""
    if not isinstance(body, Mapping):
        return None
    _, call = _webhook_call(body)
    return record_id_of(call, "call_id") if isinstance(call, Mapping) else None


def merge_call(base: Call, detail: Call) -> Call:
    """`base` (a v3 list item) with its gaps filled from `detail` (get-call of the same call).

    Fields `base` has keep their value; None fields, and metadata or variables that came back empty,
    take the detail's. The transcript is the field this exists for: v3 list items never carry it.
    """
    if base.call_id != detail.call_id:
        raise RecordError(CALLS, base.call_id, "call_id: the detail record is for a different call")
    gaps = {
        name: getattr(detail, name)
        for name in Call.model_fields
        if getattr(base, name) is None or getattr(base, name) == {}
    }
    return base.model_copy(update=gaps)

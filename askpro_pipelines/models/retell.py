"""Typed, normalised Retell AI records: one shape whatever endpoint generation answered.

Retell changed its list endpoints in 2026 (bare arrays became `{items, has_more, pagination_key}`,
list-agents items became summaries) and moved phone-number routing from single
`inbound_agent_id`/`inbound_agent_version` fields to weighted `inbound_agents[]`. Both generations
are read here and turned into the same records. Versions are ints (the schema types some as floats,
so 3.0 is accepted and 3.5 rejected), timestamps are milliseconds since the epoch and become
tz-aware UTC datetimes, and a phone number's agent version is text because it may be a tag ("prod").

Prompts, LLM tools and URLs are redacted on the way in: Retell's built-in Cal.com tools carry a
`cal_api_key`, and nothing that leaves this module may hold one.

Every parser raises `RecordError` naming the entity, the record id and the failing field path;
the payload itself is never echoed.
"""

import datetime
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from askpro_pipelines.models.errors import (
    MAX_REPORTED_FIELDS,
    RecordError,
    record_id_of,
    validate_record,
)
from askpro_pipelines.models.values import (
    MillisShowingNumber,
    StringId,
    VersionShowingNumber,
    as_version_showing_number,
    number_repr,
)
from askpro_pipelines.redaction import redact_mapping, redact_secrets

AGENTS = "retell_agents"
LLMS = "retell_llms"
PHONE_NUMBERS = "retell_phone_numbers"

RETELL_LLM = "retell-llm"
CUSTOM_LLM = "custom-llm"
CONVERSATION_FLOW = "conversation-flow"

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")

# LLM tool types the models know: retell-sdk 6.2.13's, plus the built-in Cal.com tools Retell
# deprecated in 2026-08 that accounts in transition still hold (reference §11.3).
TOOL_TYPES = frozenset(
    {
        "end_call", "transfer_call", "press_digit", "send_sms", "custom", "code", "agent_swap",
        "extract_dynamic_variable", "bridge_transfer", "cancel_transfer", "mcp", "integration_app",
    }
)  # fmt: skip
LEGACY_CAL_TOOL_TYPES = frozenset({"check_availability_cal", "book_appointment_cal"})
RESPONSE_ENGINE_TYPES = frozenset({RETELL_LLM, CUSTOM_LLM, CONVERSATION_FLOW})
PHONE_NUMBER_TYPES = frozenset({"retell-twilio", "retell-telnyx", "custom"})


def hash_prompt(prompt: str | None) -> str | None:
    """sha256 hex of a prompt, so prompt changes can be detected and compared without reading prompts."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest() if prompt else None


# ---- normalised records ---------------------------------------------------------------------


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgentVersion(_Record):
    """One version of a voice/chat agent: the row of `retell_agents`, keyed by (agent_id, version)."""

    agent_id: str
    version: int
    agent_name: str | None
    is_published: bool | None
    version_title: str | None = None
    base_version: int | None = None  # the version this one was created from
    voice_id: str | None
    language: str | None  # a locale, "multi", or several locales joined with "," when the API gives an array
    timezone: str | None = None  # Retell uses America/Los_Angeles when unset
    webhook_url: str | None  # redacted; when set, this agent's events go here instead of the account webhook
    response_engine_type: str | None  # retell-llm | custom-llm | conversation-flow
    llm_id: str | None  # retell-llm only
    llm_version: int | None  # retell-llm only
    conversation_flow_id: str | None = None  # conversation-flow only
    conversation_flow_version: int | None = None  # conversation-flow only
    llm_websocket_url: str | None = None  # custom-llm only, redacted
    last_modified: datetime.datetime | None
    prompt: str | None = None  # from the agent's LLM (see `with_prompt`), redacted
    prompt_hash: str | None = None  # sha256 hex of `prompt`; always derived from it

    @model_validator(mode="before")
    @classmethod
    def _redact_and_hash_prompt(cls, data: Any) -> Any:
        """The hash is of the redacted prompt; a given hash that disagrees would make change detection lie."""
        if not isinstance(data, Mapping):
            return data
        prompt = data.get("prompt")
        if isinstance(prompt, str):
            prompt = redact_secrets(prompt) or None
        expected = hash_prompt(prompt) if isinstance(prompt, str) else None
        given = data.get("prompt_hash")
        if given is not None and given != expected:
            raise ValueError("prompt_hash must be the sha256 hex of the redacted prompt (None without a prompt)")
        return {**data, "prompt": prompt, "prompt_hash": expected}

    @field_validator("webhook_url", "llm_websocket_url")
    @classmethod
    def _redacted(cls, value: str | None) -> str | None:
        return redact_secrets(value)


class AgentTag(_Record):
    """A named pointer to an agent version (e.g. "prod"), which phone numbers may route to."""

    tag: str
    version: int | None
    dynamic_variables: dict[str, Any]  # redacted

    @field_validator("dynamic_variables")
    @classmethod
    def _redacted(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact_mapping(value)


class AgentSummary(_Record):
    """An agent as the current list-agents endpoint returns it: no config, so fetch versions separately."""

    agent_id: str
    agent_name: str | None
    channel: str | None  # voice | chat
    tags: list[AgentTag]  # sorted by tag name
    user_modified: datetime.datetime | None

    def version_for_tag(self, tag: str) -> int | None:
        """The version a tag points to, to resolve a phone binding such as agent_version="prod"."""
        return next((t.version for t in self.tags if t.tag == tag), None)


class Llm(_Record):
    """One version of a Retell LLM (the prompt and tools behind a retell-llm agent), redacted."""

    llm_id: str
    version: int | None
    is_published: bool | None = None
    model: str | None
    s2s_model: str | None = None  # speech-to-speech model, used instead of `model`
    begin_message: str | None = None
    general_prompt: str | None
    prompt_text: str  # general prompt and every state's prompt, as hashed into AgentVersion.prompt_hash
    tools: list[dict[str, Any]]  # general tools, then state tools (which carry "state_name")
    cal_event_type_ids: list[str] = []  # event types the booking tools book: the Retell <-> Cal link
    last_modified: datetime.datetime | None

    @field_validator("begin_message", "general_prompt", "prompt_text", "tools")
    @classmethod
    def _redacted(cls, value: Any) -> Any:
        return redact_secrets(value)

    @property
    def prompt_hash(self) -> str | None:
        """The hash an agent using this LLM gets, None when the LLM has no prompt."""
        return hash_prompt(self.prompt_text)


class PhoneAgentBinding(_Record):
    """One agent a phone number routes calls to, in one direction."""

    direction: Literal["inbound", "outbound"]
    agent_id: str
    agent_version: str | None  # "7", or a tag such as "prod" / "latest_published"; None means Retell's default
    weight: float | None  # share of calls (weights of one direction sum to 1); a lone legacy agent gets 1.0


class PhoneNumber(_Record):
    """A Retell phone number and the agents it routes to."""

    phone_number: str  # E.164
    phone_number_pretty: str | None
    phone_number_type: str | None = None  # retell-twilio | retell-telnyx | custom
    nickname: str | None
    area_code: int | None = None  # US numbers only
    inbound_webhook_url: str | None = None  # redacted
    bindings: list[PhoneAgentBinding]  # inbound first, each direction in API order
    last_modified: datetime.datetime | None

    @field_validator("inbound_webhook_url")
    @classmethod
    def _redacted(cls, value: str | None) -> str | None:
        return redact_secrets(value)

    def _main(self, direction: str) -> PhoneAgentBinding | None:
        """The binding with the highest weight (the first on a tie; a missing weight counts as lowest)."""
        candidates = [b for b in self.bindings if b.direction == direction]
        return max(candidates, key=lambda b: -math.inf if b.weight is None else b.weight, default=None)

    @property
    def inbound_agent_id(self) -> str | None:
        """The agent answering most inbound calls, for readers who want one agent per number."""
        binding = self._main("inbound")
        return binding.agent_id if binding else None

    @property
    def inbound_agent_version(self) -> str | None:
        binding = self._main("inbound")
        return binding.agent_version if binding else None

    @property
    def outbound_agent_id(self) -> str | None:
        """The agent placing most outbound calls."""
        binding = self._main("outbound")
        return binding.agent_id if binding else None

    @property
    def outbound_agent_version(self) -> str | None:
        binding = self._main("outbound")
        return binding.agent_version if binding else None


# ---- value conversions ----------------------------------------------------------------------


def _as_text_version(value: Any) -> str:
    """A version number as text ("7"), or a version tag ("prod", "latest_published") as given."""
    if isinstance(value, str):
        text = value.strip()
        if text:
            return text
        raise PydanticCustomError("agent_version", "Input should be a version number or a non-empty tag")
    return str(as_version_showing_number(value))


def _as_weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise PydanticCustomError(
            "weight", "Input should be a non-negative number, got {value}", {"value": number_repr(value)}
        )
    return float(value)


def _as_e164(value: Any) -> str:
    if not isinstance(value, str) or not _E164.fullmatch(value.strip()):
        raise PydanticCustomError("e164", "Input should be an E.164 phone number such as +493012345678")
    return value.strip()


def _as_language(value: Any) -> str:
    """Retell gives one locale, the legacy "multi", or an array of locales; store one text value."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return ",".join(value)
    raise PydanticCustomError("language", "Input should be a locale string or a non-empty array of locales")


_TextVersion = Annotated[str, PlainValidator(_as_text_version)]
_Weight = Annotated[float, PlainValidator(_as_weight)]
_E164Number = Annotated[str, PlainValidator(_as_e164)]
_Language = Annotated[str, PlainValidator(_as_language)]


# ---- raw shapes -----------------------------------------------------------------------------


class _Raw(BaseModel):
    """Raw API shape: strict types (a string where an int belongs is an error), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class _RawResponseEngine(_Raw):
    type: str
    llm_id: StringId | None = None
    conversation_flow_id: StringId | None = None
    version: VersionShowingNumber | None = None
    llm_websocket_url: str | None = None


_NO_ENGINE = _RawResponseEngine(type="")


class _RawAgent(_Raw):
    """AgentResponse: get-agent, get-agent-versions items, legacy GET /list-agents items."""

    agent_id: StringId
    version: VersionShowingNumber
    agent_name: str | None = None
    is_published: bool | None = None
    version_title: str | None = None
    base_version: VersionShowingNumber | None = None
    response_engine: _RawResponseEngine | None = None
    voice_id: str | None = None
    language: _Language | None = None
    timezone: str | None = None
    webhook_url: str | None = None
    last_modification_timestamp: MillisShowingNumber | None = None


class _RawAgentTag(_Raw):
    version: VersionShowingNumber | None = None
    dynamic_variables: dict[str, Any] | None = None


class _RawAgentSummary(_Raw):
    """An item of the current POST /v2/list-agents."""

    agent_id: StringId
    agent_name: str | None = None
    channel: str | None = None
    tags: dict[str, _RawAgentTag] | None = None
    user_modified_timestamp: MillisShowingNumber | None = None
    is_suspended: bool | None = None


class _RawAgentVersionItem(_Raw):
    """An item of GET /list-agent-versions/{agent_id}: a version's metadata, no configuration."""

    version: VersionShowingNumber
    is_published: bool | None = None
    last_modification_timestamp: MillisShowingNumber | None = None


class _RawState(_Raw):
    name: str | None = None
    state_prompt: str | None = None
    tools: list[dict[str, Any]] | None = None


class _RawLlm(_Raw):
    """LlmResponse from GET /get-retell-llm/{llm_id}."""

    llm_id: StringId
    version: VersionShowingNumber | None = None
    is_published: bool | None = None
    model: str | None = None
    s2s_model: str | None = None
    begin_message: str | None = None
    general_prompt: str | None = None
    general_tools: list[dict[str, Any]] | None = None
    states: list[_RawState] | None = None
    last_modification_timestamp: MillisShowingNumber | None = None


class _RawWeightedAgent(_Raw):
    agent_id: StringId
    agent_version: _TextVersion | None = None
    weight: _Weight | None = None


class _RawPhoneNumber(_Raw):
    """PhoneNumberResponse, with both the weighted agent arrays and the deprecated single-agent fields."""

    phone_number: _E164Number
    phone_number_pretty: str | None = None
    phone_number_type: str | None = None
    nickname: str | None = None
    area_code: int | None = None
    inbound_webhook_url: str | None = None
    inbound_agents: list[_RawWeightedAgent] | None = None
    outbound_agents: list[_RawWeightedAgent] | None = None
    inbound_agent_id: StringId | None = None
    inbound_agent_version: _TextVersion | None = None
    outbound_agent_id: StringId | None = None
    outbound_agent_version: _TextVersion | None = None
    last_modification_timestamp: MillisShowingNumber | None = None


# ---- validation plumbing --------------------------------------------------------------------


# ---- list responses -------------------------------------------------------------------------


def unwrap_list(body: Any, *, entity: str) -> tuple[list[Any], bool, str | None]:
    """(items, has_more, pagination_key) of a list response, legacy bare array or current envelope.

    Retell's 2026 list endpoints wrap items in `{items, has_more, pagination_key}`; the legacy ones
    return the array itself (one page, nothing more to fetch).
    """
    if isinstance(body, list):
        return list(body), False, None
    if not isinstance(body, Mapping) or "items" not in body:
        if isinstance(body, Mapping):
            keys = ", ".join(repr(key)[:40] for key in list(body)[:MAX_REPORTED_FIELDS]) or "none"
            found = f"an object with keys {keys}"
        else:
            found = type(body).__name__
        raise RecordError(entity, None, f"expected a JSON array or an object with 'items', got {found}")
    items, has_more, key = body["items"], body.get("has_more", False), body.get("pagination_key")
    if not isinstance(items, list):
        raise RecordError(entity, None, f"items: expected an array, got {type(items).__name__}")
    if has_more is None:
        has_more = False
    if not isinstance(has_more, bool):
        raise RecordError(entity, None, f"has_more: expected a boolean, got {type(has_more).__name__}")
    if key is not None and not isinstance(key, str):
        raise RecordError(entity, None, f"pagination_key: expected a string, got {type(key).__name__}")
    key = key or None
    if has_more and key is None:
        # Paging on would repeat the first page forever; stopping would silently drop records.
        raise RecordError(entity, None, "pagination_key: missing although has_more is true")
    return list(items), has_more, key


# ---- agents ---------------------------------------------------------------------------------


def agent_version_from_raw(raw: Mapping[str, Any]) -> AgentVersion:
    """An AgentResponse (get-agent, get-agent-versions item, legacy list-agents item) as one version row."""
    record_id = record_id_of(raw, "agent_id")
    agent = validate_record(_RawAgent, raw, AGENTS, record_id)
    engine = agent.response_engine
    engine_type = engine.type if engine else None
    if engine and engine_type == RETELL_LLM and engine.llm_id is None:
        raise RecordError(AGENTS, record_id, "response_engine.llm_id: required when type is retell-llm")
    if engine and engine_type == CONVERSATION_FLOW and engine.conversation_flow_id is None:
        raise RecordError(
            AGENTS, record_id, "response_engine.conversation_flow_id: required when type is conversation-flow"
        )
    is_llm, is_flow = engine_type == RETELL_LLM, engine_type == CONVERSATION_FLOW
    if engine is None:  # no engine: every engine field below is None
        engine = _NO_ENGINE
    return AgentVersion(
        agent_id=agent.agent_id,
        version=agent.version,
        agent_name=agent.agent_name,
        is_published=agent.is_published,
        version_title=agent.version_title,
        base_version=agent.base_version,
        voice_id=agent.voice_id,
        language=agent.language,
        timezone=agent.timezone,
        webhook_url=agent.webhook_url or None,
        response_engine_type=engine_type,
        llm_id=engine.llm_id if is_llm else None,
        llm_version=engine.version if is_llm else None,
        conversation_flow_id=engine.conversation_flow_id if is_flow else None,
        conversation_flow_version=engine.version if is_flow else None,
        llm_websocket_url=(engine.llm_websocket_url or None) if engine_type == CUSTOM_LLM else None,
        last_modified=agent.last_modification_timestamp,
    )


class ListedVersion(NamedTuple):
    """An item of GET /list-agent-versions/{agent_id}: enough to tell whether a stored version still holds."""

    version: int
    is_published: bool
    last_modified: datetime.datetime | None


class StoredVersion(NamedTuple):
    """A published version as the warehouse holds it; `whole` when the agent's row (voice, language,
    webhook, engine) was stored at this version too, so it may stand in as the agent's latest version."""

    row: AgentVersion
    whole: bool


def listed_version_from_raw(raw: Mapping[str, Any], agent_id: str) -> ListedVersion:
    """An item of GET /list-agent-versions/{agent_id} (the version an int, also when sent as 7.0)."""
    item = validate_record(_RawAgentVersionItem, raw, AGENTS, agent_id)
    return ListedVersion(item.version, bool(item.is_published), item.last_modification_timestamp)


def agent_summary_from_raw(raw: Mapping[str, Any]) -> AgentSummary:
    """An item of the current POST /v2/list-agents; it carries no config, only identity and tags."""
    summary = validate_record(_RawAgentSummary, raw, AGENTS, record_id_of(raw, "agent_id"))
    tags = [
        AgentTag(tag=name, version=tag.version, dynamic_variables=dict(tag.dynamic_variables or {}))
        for name, tag in sorted((summary.tags or {}).items())
    ]
    return AgentSummary(
        agent_id=summary.agent_id,
        agent_name=summary.agent_name,
        channel=summary.channel,
        tags=tags,
        user_modified=summary.user_modified_timestamp,
    )


def is_full_agent(raw: Any) -> bool:
    """Whether a list-agents item is a full AgentResponse (legacy) rather than a summary (current).

    Lets a client that fell back to the legacy endpoint skip the per-agent get-agent-versions calls.
    """
    return isinstance(raw, Mapping) and "version" in raw and "response_engine" in raw


# ---- LLMs -----------------------------------------------------------------------------------


def _prompt_text(general_prompt: str | None, states: Iterable[_RawState]) -> str:
    """What the model is told: Retell appends the active state's prompt to the general prompt."""
    parts = [general_prompt] if general_prompt else []
    parts += [f"## state: {state.name or '?'}\n{state.state_prompt}" for state in states if state.state_prompt]
    return "\n\n".join(parts)


def _cal_event_type_ids(tools: Iterable[Mapping[str, Any]]) -> list[str]:
    """Event types the tools book: a built-in Cal.com tool's `event_type_id`, or a custom booking
    function's `eventTypeId`/`event_type_id` query parameter (how such functions name it by convention)."""
    ids: list[str] = []
    for tool in tools:
        query = tool.get("query_params") if tool.get("type") == "custom" else None
        query = query if isinstance(query, Mapping) else {}
        value = tool.get("event_type_id", query.get("eventTypeId", query.get("event_type_id")))
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
            text = str(value).strip()
            if text not in ids:
                ids.append(text)
    return ids


def llm_from_raw(raw: Mapping[str, Any]) -> Llm:
    """A Retell LLM (GET /get-retell-llm): prompts joined for hashing, tools kept, secrets masked."""
    llm = validate_record(_RawLlm, raw, LLMS, record_id_of(raw, "llm_id"))
    states = llm.states or []
    tools = list(llm.general_tools or [])
    tools += [{**tool, "state_name": state.name} for state in states for tool in state.tools or []]
    return Llm(
        llm_id=llm.llm_id,
        version=llm.version,
        is_published=llm.is_published,
        model=llm.model,
        s2s_model=llm.s2s_model,
        begin_message=llm.begin_message,
        general_prompt=llm.general_prompt or None,
        prompt_text=_prompt_text(llm.general_prompt, states),
        tools=tools,
        cal_event_type_ids=_cal_event_type_ids(tools),
        last_modified=llm.last_modification_timestamp,
    )


def with_prompt(agent: AgentVersion, llm: Llm | None) -> AgentVersion:
    """The agent version with its LLM's prompt and prompt hash attached (cleared when llm is None).

    Refuses an LLM the agent does not use, so a prompt never lands on the wrong version.
    """
    if llm is not None:
        if agent.response_engine_type != RETELL_LLM or agent.llm_id != llm.llm_id:
            raise RecordError(
                AGENTS,
                agent.agent_id,
                f"response_engine.llm_id: version {agent.version} uses {agent.llm_id!r}, not LLM {llm.llm_id!r}",
            )
        if agent.llm_version is not None and llm.version is not None and agent.llm_version != llm.version:
            raise RecordError(
                AGENTS,
                agent.agent_id,
                f"response_engine.version: version {agent.version} uses LLM version {agent.llm_version}, "
                f"not {llm.version}",
            )
    prompt = (llm.prompt_text or None) if llm is not None else None
    return AgentVersion.model_validate({**agent.model_dump(), "prompt": prompt, "prompt_hash": None})


# ---- phone numbers --------------------------------------------------------------------------


def _bindings(
    direction: Literal["inbound", "outbound"],
    weighted: list[_RawWeightedAgent] | None,
    legacy_id: str | None,
    legacy_version: str | None,
) -> list[PhoneAgentBinding]:
    """Weighted routing when present, else the deprecated single agent (which takes every call)."""
    if weighted:
        return [
            PhoneAgentBinding(direction=direction, agent_id=a.agent_id, agent_version=a.agent_version, weight=a.weight)
            for a in weighted
        ]
    if legacy_id is not None:
        return [PhoneAgentBinding(direction=direction, agent_id=legacy_id, agent_version=legacy_version, weight=1.0)]
    return []


def phone_number_from_raw(raw: Mapping[str, Any]) -> PhoneNumber:
    """A phone number from list-phone-numbers (either generation) or get-phone-number."""
    number = validate_record(_RawPhoneNumber, raw, PHONE_NUMBERS, record_id_of(raw, "phone_number"))
    bindings = _bindings("inbound", number.inbound_agents, number.inbound_agent_id, number.inbound_agent_version)
    bindings += _bindings("outbound", number.outbound_agents, number.outbound_agent_id, number.outbound_agent_version)
    return PhoneNumber(
        phone_number=number.phone_number,
        phone_number_pretty=number.phone_number_pretty,
        phone_number_type=number.phone_number_type,
        nickname=number.nickname,
        area_code=number.area_code,
        inbound_webhook_url=number.inbound_webhook_url or None,
        bindings=bindings,
        last_modified=number.last_modification_timestamp,
    )

"""Response-shape drift: what each endpoint sent, against what our models know.

Cal.com and Retell change shapes under their users (a renamed field, a new `call_status`, a
removed `inbound_agent_id`); our models ignore unknown keys and keep enum-like values as text, so
such a change does not break a sync, it silently thins the data. The clients hand every raw
record they parse to a `ShapeLog`, which notes per endpoint the keys seen, the values of the
enum-like fields and the expected keys a record lacked, each with an example record id. The
sync stores that per tenant (`api_shapes`), and the `api_responses_match_models` check warns on
whatever the models do not know, so we hear of a change before a user does.

Known keys are the fields the models read plus the documented ones they leave aside on purpose
(Retell: every field of retell-sdk 6.2.13's response types; Cal.com: the reference's field lists
for event types, users, memberships, schedules and bookings).
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from askpro_pipelines.models.bookings import normalise_status
from askpro_pipelines.models.calls import CALL_STATUSES, CALL_TYPES, DIRECTIONS, DISCONNECTION_REASONS
from askpro_pipelines.models.errors import record_id_of
from askpro_pipelines.models.retell import (
    LEGACY_CAL_TOOL_TYPES,
    PHONE_NUMBER_TYPES,
    RESPONSE_ENGINE_TYPES,
    TOOL_TYPES,
)

KEY, VALUE, MISSING = "key", "value", "missing"  # the kinds of observation in `api_shapes`
BOOKING_STATUSES = frozenset({"accepted", "pending", "cancelled", "rejected", "awaiting_host"})


@dataclass(frozen=True)
class EndpointShape:
    """What our models know of one endpoint's records."""

    id_field: str  # names an example record
    known: frozenset[str]  # keys the models read or knowingly leave aside
    expected: frozenset[str]  # keys the models rely on: a record without one is drift
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict)  # path ("a.b", "list[].x") -> values
    normalise: Callable[[str], str] = str  # how enum values compare (booking status casing differs by surface)


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---- Retell: the fields of retell-sdk 6.2.13's response types ---------------------------------

_AGENT_KEYS = _keys("""
    agent_id agent_name allow_dtmf_interruption allow_user_dtmf ambient_sound ambient_sound_volume assigned_tags
    backchannel_frequency backchannel_words base_version begin_message_delay_ms boosted_keywords
    call_screening_option contact_memory_config custom_stt_config data_storage_retention_days
    data_storage_setting denoising_enhancement_level denoising_mode enable_backchannel enable_dnc_detection
    enable_dynamic_responsiveness enable_dynamic_voice_speed enable_expressive_mode end_call_after_silence_ms
    expressive_emotion_tags expressive_mode_prompt fallback_voice_ids guardrail_config handbook_config
    interruption_sensitivity is_published is_transfer_agent ivr_option language last_modification_timestamp
    max_call_duration_ms opt_in_signed_url pii_config post_call_analysis_data post_call_analysis_model
    post_session_tools pre_session_tools pronunciation_dictionary reminder_max_count reminder_trigger_ms
    response_engine responsiveness ring_duration_ms signed_url_expiration_ms stt_mode timezone user_dtmf_options
    version version_description version_title vocab_specialization voice_id voice_model voice_speed
    voice_temperature voicemail_option volume webhook_events webhook_timeout_ms webhook_url
""")
_LLM_KEYS = _keys("""
    backup_model begin_after_user_silence_ms begin_message default_dynamic_variables general_prompt general_tools
    is_published is_transfer_llm kb_config knowledge_base_ids last_modification_timestamp llm_id mcps model
    model_config model_high_priority model_temperature model_ultrafast s2s_model start_speaker starting_state
    states tool_call_strict_mode version
""")
_PHONE_KEYS = _keys("""
    allowed_inbound_country_list allowed_outbound_country_list area_code fallback_number inbound_agents
    inbound_sms_agents inbound_sms_webhook_url inbound_webhook_url last_modification_timestamp nickname
    outbound_agents outbound_sms_agents phone_number phone_number_pretty phone_number_type sip_outbound_trunk_config
""")
# The deprecated single-agent binding (removed from the SDK's types 2026-04-21) that legacy lists carry.
_LEGACY_PHONE_KEYS = _keys("inbound_agent_id inbound_agent_version outbound_agent_id outbound_agent_version")
_CALL_KEYS = _keys("""
    access_token agent_id agent_name agent_tag agent_version call_analysis call_cost call_id call_status call_type
    collected_dynamic_variables custom_sip_headers data_storage_setting direction disconnection_reason duration_ms
    end_timestamp from_number knowledge_base_retrieved_contents_url latency llm_token_usage metadata
    opt_in_signed_url post_session_transcript_with_tool_calls pre_session_transcript_with_tool_calls public_log_url
    recording_multi_channel_url recording_url retell_llm_dynamic_variables
    scrubbed_post_session_transcript_with_tool_calls scrubbed_pre_session_transcript_with_tool_calls
    scrubbed_recording_multi_channel_url scrubbed_recording_url scrubbed_transcript_with_tool_calls start_timestamp
    telephony_identifier to_number transcript transcript_object transcript_with_tool_calls transfer_destination
    transfer_end_timestamp
""")
_SUMMARY_KEYS = _keys("agent_id agent_name channel is_suspended is_transfer_agent tags user_modified_timestamp")
_VERSION_ITEM_KEYS = _keys(
    "base_version is_published last_modification_timestamp version version_description version_title"
)

_AGENT = EndpointShape(
    "agent_id",
    _AGENT_KEYS,
    _keys("agent_id version response_engine voice_id last_modification_timestamp"),
    {"response_engine.type": RESPONSE_ENGINE_TYPES},
)
_TOOLS = TOOL_TYPES | LEGACY_CAL_TOOL_TYPES
_PHONE = EndpointShape(
    "phone_number",
    _PHONE_KEYS,
    _keys("phone_number last_modification_timestamp"),
    {"phone_number_type": PHONE_NUMBER_TYPES},
)
_CALL = EndpointShape(
    "call_id",
    _CALL_KEYS,
    _keys("call_id call_type call_status agent_id agent_version"),
    {
        "call_status": CALL_STATUSES,
        "disconnection_reason": DISCONNECTION_REASONS,
        "call_type": CALL_TYPES,
        "direction": DIRECTIONS,
    },
)

# ---- Cal.com bookings: the reference's field lists (§2.5 v1, §3.5 BookingOutput_2024_08_13) --

_V2_BOOKING = EndpointShape(
    "uid",
    _keys("""
        id uid title description hosts status cancellationReason cancelledByEmail reschedulingReason
        rescheduledByEmail rescheduledFromUid rescheduledToUid start end duration eventTypeId eventType meetingUrl
        location absentHost createdAt updatedAt metadata rating icsUid attendees guests bookingFieldsResponses
        recurringBookingUid
    """),
    _keys("id uid status start end eventType hosts attendees createdAt updatedAt"),
    {"status": BOOKING_STATUSES},
    normalise_status,
)
_V1_BOOKING = EndpointShape(
    "uid",
    _keys("""
        id userId description eventTypeId uid title startTime endTime attendees user eventType payment metadata
        status responses fromReschedule cancelledBy rescheduledBy createdAt
    """),
    _keys("id uid status startTime endTime eventTypeId userId attendees"),
    {"status": BOOKING_STATUSES},
    normalise_status,
)

# ---- Cal.com dimensions: the reference's field lists (§2.5 v1, §3.5 v2) ------------------------
# A v2 endpoint read with a missing or wrong cal-api-version answers an older shape (`length`
# instead of `lengthInMinutes`, `workingHours` instead of `availability`): that shows here too.

_SCHEDULING_TYPES = frozenset({"roundRobin", "collective", "managed", "ROUND_ROBIN", "COLLECTIVE", "MANAGED"})
_V2_EVENT_TYPE = EndpointShape(
    "id",
    _keys("""
        id lengthInMinutes lengthInMinutesOptions title slug description locations bookingFields disableGuests
        slotInterval minimumBookingNotice beforeEventBuffer afterEventBuffer recurrence metadata price currency
        lockTimeZoneToggleOnBookingPage isInstantEvent seatsPerTimeSlot forwardParamsSuccessRedirect
        successRedirectUrl seatsShowAvailabilityCount scheduleId bookingLimitsCount bookerActiveBookingsLimit
        onlyShowFirstAvailableSlot bookingLimitsDuration bookingWindow bookerLayouts confirmationPolicy
        requiresBookerEmailVerification hideCalendarNotes color seats offsetStart customName destinationCalendar
        useDestinationCalendarEmail hideCalendarEventDetails hideOrganizerEmail calVideoSettings hidden
        bookingRequiresAuthentication ownerId users
        teamId parentEventTypeId hosts assignAllTeamMembers schedulingType team emailSettings
        rescheduleWithSameRoundRobinHost
    """),
    _keys("id lengthInMinutes title slug hidden"),
    {"schedulingType": _SCHEDULING_TYPES},
)
_V1_EVENT_TYPE = EndpointShape(
    "id",
    _keys("""
        id title slug length hidden position userId teamId scheduleId eventName timeZone periodType periodStartDate
        periodEndDate periodDays periodCountCalendarDays requiresConfirmation disableGuests hideCalendarNotes
        recurringEvent minimumBookingNotice beforeEventBuffer afterEventBuffer schedulingType price currency
        slotInterval parentId successRedirectUrl description locations metadata seatsPerTimeSlot seatsShowAttendees
        seatsShowAvailabilityCount bookingFields bookingLimits durationLimits onlyShowFirstAvailableSlot
        customInputs hashedLink team hosts owner children link
    """),
    _keys("id length title slug"),
    {"schedulingType": _SCHEDULING_TYPES},
)
_V2_SCHEDULE = EndpointShape(
    "id",
    _keys("id ownerId name timeZone availability isDefault overrides"),
    _keys("id ownerId name timeZone availability isDefault"),
    {"availability[].days[]": _keys("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")},
)
_USER_KEYS = _keys("""
    id username name email emailVerified bio avatarUrl timeZone weekStart appTheme theme defaultScheduleId locale
    timeFormat hideBranding brandColor darkBrandColor allowDynamicBooking createdDate verified invitedTo metadata
""")

# (api, endpoint as a template) -> shape; every endpoint the sync parses records from.
SHAPES: dict[tuple[str, str], EndpointShape] = {
    ("retell", "/v2/list-agents"): EndpointShape(
        "agent_id", _SUMMARY_KEYS, _keys("agent_id tags user_modified_timestamp")
    ),
    ("retell", "/list-agent-versions/{agent_id}"): EndpointShape(
        "version", _VERSION_ITEM_KEYS, _keys("version is_published last_modification_timestamp")
    ),
    ("retell", "/get-agent/{agent_id}"): _AGENT,
    ("retell", "/get-agent-versions/{agent_id}"): _AGENT,
    ("retell", "/list-agents"): _AGENT,
    ("retell", "/get-retell-llm/{llm_id}"): EndpointShape(
        "llm_id",
        _LLM_KEYS,
        _keys("llm_id version general_prompt general_tools last_modification_timestamp"),
        {"general_tools[].type": _TOOLS, "states[].tools[].type": _TOOLS},
    ),
    ("retell", "/v2/list-phone-numbers"): _PHONE,
    ("retell", "/list-phone-numbers"): EndpointShape(
        _PHONE.id_field, _PHONE_KEYS | _LEGACY_PHONE_KEYS, _PHONE.expected, _PHONE.enums
    ),
    ("retell", "/v3/list-calls"): _CALL,
    ("retell", "/v2/list-calls"): _CALL,
    ("retell", "/v2/get-call/{call_id}"): _CALL,
    ("calcom", "/v2/event-types"): _V2_EVENT_TYPE,
    ("calcom", "/v2/teams/{team_id}/event-types"): _V2_EVENT_TYPE,
    ("calcom", "/v1/event-types"): _V1_EVENT_TYPE,
    ("calcom", "/v1/teams/{team_id}/event-types"): _V1_EVENT_TYPE,
    ("calcom", "/v2/schedules"): _V2_SCHEDULE,
    ("calcom", "/v2/organizations/{org_id}/schedules"): _V2_SCHEDULE,
    ("calcom", "/v1/schedules"): EndpointShape(
        "id", _keys("id userId name timeZone availability"), _keys("id userId availability")
    ),
    ("calcom", "/v2/organizations/{org_id}/users"): EndpointShape(
        "id", _USER_KEYS | _keys("profile"), _keys("id email username timeZone")
    ),
    ("calcom", "/v2/teams/{team_id}/memberships"): EndpointShape(
        "userId",
        _keys("id userId teamId accepted role disableImpersonation user createdAt updatedAt"),
        _keys("userId role user"),
        {"role": frozenset({"MEMBER", "ADMIN", "OWNER"})},
    ),
    ("calcom", "/v1/users"): EndpointShape(
        "id", _USER_KEYS | _keys("avatar endTime bufferTime role"), _keys("id email")
    ),
    ("calcom", "/v2/bookings"): _V2_BOOKING,
    ("calcom", "/v1/bookings"): _V1_BOOKING,
}


def values_at(record: Any, path: str) -> Iterator[Any]:
    """The values at a dotted path; `name[]` steps into every item of a list."""
    if "." not in path and "[" not in path:  # most paths name a top-level field: one lookup
        value = record.get(path) if isinstance(record, Mapping) else None
        return iter(() if value is None else (value,))
    current = [record]
    for step in path.split("."):
        many = step.endswith("[]")
        name = step.removesuffix("[]")
        following = []
        for item in current:
            value = item.get(name) if isinstance(item, Mapping) else None
            if many:
                following += value if isinstance(value, list) else []
            elif value is not None:
                following.append(value)
        current = following
    return iter(current)


@dataclass
class Seen:
    """How many records showed something, and one of them by id."""

    records: int = 0
    example: str | None = None

    def add(self, record_id: str | None) -> None:
        self.records += 1
        if self.example is None and record_id is not None:
            self.example = record_id


@dataclass
class KeySet:
    """The records that had exactly one set of keys: their count, and the first one's id (with its
    position among the endpoint's records, so a key's example is its earliest record with an id)."""

    records: int = 0
    example: str | None = None
    position: int = 0


@dataclass
class EndpointObservation:
    """Per endpoint: records by key set (a page of records shares one or two key sets, so a record
    costs one lookup instead of one per key) and the enum values seen."""

    records: int = 0
    key_sets: dict[tuple[str, ...], KeySet] = field(default_factory=dict)
    values: dict[tuple[str, str], Seen] = field(default_factory=dict)

    def keys(self) -> dict[str, Seen]:
        """Each key seen: in how many records, and the earliest of them with an id."""
        return self._fold(lambda key_set: key_set)

    def missing(self, expected: frozenset[str]) -> dict[str, Seen]:
        """Each expected key records lacked: in how many, and the earliest of them with an id."""
        return self._fold(lambda key_set: sorted(expected.difference(key_set)))

    def _fold(self, names: Callable[[tuple[str, ...]], Iterable[str]]) -> dict[str, Seen]:
        found: dict[str, tuple[Seen, int]] = {}
        for key_set, group in self.key_sets.items():
            for name in names(key_set):
                seen, position = found.get(name, (Seen(), -1))
                seen.records += group.records
                if group.example is not None and (seen.example is None or group.position < position):
                    seen.example, position = group.example, group.position
                found[name] = (seen, position)
        return {name: seen for name, (seen, _) in found.items()}


_UNNAMED: Any = object()


def _example_id(shape: EndpointShape, record: Mapping[str, Any], owner_id: str | None) -> str | None:
    """A record's id as an example names it (`owner_id` for records without an id of their own)."""
    record_id = record_id_of(record, shape.id_field)
    return f"{owner_id} {shape.id_field} {record_id}" if owner_id is not None else record_id


class ShapeLog:
    """The shapes one client saw, per endpoint; fed by the client's record parsing."""

    def __init__(self, api: str):
        self.api = api
        self.endpoints: dict[str, EndpointObservation] = {}

    def watch(self, endpoint: str, records: Iterable[Any], owner_id: str | None = None) -> Iterator[Any]:
        """The records unchanged, each noted on the way through (records that are not objects are
        left to the parser, which reports them). `owner_id` names the examples of records that
        carry no id of their own (an agent's version items)."""
        shape = SHAPES[(self.api, endpoint)]
        seen = self.endpoints.setdefault(endpoint, EndpointObservation())
        for record in records:
            if isinstance(record, Mapping):
                self._note(shape, seen, record, owner_id)
            yield record

    @staticmethod
    def _note(shape: EndpointShape, seen: EndpointObservation, record: Mapping[str, Any], owner_id: str | None) -> None:
        seen.records += 1
        key_set = tuple(map(str, record))
        group = seen.key_sets.get(key_set)
        if group is None:
            group = seen.key_sets[key_set] = KeySet()
        group.records += 1
        record_id = _UNNAMED  # named only when an example is still wanting (most records need none)
        if group.example is None:
            record_id = _example_id(shape, record, owner_id)
            group.example, group.position = record_id, seen.records
        for path in shape.enums:
            for value in values_at(record, path):
                if isinstance(value, str) and value.strip():
                    found = seen.values.setdefault((path, shape.normalise(value)), Seen())
                    found.records += 1
                    if found.example is None:
                        if record_id is _UNNAMED:
                            record_id = _example_id(shape, record, owner_id)
                        found.example = record_id

    def rows(self) -> list[dict[str, Any]]:
        """One row per endpoint and key, enum value or missing key, marked known or not."""
        rows = []
        for endpoint, seen in sorted(self.endpoints.items()):
            shape = SHAPES[(self.api, endpoint)]
            base = {"api": self.api, "endpoint": endpoint}
            for key, s in sorted(seen.keys().items()):
                rows.append(base | _row(KEY, key, "", key in shape.known, s))
            for (path, value), s in sorted(seen.values.items()):
                rows.append(base | _row(VALUE, path, value, value in shape.enums[path], s))
            for key, s in sorted(seen.missing(shape.expected).items()):
                rows.append(base | _row(MISSING, key, "", False, s))
        return rows


def _row(kind: str, name: str, value: str, known: bool, seen: Seen) -> dict[str, Any]:
    return {
        "kind": kind,
        "field": name,
        "value": value,
        "known": known,
        "records": seen.records,
        "example_record_id": seen.example,
    }


def describe(row: Mapping[str, Any]) -> str:
    """One drift row in words: endpoint, field, value and an example record id."""
    where = f"{row['api']} {row['endpoint']}"
    example = f" (e.g. {row['example_record_id']}, {row['records']} record(s))"
    if row["kind"] == KEY:
        return f"{where}: unknown key {row['field']!r}{example}"
    if row["kind"] == MISSING:
        return f"{where}: expected key {row['field']!r} missing{example}"
    return f"{where}: unknown {row['field']} {row['value']!r}{example}"

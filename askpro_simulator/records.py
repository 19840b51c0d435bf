"""Bookings and Retell calls as records, the ids that carry their day, and the activity constants.

Shared by the generator (generation.py) and the per-tenant store (activity.py).
"""

from __future__ import annotations

import copy
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from askpro_simulator.accounts import stable_hash

if TYPE_CHECKING:
    from askpro_simulator.accounts import SimAgent, SimEventType, TenantAccounts
    from askpro_simulator.conversations import CallTruth

ACTIVITY_FIRST_DAY = date(2026, 1, 1)
ACTIVITY_LAST_DAY = date(2026, 12, 31)
"""Local days that have bookings and calls; other days are empty, so an open range is finite."""

BOOKING_LEAD_DAYS = 14
"""Bookings not made during a call are created up to this many days before their start (a
reschedule's new slot can be up to a day later than the original, so at most one day more)."""

MUTATION_EPOCH = datetime(2027, 1, 1, tzinfo=UTC)
"""Default `updatedAt` of test mutations counts up from here: after every generated timestamp,
so an `afterUpdatedAt` watermark taken from an earlier sync always sees the change."""

# Integer booking and attendee ids: inside the tenant's id block, above the static world's ids,
# one range of IDS_PER_DAY per day (bookings first, attendees from ATTENDEE_ID_OFFSET).
ACTIVITY_ID_OFFSET = 500_000
IDS_PER_DAY = 1_000
ATTENDEE_ID_OFFSET = 400
# Bookings made during a day's calls, at most: with the others (at most 125 then none) a busy day's
# bookings stay below ATTENDEE_ID_OFFSET and its attendees inside the day's range.
MAX_CALL_BOOKINGS_PER_DAY = 250

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BASE62 = string.digits + string.ascii_letters
_UID_DAY_CODES = 62 * 62
_CALL_DAY_CODES = 16**3

# fmt: off
FIRST_NAMES = [
    "Lukas", "Sabine", "Jürgen", "Käthe", "Björn", "Sören", "Hannah", "Jörg", "Ursula", "Günter",
    "Anneliese", "Lea", "Mia", "Finn", "Elias", "Renate", "Klaus", "Monika", "Wolfgang", "Brigitte",
    "Dieter", "Ömer", "Zoë", "Jens", "Heike", "Matthias", "Doris", "Tim", "Gisela", "Frauke",
]
LAST_NAMES = [
    "Hoffmann", "Krüger", "Müller", "Schröder", "Weiß", "Groß", "Köhler", "Bäcker", "Jäger", "Schmidt",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Hartmann", "Lange", "Schmitt", "Werner", "Krause",
    "Meier", "Lehmann", "Schulz", "Fuchs", "Vogel", "Dürr", "Öztürk", "Kühne", "Mößner", "Böttcher",
]
# fmt: on
MAIL_DOMAINS = ["example.de", "mail.example", "post.example", "web.example"]
MOBILE_PREFIXES = ["151", "152", "157", "160", "162", "163", "170", "171", "172", "173", "175", "176", "177", "179"]
LANDLINE_PREFIXES = ["30", "40", "89", "221", "211", "911", "351", "341"]
NOTES = [
    "Schmerzen im unteren Rücken seit 2 Wochen.",
    "Nackenverspannungen nach langer Büroarbeit.",
    "Überweisung vom Hausarzt liegt vor.",
    "Bitte kurz vorher anrufen, ich komme evtl. später.",
    "Knie-OP vor sechs Wochen, Nachbehandlung.",
    "Schulterprobleme beim Heben.",
    "Kann nur vormittags.",
]
CANCEL_REASONS = [
    "Termin passt leider nicht mehr.",
    "Krankheitsbedingt – ich melde mich wieder.",
    "Kollidiert mit einem Arbeitstermin.",
    "Über die Telefonrezeption abgesagt.",
]
REJECT_REASONS = [
    "Leider liegt keine Verordnung vor.",
    "Für diese Behandlung ist ein längerer Termin nötig.",
    "Die Praxis ist zu diesem Zeitpunkt geschlossen.",
]
RESCHEDULE_REASONS = ["Ich schaffe es erst später.", "Umbuchung auf Wunsch der Patientin.", "Bitte etwas früher."]

# Local hour of day -> relative call volume: office hours, a trickle in the evening and at night.
CALL_HOUR_WEIGHTS = [1, 1, 0, 0, 0, 1, 2, 6, 10, 10, 9, 8, 7, 7, 8, 8, 7, 6, 4, 3, 2, 2, 1, 1]
# ISO weekday (1 = Monday) -> share of a weekday's volume.
WEEKDAY_FACTORS = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 0.9, 6: 0.5, 7: 0.3}

# Cents per second, like the example calls (retell platform, TTS, LLM).
PRODUCT_PRICES = [("retell_platform", 0.1167), ("elevenlabs_tts", 0.0167), ("gpt-4.1", 0.0163)]

_V1_LOCATION_TYPES = {"address": "inPerson", "cal-video": "integrations:daily", "phone": "userPhone"}


# ---- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimAttendee:
    id: int
    name: str
    first_name: str
    last_name: str
    email: str
    phone_number: str | None
    time_zone: str
    locale: str = "de"


@dataclass(frozen=True)
class SimBooking:
    """One Cal.com booking; `status` in v2 casing (accepted | cancelled | pending | rejected)."""

    id: int
    uid: str
    event_type_id: int
    event_type_slug: str
    event_title: str
    title: str
    description: str  # the attendee's notes, "" when none
    organizer_id: int
    attendees: tuple[SimAttendee, ...]
    start: datetime  # UTC
    end: datetime
    status: str
    created_at: datetime
    updated_at: datetime
    location: str  # Cal.com's stored value: an address, a phone number or "integrations:daily"
    location_type: str  # the v1 booking-form value: inPerson | integrations:daily | userPhone
    requires_confirmation: bool = False
    cancellation_reason: str | None = None
    cancelled_by_email: str | None = None
    rejection_reason: str | None = None
    rescheduled: bool = False  # the old booking of a reschedule (cancelled, replaced by rescheduled_to_uid)
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    rescheduling_reason: str | None = None
    rescheduled_by_email: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None  # ground truth: the Retell call it was booked in, explicit link or not

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def attendee(self) -> SimAttendee:
        return self.attendees[0]


@dataclass(frozen=True)
class SimCall:
    """One Retell phone call; render it with `retell_call_object`."""

    call_id: str
    direction: str  # inbound | outbound
    from_number: str
    to_number: str
    agent_id: str
    agent_version: int
    agent_name: str
    agent_tag: str | None
    call_status: str  # ended | not_connected | error
    start_timestamp: int  # ms
    end_timestamp: int
    disconnection_reason: str
    caller_name: str  # the person on the other end (the caller, or who an outbound call reached)
    turns: tuple[tuple[str, str], ...]  # (agent | user, text)
    call_analysis: dict[str, Any]
    call_cost: dict[str, Any]
    latency: dict[str, Any]
    metadata: dict[str, str]
    retell_llm_dynamic_variables: dict[str, str]
    collected_dynamic_variables: dict[str, str]
    booking_uid: str | None = None  # ground truth: the booking made in this call, shared or not
    # (turns before it, entry): retell-sdk's tool_call_invocation / tool_call_result items
    tool_events: tuple[tuple[int, dict[str, Any]], ...] = ()
    truth: CallTruth | None = None  # ground truth of what the call was (conversations.py)

    @property
    def duration_ms(self) -> int:
        return self.end_timestamp - self.start_timestamp

    @property
    def start(self) -> datetime:
        return _EPOCH + timedelta(milliseconds=self.start_timestamp)

    @property
    def end(self) -> datetime:
        return _EPOCH + timedelta(milliseconds=self.end_timestamp)

    @property
    def connected(self) -> bool:
        return self.call_status != "not_connected"

    @property
    def transcript(self) -> str:
        return "\n".join(f"{'Agent' if role == 'agent' else 'User'}: {text}" for role, text in self.turns)


def retell_call_object(call: SimCall, transcript: bool = True) -> dict[str, Any]:
    """The Retell call object (GET /v2/get-call); without transcript fields for v3 list items."""
    record: dict[str, Any] = {
        "call_id": call.call_id,
        "call_type": "phone_call",
        "agent_id": call.agent_id,
        "agent_version": call.agent_version,
        "agent_name": call.agent_name,
    }
    if call.agent_tag:
        record["agent_tag"] = call.agent_tag
    record |= {
        "call_status": call.call_status,
        "direction": call.direction,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "start_timestamp": call.start_timestamp,
        "end_timestamp": call.end_timestamp,
        "duration_ms": call.duration_ms,
        "disconnection_reason": call.disconnection_reason,
        "metadata": dict(call.metadata),
        "retell_llm_dynamic_variables": dict(call.retell_llm_dynamic_variables),
        "collected_dynamic_variables": dict(call.collected_dynamic_variables),
        "data_storage_setting": "everything_except_pii",
        "opt_in_signed_url": True,
    }
    if call.connected:
        record["recording_url"] = f"https://recordings.retell.example/{call.call_id}/recording.wav"
        record["public_log_url"] = f"https://recordings.retell.example/{call.call_id}/public.log"
    record |= {
        "call_analysis": copy.deepcopy(call.call_analysis),
        "call_cost": copy.deepcopy(call.call_cost),
        "latency": copy.deepcopy(call.latency),
        "telephony_identifier": {"twilio_call_sid": None},
    }
    if transcript:
        record["transcript"] = call.transcript
        record["transcript_object"] = _transcript_object(call.turns, call.duration_ms / 1000)
        record["transcript_with_tool_calls"] = _with_tool_calls(call, record["transcript_object"])
    return record


def _with_tool_calls(call: SimCall, utterances: list[dict]) -> list[dict]:
    """The utterances (words included, as the SDK requires) with the tool calls between them, in order."""
    entries: list[dict] = []
    events = list(call.tool_events)
    for index, utterance in enumerate(utterances):
        entries += [copy.deepcopy(e) for at, e in events if at == index]
        entries.append(copy.deepcopy(utterance))
    entries += [copy.deepcopy(e) for at, e in events if at >= len(utterances)]
    return entries


def _transcript_object(turns: tuple[tuple[str, str], ...], duration_s: float) -> list[dict]:
    """Word timings in seconds from call start: an even pace (at most ~2 words/s) with a pause per turn."""
    word_lists = [text.split() for _, text in turns]
    slots = sum(len(words) for words in word_lists) + len(turns)
    step = min(duration_s / slots, 0.45) if slots else 0.0
    clock = step / 2
    result = []
    for (role, text), words in zip(turns, word_lists, strict=True):
        timed = []
        for word in words:
            timed.append({"word": word, "start": round(clock, 2), "end": round(clock + step * 0.8, 2)})
            clock += step
        clock += step
        result.append({"role": role, "content": text, "words": timed})
    return result


# ---- ids that carry their day -----------------------------------------------------------------


def day_index(day: date) -> int:
    return (day - ACTIVITY_FIRST_DAY).days


def in_period(day: date) -> bool:
    return ACTIVITY_FIRST_DAY <= day <= ACTIVITY_LAST_DAY


def make_uid(rng: random.Random, salt: str, day: date) -> str:
    """A 22-character random-looking booking uid; two characters hide the day, masked by the rest."""
    body = "".join(rng.choice(_BASE62) for _ in range(20))
    code = (day_index(day) + stable_hash(salt + body) % _UID_DAY_CODES) % _UID_DAY_CODES
    return body[:7] + _BASE62[code // 62] + body[7:14] + _BASE62[code % 62] + body[14:]


def uid_day(uid: str, salt: str) -> date | None:
    """The day `make_uid` hid in a uid, or None for a uid it cannot have made."""
    if len(uid) != 22 or any(c not in _BASE62 for c in uid):
        return None
    body = uid[:7] + uid[8:15] + uid[16:]
    code = _BASE62.index(uid[7]) * 62 + _BASE62.index(uid[15])
    day = ACTIVITY_FIRST_DAY + timedelta(days=(code - stable_hash(salt + body) % _UID_DAY_CODES) % _UID_DAY_CODES)
    return day if in_period(day) else None


def make_call_id(rng: random.Random, salt: str, day: date) -> str:
    """`call_` + 27 hex digits, like Retell's; three of them hide the day."""
    body = f"{rng.getrandbits(96):024x}"
    code = (day_index(day) + stable_hash(salt + body) % _CALL_DAY_CODES) % _CALL_DAY_CODES
    return f"call_{body[:10]}{code:03x}{body[10:]}"


def call_id_day(call_id: str, salt: str) -> date | None:
    """The day `make_call_id` hid in a call id, or None."""
    digits = call_id.removeprefix("call_")
    if not call_id.startswith("call_") or len(digits) != 27 or any(c not in "0123456789abcdef" for c in digits):
        return None
    body = digits[:10] + digits[13:]
    code = int(digits[10:13], 16)
    day = ACTIVITY_FIRST_DAY + timedelta(days=(code - stable_hash(salt + body) % _CALL_DAY_CODES) % _CALL_DAY_CODES)
    return day if in_period(day) else None


def ms(moment: datetime) -> datetime:
    """Millisecond precision, as the APIs print it, so filters on printed values match exactly."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def as_date(day: date | str) -> date:
    if isinstance(day, datetime):
        raise TypeError("pass a date (the tenant's local day), not a datetime")
    return day if isinstance(day, date) else date.fromisoformat(day)


def resolve_agent_version(agent: SimAgent, version: int | str) -> int:
    """A phone number binding's version (an int, latest, latest_published or a tag) as an int."""
    if isinstance(version, int):
        return version
    if version == "latest":
        return agent.latest.version
    if version in agent.tags:
        return int(agent.tags[version]["version"])
    return agent.latest_published.version


def make_booking(
    tenant: TenantAccounts,
    *,
    booking_id: int,
    uid: str,
    event_type: SimEventType,
    organizer_id: int,
    start: datetime,
    attendees: tuple[SimAttendee, ...],
    created_at: datetime,
    status: str = "accepted",
    notes: str = "",
    **extra: Any,
) -> SimBooking:
    organizer = tenant.user(organizer_id)
    kind = event_type.location_kind
    metadata = dict(extra.pop("metadata", {}))
    if kind == "cal-video":
        metadata["videoCallUrl"] = f"https://app.cal.com/video/{uid}"
    return SimBooking(
        id=booking_id,
        uid=uid,
        event_type_id=event_type.id,
        event_type_slug=event_type.slug,
        event_title=event_type.title,
        title=f"{event_type.title} zwischen {organizer.name} und {attendees[0].name}",
        description=notes,
        organizer_id=organizer_id,
        attendees=attendees,
        start=start,
        end=start + timedelta(minutes=event_type.length),
        status=status,
        created_at=created_at,
        updated_at=extra.pop("updated_at", created_at),
        location=event_type.location_value if kind != "cal-video" else "integrations:daily",
        location_type=_V1_LOCATION_TYPES[kind],
        requires_confirmation=event_type.requires_confirmation,
        metadata=metadata,
        **extra,
    )


class ActivityView(Protocol):
    """What the generator needs of the per-tenant store (activity.TenantActivity), without importing it."""

    tenant: TenantAccounts
    salt: str

    def day_bounds(self, day: date) -> tuple[datetime, datetime]: ...

    def _day_id_base(self, day: date) -> int: ...

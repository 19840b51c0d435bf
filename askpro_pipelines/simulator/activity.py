"""Bookings and Retell calls per tenant and local day, generated on first use.

A day's activity is drawn from `random.Random(f"activity:{seed}:{slug}:{date}")` alone, so any
day of the activity year can be asked for in any order, in any process, and comes out the same
without generating the days before it. Booking uids, call ids and integer booking ids encode
their day, so one item can be fetched without an index of the whole year.

About half of the answered inbound calls of a day lead to a booking later that same day: the
booking's attendee phone is the caller's number and it was created during the call (or up to
ten minutes after). Most of those calls also carry `booking_uid` in `collected_dynamic_variables`
and `metadata`; the rest can only be linked by number and time, as in real accounts.

Tests may change bookings afterwards (`TenantActivity.mutate_booking`, `add_booking`,
`cancel_booking`); each change bumps the day's revision so a server re-renders only that day.
"""

from __future__ import annotations

import copy
import math
import random
import string
import threading
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from askpro_pipelines.simulator.world import ascii_slug, stable_hash

if TYPE_CHECKING:
    from askpro_pipelines.simulator.world import (
        SimAgent,
        SimEventType,
        SimPhoneNumber,
        TenantWorld,
    )

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
# one range of _IDS_PER_DAY per day (bookings first, attendees from _ATTENDEE_ID_OFFSET).
_ACTIVITY_ID_OFFSET = 500_000
_IDS_PER_DAY = 1_000
_ATTENDEE_ID_OFFSET = 400
# Bookings made during a day's calls, at most: with the others (at most 125 then none) a busy day's
# bookings stay below _ATTENDEE_ID_OFFSET and its attendees inside the day's range.
_MAX_CALL_BOOKINGS_PER_DAY = 250

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BASE62 = string.digits + string.ascii_letters
_UID_DAY_CODES = 62 * 62
_CALL_DAY_CODES = 16**3

# fmt: off
_FIRST_NAMES = [
    "Lukas", "Sabine", "Jürgen", "Käthe", "Björn", "Sören", "Hannah", "Jörg", "Ursula", "Günter",
    "Anneliese", "Lea", "Mia", "Finn", "Elias", "Renate", "Klaus", "Monika", "Wolfgang", "Brigitte",
    "Dieter", "Ömer", "Zoë", "Jens", "Heike", "Matthias", "Doris", "Tim", "Gisela", "Frauke",
]
_LAST_NAMES = [
    "Hoffmann", "Krüger", "Müller", "Schröder", "Weiß", "Groß", "Köhler", "Bäcker", "Jäger", "Schmidt",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Hartmann", "Lange", "Schmitt", "Werner", "Krause",
    "Meier", "Lehmann", "Schulz", "Fuchs", "Vogel", "Dürr", "Öztürk", "Kühne", "Mößner", "Böttcher",
]
# fmt: on
_MAIL_DOMAINS = ["example.de", "mail.example", "post.example", "web.example"]
_MOBILE_PREFIXES = ["151", "152", "157", "160", "162", "163", "170", "171", "172", "173", "175", "176", "177", "179"]
_LANDLINE_PREFIXES = ["30", "40", "89", "221", "211", "911", "351", "341"]
_NOTES = [
    "Schmerzen im unteren Rücken seit 2 Wochen.",
    "Nackenverspannungen nach langer Büroarbeit.",
    "Überweisung vom Hausarzt liegt vor.",
    "Bitte kurz vorher anrufen, ich komme evtl. später.",
    "Knie-OP vor sechs Wochen, Nachbehandlung.",
    "Schulterprobleme beim Heben.",
    "Kann nur vormittags.",
]
_CANCEL_REASONS = [
    "Termin passt leider nicht mehr.",
    "Krankheitsbedingt – ich melde mich wieder.",
    "Kollidiert mit einem Arbeitstermin.",
    "Über die Telefonrezeption abgesagt.",
]
_REJECT_REASONS = [
    "Leider liegt keine Verordnung vor.",
    "Für diese Behandlung ist ein längerer Termin nötig.",
    "Die Praxis ist zu diesem Zeitpunkt geschlossen.",
]
_RESCHEDULE_REASONS = ["Ich schaffe es erst später.", "Umbuchung auf Wunsch der Patientin.", "Bitte etwas früher."]

# Local hour of day -> relative call volume: office hours, a trickle in the evening and at night.
_CALL_HOUR_WEIGHTS = [1, 1, 0, 0, 0, 1, 2, 6, 10, 10, 9, 8, 7, 7, 8, 8, 7, 6, 4, 3, 2, 2, 1, 1]
# ISO weekday (1 = Monday) -> share of a weekday's volume.
_WEEKDAY_FACTORS = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 0.9, 6: 0.5, 7: 0.3}

# Cents per second, like the example calls (retell platform, TTS, LLM).
_PRODUCT_PRICES = [("retell_platform", 0.1167), ("elevenlabs_tts", 0.0167), ("gpt-4.1", 0.0163)]

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
    return record


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


def _day_index(day: date) -> int:
    return (day - ACTIVITY_FIRST_DAY).days


def _in_period(day: date) -> bool:
    return ACTIVITY_FIRST_DAY <= day <= ACTIVITY_LAST_DAY


def make_uid(rng: random.Random, salt: str, day: date) -> str:
    """A 22-character random-looking booking uid; two characters hide the day, masked by the rest."""
    body = "".join(rng.choice(_BASE62) for _ in range(20))
    code = (_day_index(day) + stable_hash(salt + body) % _UID_DAY_CODES) % _UID_DAY_CODES
    return body[:7] + _BASE62[code // 62] + body[7:14] + _BASE62[code % 62] + body[14:]


def uid_day(uid: str, salt: str) -> date | None:
    """The day `make_uid` hid in a uid, or None for a uid it cannot have made."""
    if len(uid) != 22 or any(c not in _BASE62 for c in uid):
        return None
    body = uid[:7] + uid[8:15] + uid[16:]
    code = _BASE62.index(uid[7]) * 62 + _BASE62.index(uid[15])
    day = ACTIVITY_FIRST_DAY + timedelta(days=(code - stable_hash(salt + body) % _UID_DAY_CODES) % _UID_DAY_CODES)
    return day if _in_period(day) else None


def make_call_id(rng: random.Random, salt: str, day: date) -> str:
    """`call_` + 27 hex digits, like Retell's; three of them hide the day."""
    body = f"{rng.getrandbits(96):024x}"
    code = (_day_index(day) + stable_hash(salt + body) % _CALL_DAY_CODES) % _CALL_DAY_CODES
    return f"call_{body[:10]}{code:03x}{body[10:]}"


def call_id_day(call_id: str, salt: str) -> date | None:
    """The day `make_call_id` hid in a call id, or None."""
    digits = call_id.removeprefix("call_")
    if not call_id.startswith("call_") or len(digits) != 27 or any(c not in "0123456789abcdef" for c in digits):
        return None
    body = digits[:10] + digits[13:]
    code = int(digits[10:13], 16)
    day = ACTIVITY_FIRST_DAY + timedelta(days=(code - stable_hash(salt + body) % _CALL_DAY_CODES) % _CALL_DAY_CODES)
    return day if _in_period(day) else None


def _ms(moment: datetime) -> datetime:
    """Millisecond precision, as the APIs print it, so filters on printed values match exactly."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---- the per-tenant store ---------------------------------------------------------------------


@dataclass
class _Day:
    bookings: list[SimBooking]
    calls: list[SimCall]
    revision: int = 0
    next_booking_index: int = 0  # for the integer ids of added bookings
    next_attendee_index: int = 0


class TenantActivity:
    """One tenant's bookings and calls: drawn per local day on first use, cached, and mutable."""

    def __init__(self, tenant: TenantWorld):
        self.tenant = tenant
        self.zone = ZoneInfo(tenant.spec.time_zone)
        self.salt = f"{tenant.seed}:{tenant.slug}"
        self._lock = threading.RLock()
        self._days: dict[date, _Day] = {}
        self._moved: dict[str, date] = {}  # uid -> day, for bookings a mutation moved to another day
        self._touched: set[date] = set()
        self._clock = MUTATION_EPOCH

    # ---- reading

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """[local midnight, next local midnight) of a day, in UTC (23 or 25 hours on DST days)."""
        start = datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)
        return start, end

    def bookings_on(self, day: date | str) -> list[SimBooking]:
        """Bookings whose start falls on this local day, by start then id."""
        return list(self._day(_as_date(day)).bookings)

    def calls_on(self, day: date | str) -> list[SimCall]:
        """Calls whose start falls on this local day, by start then call id."""
        return list(self._day(_as_date(day)).calls)

    def snapshot(self, day: date) -> tuple[int, list[SimBooking], list[SimCall]]:
        """(revision, bookings, calls) of a day, read together so a cache keyed by revision stays true."""
        with self._lock:
            data = self._day(day)
            return data.revision, list(data.bookings), list(data.calls)

    @property
    def touched_days(self) -> frozenset[date]:
        """Days a mutation changed: their timestamps may break the generated invariants
        (createdAt <= updatedAt <= start), so range shortcuts must include them."""
        with self._lock:
            return frozenset(self._touched)

    def booking(self, uid: str) -> SimBooking | None:
        with self._lock:
            day = self._moved.get(uid) or uid_day(uid, self.salt)
            if day is None:
                return None
            return next((b for b in self._day(day).bookings if b.uid == uid), None)

    def call(self, call_id: str) -> SimCall | None:
        day = call_id_day(call_id, self.salt)
        if day is None:
            return None
        return next((c for c in self._day(day).calls if c.call_id == call_id), None)

    def _day(self, day: date) -> _Day:
        with self._lock:
            data = self._days.get(day)
            if data is None:
                if _in_period(day):
                    bookings, calls = _DayGenerator(self, day).run()
                else:
                    bookings, calls = [], []
                data = _Day(bookings, calls, next_booking_index=len(bookings))
                data.next_attendee_index = sum(len(b.attendees) for b in bookings)
                self._days[day] = data
            return data

    # ---- changing (tests)

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def mutate_booking(self, uid: str, /, **changes: Any) -> SimBooking:
        """Replace fields of a booking (SimBooking field names); `updated_at` advances unless given.

        Changing `start` keeps the duration unless `end` is given too, and moves the booking to
        its new local day.
        """
        allowed = {f.name for f in fields(SimBooking)} - {"id", "uid"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"cannot change {', '.join(unknown)}; changeable: {', '.join(sorted(allowed))}")
        for name in ("start", "end", "created_at", "updated_at"):
            if name in changes:
                if changes[name].tzinfo is None:
                    raise ValueError(f"{name} must be timezone-aware")
                changes[name] = _ms(changes[name].astimezone(UTC))
        with self._lock:
            old = self.booking(uid)
            if old is None:
                raise KeyError(f"no booking {uid!r} in {self.tenant.slug}")
            if "start" in changes and "end" not in changes:
                changes["end"] = changes["start"] + (old.end - old.start)
            changes.setdefault("updated_at", self._tick())
            new = replace(old, **changes)
            self._replace(old, new)
            return new

    def cancel_booking(self, uid: str, reason: str = "Termin passt leider nicht mehr.") -> SimBooking:
        """Cancel as the attendee would."""
        booking = self.booking(uid)
        if booking is None:
            raise KeyError(f"no booking {uid!r} in {self.tenant.slug}")
        return self.mutate_booking(
            uid, status="cancelled", cancellation_reason=reason, cancelled_by_email=booking.attendee.email
        )

    def add_booking(
        self,
        start: datetime,
        *,
        event_type_id: int | None = None,
        attendee_name: str = "Erika Mustermann",
        attendee_email: str | None = None,
        attendee_phone: str | None = None,
        status: str = "accepted",
        created_at: datetime | None = None,
        notes: str = "",
    ) -> SimBooking:
        """A new booking at `start` (aware); ids and uid are deterministic per day and call order."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        start = _ms(start.astimezone(UTC))
        day = self.local_date(start)
        if not _in_period(day):
            raise ValueError(f"bookings can only be added between {ACTIVITY_FIRST_DAY} and {ACTIVITY_LAST_DAY}")
        tenant = self.tenant
        if not tenant.event_types:
            raise ValueError(f"tenant {tenant.slug!r} has no event types to book")
        event_type = tenant.event_type(event_type_id) if event_type_id is not None else tenant.event_types[0]
        organizer_id = event_type.owner_id if event_type.owner_id is not None else event_type.hosts[0].user_id
        with self._lock:
            data = self._day(day)
            if data.next_booking_index >= _ATTENDEE_ID_OFFSET:
                raise ValueError(f"too many bookings on {day}")
            day_base = self._day_id_base(day)
            rng = random.Random(f"added:{self.salt}:{day.isoformat()}:{data.next_booking_index}")
            first, _, last = attendee_name.partition(" ")
            attendee = SimAttendee(
                id=day_base + _ATTENDEE_ID_OFFSET + data.next_attendee_index,
                name=attendee_name,
                first_name=first,
                last_name=last,
                email=attendee_email or f"{ascii_slug(attendee_name).replace('-', '.')}@example.de",
                phone_number=attendee_phone,
                time_zone=tenant.spec.time_zone,
            )
            created = _ms(created_at.astimezone(UTC)) if created_at else self._tick()
            booking = _make_booking(
                tenant,
                booking_id=day_base + data.next_booking_index,
                uid=make_uid(rng, self.salt, day),
                event_type=event_type,
                organizer_id=organizer_id,
                start=start,
                attendees=(attendee,),
                created_at=created,
                status=status,
                notes=notes,
            )
            data.next_booking_index += 1
            data.next_attendee_index += 1
            self._insert(day, booking)
            return booking

    def _day_id_base(self, day: date) -> int:
        return self.tenant.id_base + _ACTIVITY_ID_OFFSET + _day_index(day) * _IDS_PER_DAY

    def _replace(self, old: SimBooking, new: SimBooking) -> None:
        old_day = self.local_date(old.start)
        data = self._day(old_day)
        data.bookings = [b for b in data.bookings if b.uid != old.uid]
        data.revision += 1
        self._touched.add(old_day)
        new_day = self.local_date(new.start)
        self._insert(new_day, new)
        if new_day == uid_day(new.uid, self.salt):
            self._moved.pop(new.uid, None)
        else:
            self._moved[new.uid] = new_day

    def _insert(self, day: date, booking: SimBooking) -> None:
        data = self._day(day)
        data.bookings = sorted([*data.bookings, booking], key=lambda b: (b.start, b.id))
        data.revision += 1
        self._touched.add(day)


def _as_date(day: date | str) -> date:
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


def _make_booking(
    tenant: TenantWorld,
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


# ---- generation -------------------------------------------------------------------------------


@dataclass
class _Person:
    first_name: str
    last_name: str
    email: str
    phone: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class _CallDraft:
    direction: str
    number: SimPhoneNumber
    agent: SimAgent
    agent_version: int
    other_party: str  # the caller's or callee's number
    person: _Person
    status: str
    start: datetime
    end: datetime
    call_id: str = ""
    booking: _BookingDraft | None = None
    explicit_link: bool = False


@dataclass
class _BookingDraft:
    event_type: SimEventType
    organizer_id: int
    start: datetime
    person: _Person
    created_at: datetime
    call: _CallDraft | None = None
    status: str = "accepted"
    updated_at: datetime | None = None
    reason: str | None = None
    reschedule_of: _BookingDraft | None = None  # set on the new booking of a reschedule
    replaced_by: _BookingDraft | None = None  # set on the old one
    uid: str = ""
    notes: str = ""
    with_guest: bool = False


class _DayGenerator:
    """Draws one tenant's bookings and calls for one local day from that day's own rng."""

    def __init__(self, activity: TenantActivity, day: date):
        self.activity = activity
        self.tenant = activity.tenant
        self.day = day
        self.rng = random.Random(f"activity:{self.tenant.seed}:{self.tenant.slug}:{day.isoformat()}")
        self.day_start, self.day_end = activity.day_bounds(day)
        self.factor = _WEEKDAY_FACTORS[day.isoweekday()]
        self._windows: dict[int, list[tuple[datetime, datetime]]] = {}

    def run(self) -> tuple[list[SimBooking], list[SimCall]]:
        calls = self._draft_calls()
        linked = self._link_bookings(calls)
        target = self._count(self.tenant.spec.bookings_per_day)
        drafts = linked + self._other_bookings(max(0, target - len(linked)))
        drafts += self._statuses(drafts)
        salt = self.activity.salt
        for call in calls:
            call.call_id = make_call_id(self.rng, salt, self.day)
        for draft in drafts:
            draft.uid = make_uid(self.rng, salt, self.day)
        drafts.sort(key=lambda d: (d.start, d.created_at))
        bookings = self._finish_bookings(drafts)
        return bookings, [self._finish_call(c) for c in calls]

    def _count(self, per_weekday: int) -> int:
        return round(per_weekday * self.factor * self.rng.uniform(0.75, 1.25))

    # ---- people

    def _phone(self, mobile: bool = True) -> str:
        rng = self.rng
        if mobile:
            return f"+49{rng.choice(_MOBILE_PREFIXES)}{rng.randint(1_000_000, 99_999_999):08d}"
        return f"+49{rng.choice(_LANDLINE_PREFIXES)}{rng.randint(1_000_000, 9_999_999)}"

    def _person(self, phone_share: float) -> _Person:
        rng = self.rng
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        first_slug, last_slug = ascii_slug(first), ascii_slug(last)
        local = rng.choice([f"{first_slug}.{last_slug}", f"{first_slug[0]}.{last_slug}", f"{first_slug}{last_slug}"])
        phone = self._phone(mobile=rng.random() < 0.85) if rng.random() < phone_share else None
        return _Person(first, last, f"{local}@{rng.choice(_MAIL_DOMAINS)}", phone)

    # ---- calls

    def _draft_calls(self) -> list[_CallDraft]:
        rng, tenant = self.rng, self.tenant
        inbound = [n for n in tenant.phone_numbers if n.inbound_agents]
        outbound = [n for n in tenant.phone_numbers if n.outbound_agents]
        if not inbound:
            return []
        calls = []
        for _ in range(self._count(tenant.spec.calls_per_day)):
            direction = "outbound" if outbound and rng.random() < 0.15 else "inbound"
            number = rng.choice(outbound if direction == "outbound" else inbound)
            bindings = number.outbound_agents if direction == "outbound" else number.inbound_agents
            binding = rng.choices(bindings, weights=[b.weight for b in bindings])[0]
            agent = tenant.agent(binding.agent_id)
            person = self._person(phone_share=1.0)
            status = rng.choices(["ended", "not_connected", "error"], weights=[90, 5, 5])[0]
            start = self._call_start()
            if status == "not_connected":
                seconds = 0
            elif status == "error":
                seconds = rng.randint(3, 45)
            else:
                seconds = rng.randint(60, 330) if direction == "inbound" else rng.randint(20, 200)
            end = start + timedelta(seconds=seconds, milliseconds=rng.randint(0, 999) if seconds else 0)
            calls.append(
                _CallDraft(
                    direction=direction,
                    number=number,
                    agent=agent,
                    agent_version=resolve_agent_version(agent, binding.agent_version),
                    other_party=person.phone,
                    person=person,
                    status=status,
                    start=start,
                    end=end,
                )
            )
        calls.sort(key=lambda c: c.start)
        return calls

    def _call_start(self) -> datetime:
        rng = self.rng
        hour = rng.choices(range(24), weights=_CALL_HOUR_WEIGHTS)[0]
        start = self.day_start + timedelta(seconds=hour * 3600 + rng.randrange(3600), milliseconds=rng.randrange(1000))
        if start >= self.day_end:  # the short day of the spring DST switch
            start = self.day_end - timedelta(seconds=rng.randint(60, 3600))
        return start

    # ---- bookings

    def _link_bookings(self, calls: list[_CallDraft]) -> list[_BookingDraft]:
        """About half of the answered inbound calls (at most 250 a day) book a slot later the same day."""
        rng = self.rng
        candidates = [c for c in calls if c.direction == "inbound" and c.status == "ended"]
        target = min(round(len(candidates) / 2), _MAX_CALL_BOOKINGS_PER_DAY)
        order = list(candidates)
        rng.shuffle(order)
        drafts: list[_BookingDraft] = []
        for call in order:
            if len(drafts) == target:
                break
            slot = self._pick_slot(call.end + timedelta(minutes=30))
            if slot is None:
                continue
            event_type, organizer_id, start = slot
            if rng.random() < 0.8:
                created = call.start + (call.end - call.start) * rng.uniform(0.5, 0.95)
            else:
                created = call.end + timedelta(seconds=rng.randint(5, 600), milliseconds=rng.randrange(1000))
            draft = _BookingDraft(event_type, organizer_id, start, call.person, _ms(created), call=call)
            draft.notes = rng.choice(_NOTES) if rng.random() < 0.3 else ""
            call.booking = draft
            call.explicit_link = rng.random() < 0.75
            drafts.append(draft)
        return drafts

    def _other_bookings(self, count: int) -> list[_BookingDraft]:
        """Bookings made online or by staff, days ahead; no call belongs to them."""
        rng = self.rng
        drafts = []
        for _ in range(count):
            slot = self._pick_slot(self.day_start)
            if slot is None:
                break
            event_type, organizer_id, start = slot
            draft = _BookingDraft(event_type, organizer_id, start, self._person(phone_share=0.6), start - self._lead())
            draft.notes = rng.choice(_NOTES) if rng.random() < 0.4 else ""
            draft.with_guest = rng.random() < 0.15
            drafts.append(draft)
        return drafts

    def _statuses(self, drafts: list[_BookingDraft]) -> list[_BookingDraft]:
        """Cancel, reject, leave pending or reschedule some bookings; returns the replaced originals.

        Every change happens between creation and start, so generated bookings keep
        createdAt <= updatedAt <= start.
        """
        rng = self.rng
        originals = []
        for draft in list(drafts):
            roll = rng.random()
            if draft.call is not None:
                if roll < 0.08:
                    self._change(draft, "cancelled", rng.choice(_CANCEL_REASONS))
                continue
            if roll < 0.12:
                self._change(draft, "cancelled", rng.choice(_CANCEL_REASONS))
            elif roll < 0.17:
                draft.status = "pending"
            elif roll < 0.21:
                self._change(draft, "rejected", rng.choice(_REJECT_REASONS))
            elif roll < 0.41:
                original = self._reschedule(draft)
                if original is not None:
                    originals.append(original)
        return originals

    def _change(self, draft: _BookingDraft, status: str, reason: str) -> None:
        draft.status = status
        draft.reason = reason
        draft.updated_at = _ms(draft.created_at + (draft.start - draft.created_at) * self.rng.uniform(0.2, 0.95))

    def _reschedule(self, new: _BookingDraft) -> _BookingDraft | None:
        """Make `new` the result of moving an earlier booking of the same type from another slot today."""
        rng = self.rng
        slot = self._pick_slot(self.day_start, new.event_type)
        if slot is None or slot[2] == new.start:
            return None
        _, organizer_id, old_start = slot
        first_created = min(old_start, new.start) - self._lead()
        moved_at = _ms(first_created + (min(old_start, new.start) - first_created) * rng.uniform(0.3, 0.9))
        old = _BookingDraft(new.event_type, organizer_id, old_start, new.person, first_created)
        old.status, old.updated_at, old.reason, old.replaced_by = "cancelled", moved_at, None, new
        old.notes, old.with_guest = new.notes, new.with_guest
        new.created_at, new.reschedule_of, new.reason = moved_at, old, rng.choice(_RESCHEDULE_REASONS)
        return old

    def _lead(self) -> timedelta:
        """How long before its start a booking not made during a call was created."""
        rng = self.rng
        return timedelta(seconds=rng.randint(2 * 3600, BOOKING_LEAD_DAYS * 86_400), milliseconds=rng.randrange(1000))

    def _pick_slot(
        self, earliest: datetime, event_type: SimEventType | None = None
    ) -> tuple[SimEventType, int, datetime] | None:
        """A start on the slot grid inside an organizer's working hours today, not before `earliest`."""
        rng, event_types = self.rng, self.tenant.event_types
        if not event_types:
            return None
        for _ in range(12):
            chosen = event_type or rng.choice(event_types)
            organizer_id, schedule_id = self._organizer(chosen)
            step = timedelta(minutes=chosen.slot_interval or 15)
            length = timedelta(minutes=chosen.length)
            options = []
            for window_start, window_end in self._working_windows(schedule_id):
                first = window_start
                if earliest > first:
                    first = window_start + step * math.ceil((earliest - window_start) / step)
                last = window_end - length
                if first <= last:
                    options.append((first, (last - first) // step + 1))
            total = sum(count for _, count in options)
            if total == 0:
                continue
            pick = rng.randrange(total)
            for first, count in options:
                if pick < count:
                    return chosen, organizer_id, first + step * pick
                pick -= count
        return None

    def _organizer(self, event_type: SimEventType) -> tuple[int, int]:
        """(user id, schedule id) of who hosts a booking of this type."""
        if event_type.owner_id is not None or not event_type.hosts:
            user_id = event_type.owner_id if event_type.owner_id is not None else self.tenant.admin.id
            return user_id, event_type.schedule_id or self.tenant.user(user_id).default_schedule_id
        host = self.rng.choice(event_type.hosts)
        return host.user_id, host.schedule_id or self.tenant.user(host.user_id).default_schedule_id

    def _working_windows(self, schedule_id: int) -> list[tuple[datetime, datetime]]:
        """Today's working hours of a schedule in UTC; a date override replaces the weekly rows."""
        if schedule_id not in self._windows:
            schedule = self.tenant.schedule(schedule_id)
            zone = ZoneInfo(schedule.time_zone)
            overrides = [o for o in schedule.overrides if o.date == self.day.isoformat()]
            if overrides:
                ranges = [(o.start_time, o.end_time) for o in overrides if o.start_time != o.end_time]
            else:
                weekday = self.day.isoweekday() % 7  # Cal.com numbering, 0 = Sunday
                ranges = [(r.start_time, r.end_time) for r in schedule.availability if weekday in r.days]

            def at(hhmm: str) -> datetime:
                return datetime.combine(self.day, time.fromisoformat(hhmm), tzinfo=zone).astimezone(UTC)

            self._windows[schedule_id] = sorted((at(start), at(end)) for start, end in ranges)
        return self._windows[schedule_id]

    # ---- final records

    def _finish_bookings(self, drafts: list[_BookingDraft]) -> list[SimBooking]:
        tenant, day_base = self.tenant, self.activity._day_id_base(self.day)
        bookings, attendee_index = [], 0
        for index, draft in enumerate(drafts):
            person = draft.person
            attendees = [
                SimAttendee(
                    id=day_base + _ATTENDEE_ID_OFFSET + attendee_index,
                    name=person.name,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    email=person.email,
                    phone_number=person.phone,
                    time_zone=tenant.spec.time_zone,
                )
            ]
            attendee_index += 1
            if draft.with_guest:
                guest = self._person(phone_share=0.0)
                attendees.append(
                    SimAttendee(
                        id=day_base + _ATTENDEE_ID_OFFSET + attendee_index,
                        name=guest.name,
                        first_name=guest.first_name,
                        last_name=guest.last_name,
                        email=guest.email,
                        phone_number=None,
                        time_zone=tenant.spec.time_zone,
                    )
                )
                attendee_index += 1
            extra: dict[str, Any] = {"updated_at": draft.updated_at or draft.created_at}
            if draft.call is not None:
                extra["call_id"] = draft.call.call_id
                if draft.call.explicit_link:
                    extra["metadata"] = {"retell_call_id": draft.call.call_id}
            if draft.status == "cancelled" and draft.replaced_by is None:
                extra |= {"cancellation_reason": draft.reason, "cancelled_by_email": attendees[0].email}
            if draft.status == "rejected":
                extra["rejection_reason"] = draft.reason
            if draft.replaced_by is not None:
                extra |= {
                    "rescheduled": True,
                    "rescheduled_to_uid": draft.replaced_by.uid,
                    "rescheduling_reason": draft.replaced_by.reason,
                    "rescheduled_by_email": attendees[0].email,
                }
            if draft.reschedule_of is not None:
                extra["rescheduled_from_uid"] = draft.reschedule_of.uid
            bookings.append(
                _make_booking(
                    tenant,
                    booking_id=day_base + index,
                    uid=draft.uid,
                    event_type=draft.event_type,
                    organizer_id=draft.organizer_id,
                    start=_ms(draft.start),
                    attendees=tuple(attendees),
                    created_at=_ms(draft.created_at),
                    status=draft.status,
                    notes=draft.notes,
                    **extra,
                )
            )
        return bookings

    def _finish_call(self, draft: _CallDraft) -> SimCall:
        rng, tenant = self.rng, self.tenant
        scenario = self._scenario(draft)
        turns, analysis, node = self._conversation(draft, scenario)
        inbound = draft.direction == "inbound"
        seconds = math.ceil((draft.end - draft.start).total_seconds())
        costs = [
            {"product": product, "unit_price": price, "cost": _cents(price * seconds)}
            for product, price in _PRODUCT_PRICES
        ]
        metadata = {"source": ascii_slug(draft.number.nickname)}
        collected = {"previous_node": node}
        if draft.booking is not None and draft.explicit_link:
            metadata["booking_uid"] = collected["booking_uid"] = draft.booking.uid
        latency: dict[str, Any] = {}
        if draft.status != "not_connected":
            p50 = rng.randint(850, 1400)
            p90 = p50 + rng.randint(300, 700)
            p95 = p90 + rng.randint(50, 300)
            p99 = p95 + rng.randint(100, 500)
            agent_turns = sum(1 for role, _ in turns if role == "agent")
            latency = {
                "e2e": {
                    "p50": p50,
                    "p90": p90,
                    "p95": p95,
                    "p99": p99,
                    "max": p99 + rng.randint(0, 300),
                    "min": p50 - rng.randint(200, 400),
                    "num": agent_turns,
                }
            }
        tag = next((name for name, t in draft.agent.tags.items() if t.get("version") == draft.agent_version), None)
        return SimCall(
            call_id=draft.call_id,
            direction=draft.direction,
            from_number=draft.other_party if inbound else draft.number.phone_number,
            to_number=draft.number.phone_number if inbound else draft.other_party,
            agent_id=draft.agent.agent_id,
            agent_version=draft.agent_version,
            agent_name=draft.agent.agent_name,
            agent_tag=tag,
            call_status=draft.status,
            start_timestamp=_to_ms(draft.start),
            end_timestamp=_to_ms(draft.end),
            disconnection_reason=self._disconnection(draft, scenario),
            caller_name=draft.person.name,
            turns=tuple(turns),
            call_analysis=analysis,
            call_cost={
                "combined_cost": _cents(sum(c["cost"] for c in costs)),
                "total_duration_seconds": seconds,
                "total_duration_unit_price": round(sum(p for _, p in _PRODUCT_PRICES), 4),
                "product_costs": costs,
            },
            latency=latency,
            metadata=metadata,
            retell_llm_dynamic_variables={"praxis_name": tenant.company_name},
            collected_dynamic_variables=collected,
            booking_uid=draft.booking.uid if draft.booking is not None else None,
        )

    def _scenario(self, draft: _CallDraft) -> str:
        if draft.status != "ended":
            return draft.status
        if draft.direction == "outbound":
            return "voicemail" if self.rng.random() < 0.3 else "reminder"
        if draft.booking is not None:
            return "booking"
        return self.rng.choices(["hours", "prescription", "cancel", "no_slot"], weights=[4, 2, 2, 2])[0]

    def _disconnection(self, draft: _CallDraft, scenario: str) -> str:
        rng = self.rng
        if scenario == "not_connected":
            if draft.direction == "outbound":
                return rng.choice(["dial_no_answer", "dial_busy", "dial_failed"])
            return rng.choice(["concurrency_limit_reached", "marked_as_spam"])
        if scenario == "error":
            return rng.choice(["error_llm_websocket_runtime", "error_asr", "error_unknown"])
        if scenario == "voicemail":
            return "voicemail_reached"
        return rng.choices(["user_hangup", "agent_hangup", "call_transfer", "inactivity"], weights=[55, 35, 7, 3])[0]

    def _conversation(self, draft: _CallDraft, scenario: str) -> tuple[list[tuple[str, str]], dict[str, Any], str]:
        """(turns, call_analysis, last node) of a call, German with umlauts, by what it was about."""
        rng, company, name = self.rng, self.tenant.company_name, draft.person.name
        title = draft.booking.event_type.title if draft.booking is not None else ""
        greeting = f"{company}, guten Tag! Sie sprechen mit der digitalen Rezeption. Wie kann ich Ihnen helfen?"
        sentiment = rng.choices(["Positive", "Neutral", "Negative"], weights=[6, 3, 1])[0]
        custom: dict[str, Any] = {"anliegen": "Sonstiges", "termin_gebucht": False}
        if scenario == "booking":
            booking = draft.booking
            local = booking.start.astimezone(self.activity.zone)
            organizer = self.tenant.user(booking.organizer_id).name
            hhmm = local.strftime("%H:%M")
            turns = [
                ("agent", greeting),
                ("user", f"Guten Tag, hier ist {name}. Ich hätte gern heute noch einen Termin für {title}."),
                ("agent", f"Gern. Heute um {hhmm} Uhr hätte {organizer} noch etwas frei. Passt Ihnen das?"),
                ("user", "Ja, das passt mir gut."),
                ("agent", "Ich habe den Termin für Sie gebucht. Sie bekommen gleich eine Bestätigung per E-Mail."),
                ("user", "Vielen Dank, auf Wiederhören!"),
                ("agent", "Gern geschehen. Auf Wiederhören!"),
            ]
            summary = f"{name} hat einen Termin ({title}) für heute, {hhmm} Uhr, bei {organizer} gebucht."
            custom = {
                "terminwunsch": f"{local.date().isoformat()} {hhmm}",
                "anliegen": "Terminbuchung",
                "termin_gebucht": True,
            }
            successful, node = True, "Terminbuchung"
            sentiment = "Positive" if rng.random() < 0.8 else "Neutral"
        elif scenario == "hours":
            closing = rng.choice(["17:00", "18:00", "18:30"])
            turns = [
                ("agent", greeting),
                ("user", "Guten Tag, wie lange haben Sie heute geöffnet?"),
                ("agent", f"Heute sind wir bis {closing} Uhr für Sie da. Kann ich sonst noch etwas für Sie tun?"),
                ("user", "Nein, danke. Schönen Tag noch!"),
                ("agent", "Danke, Ihnen auch. Auf Wiederhören!"),
            ]
            summary, successful, node = "Anrufer fragte nach den heutigen Öffnungszeiten.", True, "Auskunft"
        elif scenario == "prescription":
            turns = [
                ("agent", greeting),
                ("user", f"Hallo, {name} hier. Ist meine Verordnung schon fertig?"),
                ("agent", "Ich gebe das an das Praxisteam weiter. Sie werden zurückgerufen, sobald sie bereitliegt."),
                ("user", "Prima, danke schön."),
            ]
            summary = f"{name} fragte nach einer Verordnung; Rückruf durch das Praxisteam zugesagt."
            custom["anliegen"], successful, node = "Rezeptfrage", True, "Rezeptanfrage"
        elif scenario == "cancel":
            turns = [
                ("agent", greeting),
                ("user", "Guten Tag, ich muss meinen Termin nächste Woche leider absagen."),
                ("agent", "Das ist kein Problem. Ich habe Ihre Absage notiert und gebe sie an die Praxis weiter."),
                ("user", "Danke für Ihre Hilfe. Tschüss!"),
            ]
            summary = f"{name} möchte einen Termin in der nächsten Woche absagen."
            custom["anliegen"], successful, node = "Terminabsage", True, "Terminabsage"
        elif scenario == "no_slot":
            turns = [
                ("agent", greeting),
                ("user", "Hallo, ich bräuchte möglichst heute noch einen Termin."),
                ("agent", "Heute ist leider nichts mehr frei. Soll die Praxis Sie morgen früh zurückrufen?"),
                ("user", "Ja, bitte. Danke."),
            ]
            summary = "Kein freier Termin am selben Tag; Rückrufwunsch für morgen früh notiert."
            custom["anliegen"], successful, node = "Terminbuchung", False, "Rückrufwunsch"
            sentiment = rng.choice(["Neutral", "Negative"])
        elif scenario == "reminder":
            turns = [
                ("agent", f"Guten Tag, hier ist die Rezeption von {company}. Ich erinnere Sie an Ihren Termin morgen."),
                ("user", "Ah ja, danke. Ich komme pünktlich."),
                ("agent", "Wunderbar. Bis morgen und auf Wiederhören!"),
            ]
            summary, successful, node = f"Terminerinnerung an {name}; Termin bestätigt.", True, "Erinnerung"
        elif scenario == "voicemail":
            turns = [
                (
                    "agent",
                    (
                        f"Guten Tag, hier ist die Rezeption von {company}. Wir möchten Sie an Ihren Termin "
                        "morgen erinnern. Bei Fragen rufen Sie uns gern zurück."
                    ),
                )
            ]
            summary, successful, node = f"Terminerinnerung an {name}; Mailbox erreicht.", False, "Erinnerung"
            sentiment = "Neutral"
        elif scenario == "error":
            turns = [("agent", greeting), ("user", "Hallo? Hören Sie mich?")]
            summary, successful, node = "Der Anruf brach wegen eines technischen Fehlers ab.", False, "Begrüßung"
            sentiment = "Unknown"
        else:  # not_connected
            turns, summary, successful, node = [], "Der Anruf kam nicht zustande.", False, "Begrüßung"
            sentiment, custom = "Unknown", {}
        analysis = {
            "call_summary": summary,
            "call_successful": successful,
            "user_sentiment": sentiment,
            "in_voicemail": scenario == "voicemail",
            "custom_analysis_data": custom,
        }
        return turns, analysis, node


def _cents(value: float) -> float | int:
    """Cents with two decimals; whole numbers as ints, the way a JavaScript sender prints them."""
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded

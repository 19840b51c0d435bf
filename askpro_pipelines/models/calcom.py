"""Typed, normalised Cal.com records: one shape whatever the API version.

Raw v1 and v2 payloads are validated against private models of their raw shapes (strict types,
unknown fields ignored, required fields required) and then converted, so that the warehouse gets
one table shape per entity whichever API a tenant is on. Ids become strings (Cal.com ids are ints,
some deployments give UUID host ids), weekdays become ISO numbers (1 = Monday ... 7 = Sunday),
times become "HH:MM" wall-clock strings, and enum casing becomes lower camel.

Every parser raises `RecordError` naming the entity, the record id and the failing field path;
the payload itself is never echoed, because it may hold personal data.
"""

import datetime
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic_core import PydanticCustomError

from askpro_pipelines.models.errors import RecordError, record_id_of, validate_record

EVENT_TYPES = "event_types"
STAFF = "staff"
SCHEDULES = "schedules"

# ISO order: WEEKDAY_NAMES[iso - 1]. Cal.com v2 and `weekStart` use these exact names.
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ISO_BY_NAME = {name.lower(): iso for iso, name in enumerate(WEEKDAY_NAMES, start=1)}

_TIME = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
_DATE_PREFIX = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ].*)?")
_HHMM = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


# ---- normalised records ---------------------------------------------------------------------


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventTypeHost(_Record):
    """A staff member attached to an event type, and how."""

    staff_id: str
    # owner: v1 userId/owner, v2 ownerId; host: a team host; user: a v2 users[] entry that is not the owner
    role: Literal["owner", "host", "user"]
    mandatory: bool | None = None  # v2 mandatory / v1 isFixed
    priority: str | None = None  # v2 only: "lowest" .. "highest"
    name: str | None = None
    username: str | None = None


class EventType(_Record):
    """A bookable service (personal or team), identical whether read from v1 or v2."""

    event_type_id: str
    title: str
    slug: str
    length_minutes: int
    description: str | None
    hidden: bool
    team_id: str | None
    owner_staff_id: str | None
    schedule_id: str | None
    scheduling_type: str | None  # roundRobin | collective | managed | None
    price: int | None
    currency: str | None
    minimum_booking_notice: int | None
    before_event_buffer: int | None
    after_event_buffer: int | None
    slot_interval: int | None
    locations: list[dict[str, Any]]  # as the API gave them: v1 and v2 use different type vocabularies
    hosts: list[EventTypeHost]  # one per staff id, owner first


class Staff(_Record):
    """A Cal.com user: practitioner, team member or account owner."""

    staff_id: str
    name: str | None
    email: str | None
    username: str | None
    time_zone: str | None
    default_schedule_id: str | None
    week_start: str | None
    locale: str | None
    role: str | None  # v1 USER/ADMIN or membership MEMBER/ADMIN/OWNER, upper case


class WeeklyInterval(_Record):
    """One recurring working-hours interval, in the schedule's local wall-clock time."""

    weekday: int = Field(ge=1, le=7)  # ISO: 1 = Monday ... 7 = Sunday
    start_time: str = Field(pattern=_HHMM)
    end_time: str = Field(pattern=_HHMM)  # Cal.com's end of day ("23:59" or "24:00") kept as given


class DateOverride(_Record):
    """Working hours replacing the weekly ones on one calendar date."""

    date: datetime.date
    start_time: str = Field(pattern=_HHMM)
    end_time: str = Field(pattern=_HHMM)

    @property
    def is_day_off(self) -> bool:
        """Cal.com stores "not available that day" as an empty 00:00-00:00 interval."""
        return self.start_time == "00:00" and self.end_time == "00:00"


class Schedule(_Record):
    """A named set of working hours owned by one user."""

    schedule_id: str
    staff_id: str
    name: str
    time_zone: str
    is_default: bool | None
    intervals: list[WeeklyInterval]  # sorted by weekday, start, end
    overrides: list[DateOverride]  # sorted by date, start, end


# ---- value conversions ----------------------------------------------------------------------


def iso_weekday_from_v1(day: int) -> int:
    """v1 days are JavaScript getDay() numbers (0 = Sunday); mapping 0 to Monday would shift every day."""
    if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
        raise ValueError(f"weekday must be an integer 0-6 (0 = Sunday), got {_short(day)}")
    return 7 if day == 0 else day


def iso_weekday_from_v2(name: str) -> int:
    """v2 days are English names; case is forgiven because nothing else about them is ambiguous."""
    iso = _ISO_BY_NAME.get(name.lower()) if isinstance(name, str) else None
    if iso is None:
        raise ValueError(f"weekday must be an English day name (Monday ... Sunday), got {_short(name)}")
    return iso


def normalise_scheduling_type(value: str | None) -> str | None:
    """v1 sends Prisma member names (ROUND_ROBIN), v2 the lower-camel mapped value (roundRobin); store the latter.

    Unknown values are converted by the same rule rather than rejected, so a new Cal.com type
    does not stop a tenant's sync.
    """
    text = (value or "").strip()
    if "_" in text or text.isupper():
        words = [word for word in text.lower().split("_") if word]
        return (words[0] + "".join(word.capitalize() for word in words[1:])) if words else None
    return text[0].lower() + text[1:] if text else None


def _short(value: Any) -> str:
    """A bounded repr for error messages: enough to recognise a value, never a whole payload."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("id_type", "Input should be an integer or string id")
    text = str(value).strip()
    if not text:
        raise PydanticCustomError("id_type", "Input should be a non-empty id")
    return text


def _invalid(kind: str, expected: str, value: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, expected + ", got {value}", {"value": _short(value)})


def _as_hhmm(value: Any) -> str:
    """Accept "HH:MM" (v2) or "HH:MM:SS" (v1) and return "HH:MM"; 24:00 is allowed as end of day."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid("time_format", "Input should be a time 'HH:MM' or 'HH:MM:SS'", value)
    hours, minutes = int(match.group(1)), int(match.group(2))
    seconds = int(match.group(3) or 0)
    if minutes > 59 or seconds > 59 or (hours > 23 and (hours, minutes, seconds) != (24, 0, 0)):
        raise _invalid("time_range", "Input should be a time between 00:00 and 24:00", value)
    return f"{hours:02d}:{minutes:02d}"


def _as_date(value: Any) -> datetime.date:
    """Take the calendar date as written.

    v1 serialises a Postgres DATE as midnight UTC; converting to the schedule's zone would move the day.
    """
    match = _DATE_PREFIX.fullmatch(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError(value)
        if len(value) > 10:
            datetime.datetime.fromisoformat(value)  # reject a malformed time part
        return datetime.date.fromisoformat(match.group(1))
    except ValueError:
        raise _invalid("date_format", "Input should be a date 'YYYY-MM-DD' or an ISO datetime", value) from None


def _wrap(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Turn a plain ValueError into a pydantic error so the message keeps its field path."""

    def validate(value: Any) -> Any:
        try:
            return convert(value)
        except ValueError as exc:
            raise PydanticCustomError("value_error", str(exc)) from None

    return validate


_Id = Annotated[str, PlainValidator(_as_id)]
_Time = Annotated[str, PlainValidator(_as_hhmm)]
_CalendarDate = Annotated[datetime.date, PlainValidator(_as_date)]
_V1Weekday = Annotated[int, PlainValidator(_wrap(iso_weekday_from_v1))]
_V2Weekday = Annotated[int, PlainValidator(_wrap(iso_weekday_from_v2))]


@lru_cache(maxsize=256)
def _is_known_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


# ---- raw shapes -----------------------------------------------------------------------------


class _Raw(BaseModel):
    """Raw API shape: strict types (a string where an int belongs is an error), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class _RawEventType(_Raw):
    """Fields v1 and v2 event types share under the same names."""

    id: _Id
    title: str
    slug: str
    description: str | None = None
    hidden: bool
    teamId: _Id | None = None
    scheduleId: _Id | None = None
    schedulingType: str | None = None
    price: int | None = None
    currency: str | None = None
    minimumBookingNotice: int | None = None
    beforeEventBuffer: int | None = None
    afterEventBuffer: int | None = None
    slotInterval: int | None = None
    locations: list[dict[str, Any]] | None = None


class _V2EventTypeUser(_Raw):
    id: _Id
    name: str | None = None
    username: str | None = None


class _V2Host(_Raw):
    userId: _Id
    mandatory: bool | None = None
    priority: str | None = None
    name: str | None = None
    username: str | None = None


class _V2EventType(_RawEventType):
    lengthInMinutes: int
    ownerId: _Id | None = None
    users: list[_V2EventTypeUser] | None = None
    hosts: list[_V2Host] | None = None


class _V1Owner(_Raw):
    id: _Id | None = None
    username: str | None = None


class _V1Host(_Raw):
    userId: _Id
    isFixed: bool | None = None


class _V1EventType(_RawEventType):
    length: int
    userId: _Id | None = None
    owner: _V1Owner | None = None
    hosts: list[_V1Host] | None = None


class _V2User(_Raw):
    id: _Id
    username: str | None = None
    name: str | None = None
    email: str | None = None
    timeZone: str | None = None
    defaultScheduleId: _Id | None = None
    weekStart: str | None = None
    locale: str | None = None


class _V1User(_V2User):
    role: str | None = None


class _V2MembershipUser(_Raw):
    name: str | None = None
    username: str | None = None
    email: str | None = None


class _V2Membership(_Raw):
    userId: _Id
    role: str
    user: _V2MembershipUser | None = None


class _V2Availability(_Raw):
    days: list[_V2Weekday]
    startTime: _Time
    endTime: _Time


class _V2Override(_Raw):
    date: _CalendarDate
    startTime: _Time
    endTime: _Time


class _V2Schedule(_Raw):
    id: _Id
    ownerId: _Id
    name: str
    timeZone: str | None = None
    isDefault: bool | None = None
    availability: list[_V2Availability] | None = None
    overrides: list[_V2Override] | None = None


class _V1Availability(_Raw):
    days: list[_V1Weekday] | None = None
    date: _CalendarDate | None = None
    startTime: _Time
    endTime: _Time


class _V1Schedule(_Raw):
    id: _Id
    userId: _Id
    name: str
    timeZone: str | None = None
    availability: list[_V1Availability] | None = None


# ---- validation plumbing --------------------------------------------------------------------


def _check_shape(raw: Any, entity: str, record_id: str | None, expected: str, found: Iterable[str], hint: str) -> None:
    """Name the likely cause when a payload of another API version or shape arrives."""
    if not isinstance(raw, Mapping) or expected in raw:
        return
    present = [key for key in found if key in raw]
    if present:
        names = ", ".join(repr(key) for key in present)
        raise RecordError(entity, record_id, f"{expected}: missing but {names} present: {hint}")


# ---- event types ----------------------------------------------------------------------------

_ROLE_RANK = {"owner": 0, "host": 1, "user": 2}
_HOST_DETAILS = ("mandatory", "priority", "name", "username")


def _merge_hosts(hosts: Iterable[EventTypeHost]) -> list[EventTypeHost]:
    """One entry per staff id, owner first; a later duplicate only fills the details the first lacks.

    v2 lists the owner both as `ownerId` and in `users[]`; merging keeps the owner role and the name.
    """
    merged: dict[str, EventTypeHost] = {}
    for host in sorted(hosts, key=lambda h: _ROLE_RANK[h.role]):
        first = merged.get(host.staff_id)
        if first is None:
            merged[host.staff_id] = host
            continue
        gaps = {
            field: getattr(host, field)
            for field in _HOST_DETAILS
            if getattr(first, field) is None and getattr(host, field) is not None
        }
        if gaps:
            merged[host.staff_id] = first.model_copy(update=gaps)
    return list(merged.values())


def _event_type(raw: _RawEventType, *, length: int, owner: str | None, hosts: list[EventTypeHost]) -> EventType:
    return EventType(
        event_type_id=raw.id,
        title=raw.title,
        slug=raw.slug,
        length_minutes=length,
        description=raw.description or None,  # v1 null and v2 "" both mean "no description"
        hidden=raw.hidden,
        team_id=raw.teamId,
        owner_staff_id=owner,
        schedule_id=raw.scheduleId,
        scheduling_type=normalise_scheduling_type(raw.schedulingType),
        price=raw.price,
        currency=raw.currency,
        minimum_booking_notice=raw.minimumBookingNotice,
        before_event_buffer=raw.beforeEventBuffer,
        after_event_buffer=raw.afterEventBuffer,
        slot_interval=raw.slotInterval,
        locations=list(raw.locations or []),
        hosts=_merge_hosts(hosts),
    )


def event_type_from_v2(raw: Mapping[str, Any]) -> EventType:
    """A v2 (cal-api-version 2024-06-14) event type, user-shaped (ownerId, users[]) or team-shaped (teamId, hosts[])."""
    record_id = record_id_of(raw, "id")
    _check_shape(
        raw,
        EVENT_TYPES,
        record_id,
        "lengthInMinutes",
        ["length"],
        "looks like an old API shape: check the cal-api-version header (event types need 2024-06-14)",
    )
    event_type = validate_record(_V2EventType, raw, EVENT_TYPES, record_id)
    hosts: list[EventTypeHost] = []
    if event_type.ownerId is not None:
        hosts.append(EventTypeHost(staff_id=event_type.ownerId, role="owner"))
    hosts += [
        EventTypeHost(
            staff_id=host.userId,
            role="host",
            mandatory=host.mandatory,
            priority=host.priority,
            name=host.name,
            username=host.username,
        )
        for host in event_type.hosts or []
    ]
    hosts += [
        EventTypeHost(staff_id=user.id, role="user", name=user.name, username=user.username)
        for user in event_type.users or []
    ]
    return _event_type(event_type, length=event_type.lengthInMinutes, owner=event_type.ownerId, hosts=hosts)


def event_type_from_v1(raw: Mapping[str, Any]) -> EventType:
    """A v1 event type, personal (userId, owner) or team (teamId, hosts[{userId, isFixed}], schedulingType upper)."""
    record_id = record_id_of(raw, "id")
    _check_shape(
        raw, EVENT_TYPES, record_id, "length", ["lengthInMinutes"], "looks like a v2 payload given to the v1 parser"
    )
    event_type = validate_record(_V1EventType, raw, EVENT_TYPES, record_id)
    owner = event_type.owner
    owner_id = event_type.userId if event_type.userId is not None else (owner.id if owner else None)
    hosts: list[EventTypeHost] = []
    if owner_id is not None:
        username = owner.username if owner and owner.id in (None, owner_id) else None
        hosts.append(EventTypeHost(staff_id=owner_id, role="owner", username=username))
    hosts += [
        EventTypeHost(staff_id=host.userId, role="host", mandatory=host.isFixed) for host in event_type.hosts or []
    ]
    return _event_type(event_type, length=event_type.length, owner=owner_id, hosts=hosts)


# ---- staff ----------------------------------------------------------------------------------


def _upper(value: str | None) -> str | None:
    return value.upper() if value else None


def _staff_from_user(user: _V2User, role: str | None) -> Staff:
    return Staff(
        staff_id=user.id,
        name=user.name,
        email=user.email,
        username=user.username,
        time_zone=user.timeZone,
        default_schedule_id=user.defaultScheduleId,
        week_start=user.weekStart,
        locale=user.locale,
        role=_upper(role),
    )


def staff_from_v2_user(raw: Mapping[str, Any]) -> Staff:
    """A user from /v2/me or /v2/organizations/{id}/users; v2 users carry no role."""
    user = validate_record(_V2User, raw, STAFF, record_id_of(raw, "id"))
    return _staff_from_user(user, role=None)


def staff_from_v1_user(raw: Mapping[str, Any]) -> Staff:
    """A user from v1 /users; its role is the platform role USER/ADMIN."""
    user = validate_record(_V1User, raw, STAFF, record_id_of(raw, "id"))
    return _staff_from_user(user, role=user.role)


def staff_from_v2_membership(raw: Mapping[str, Any]) -> Staff:
    """A team member from v2 TeamMembershipOutput: the record id is the user's, the role the membership's."""
    membership = validate_record(_V2Membership, raw, STAFF, record_id_of(raw, "userId"))
    user = membership.user or _V2MembershipUser()
    return Staff(
        staff_id=membership.userId,
        name=user.name,
        email=user.email,
        username=user.username,
        time_zone=None,
        default_schedule_id=None,
        week_start=None,
        locale=None,
        role=_upper(membership.role),
    )


def staff_from_host(host: EventTypeHost) -> Staff:
    """A staff row for a host no user listing returned (e.g. a UUID host id), so links never dangle."""
    return Staff(
        staff_id=host.staff_id,
        name=host.name,
        email=None,
        username=host.username,
        time_zone=None,
        default_schedule_id=None,
        week_start=None,
        locale=None,
        role=None,
    )


# ---- schedules ------------------------------------------------------------------------------


def _time_zone(value: str | None, default: str, record_id: str | None) -> str:
    """Cal.com falls back to a default zone when a schedule has none; an unknown zone would break local-time maths."""
    zone = value or default
    if not _is_known_time_zone(zone):
        source = "timeZone" if value else "timeZone (null, default used)"
        raise RecordError(SCHEDULES, record_id, f"{source}: unknown IANA time zone {_short(zone)}")
    return zone


def _intervals(rows: Iterable[tuple[Iterable[int], str, str]]) -> list[WeeklyInterval]:
    """One interval per weekday of each row (a row for Mon+Tue is two intervals), de-duplicated and sorted."""
    unique = {(weekday, start, end) for days, start, end in rows for weekday in days}
    return [WeeklyInterval(weekday=w, start_time=s, end_time=e) for w, s, e in sorted(unique)]


def _overrides(rows: Iterable[tuple[datetime.date, str, str]]) -> list[DateOverride]:
    return [DateOverride(date=d, start_time=s, end_time=e) for d, s, e in sorted(set(rows))]


def schedule_from_v2(raw: Mapping[str, Any], default_time_zone: str = "Europe/London") -> Schedule:
    """A v2 (cal-api-version 2024-06-11) schedule: named weekdays, "HH:MM" times, dated overrides."""
    record_id = record_id_of(raw, "id")
    _check_shape(
        raw,
        SCHEDULES,
        record_id,
        "ownerId",
        ["workingHours", "dateOverrides"],
        "looks like an old API shape: check the cal-api-version header (schedules need 2024-06-11)",
    )
    schedule = validate_record(_V2Schedule, raw, SCHEDULES, record_id)
    return Schedule(
        schedule_id=schedule.id,
        staff_id=schedule.ownerId,
        name=schedule.name,
        time_zone=_time_zone(schedule.timeZone, default_time_zone, record_id),
        is_default=schedule.isDefault,
        intervals=_intervals((row.days, row.startTime, row.endTime) for row in schedule.availability or []),
        overrides=_overrides((row.date, row.startTime, row.endTime) for row in schedule.overrides or []),
    )


def schedule_from_v1(
    raw: Mapping[str, Any],
    default_time_zone: str = "Europe/London",
    *,
    default_schedule_ids: Mapping[str, str | int | None] | None = None,
) -> Schedule:
    """A v1 schedule: availability rows with `days` are weekly hours, rows with a `date` are overrides.

    v1 has no isDefault; pass `default_schedule_ids` (staff id -> the user's defaultScheduleId,
    from v1 /users) to compute it. Without it, or for a user not in it, it stays None.
    """
    record_id = record_id_of(raw, "id")
    schedule = validate_record(_V1Schedule, raw, SCHEDULES, record_id)
    rows = schedule.availability or []
    user_default = (default_schedule_ids or {}).get(schedule.userId)
    is_default = None if user_default is None else str(user_default) == schedule.id
    return Schedule(
        schedule_id=schedule.id,
        staff_id=schedule.userId,
        name=schedule.name,
        time_zone=_time_zone(schedule.timeZone, default_time_zone, record_id),
        is_default=is_default,
        intervals=_intervals((row.days, row.startTime, row.endTime) for row in rows if row.days),
        overrides=_overrides((row.date, row.startTime, row.endTime) for row in rows if row.date is not None),
    )

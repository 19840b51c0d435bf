"""Typed, normalised Cal.com bookings: one shape from API v1, API v2 and webhooks.

The three surfaces name the same facts differently (v1 `startTime` and `ACCEPTED`, v2 `start` and
`accepted`, webhooks `startTime` with `{label, value}`-wrapped form answers and an organizer object),
and webhooks format instants three ways (`Z`, `.000Z`, `+00:00`). Each is validated against a private
model of its raw shape and converted into one `Booking`, so the API sync and the webhook receiver
upsert the same row by `uid`.

Booking metadata, titles and cancellation reasons are redacted on the way in (a Cal Video password or
a pasted key must not reach the warehouse); names, e-mail addresses and phone numbers are the business
data and stay as given. Every parser raises `RecordError` naming the entity, the booking uid and the
failing field path; the payload itself is never echoed, because it holds personal data.
"""

import datetime
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, field_validator
from pydantic_core import PydanticCustomError

from askpro_pipelines.models.errors import RecordError, record_id_of, validate_record
from askpro_pipelines.models.values import (
    IntOrStringId,
    aware_utc,
    stripped_string,
    text_or_none,
)
from askpro_pipelines.redaction import redact_mapping, redact_text

BOOKINGS = "calcom_bookings"

# Triggers whose body describes one booking's current state. Everything else (no-show updates, Cal
# Video no-show reports, forms, recordings, out-of-office, PING, triggers added after this list) is
# not a booking row; the periodic API reconciliation catches whatever such events change.
BOOKING_TRIGGERS = frozenset(
    {
        "BOOKING_CREATED",
        "BOOKING_RESCHEDULED",
        "BOOKING_CANCELLED",
        "BOOKING_REQUESTED",
        "BOOKING_REJECTED",
        "BOOKING_PAYMENT_INITIATED",
        "BOOKING_PAID",
        "MEETING_STARTED",
        "MEETING_ENDED",
    }
)

# Used only when a webhook payload carries no `status`: these triggers name the status themselves.
_STATUS_OF_TRIGGER = {
    "BOOKING_CANCELLED": "cancelled",
    "BOOKING_REJECTED": "rejected",
    "BOOKING_REQUESTED": "pending",
}

# Phone answers of the booking form, in the order they are tried after the attendee's own phoneNumber.
_PHONE_RESPONSE_KEYS = ("attendeePhoneNumber", "phone")

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# ---- normalised record ----------------------------------------------------------------------


class Booking(BaseModel):
    """One booking, identical whether read from v1, v2 or a webhook (where the sources overlap)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uid: str
    booking_id: str | None
    status: str  # accepted | pending | cancelled | rejected | awaiting_host; a new value is kept, lower snake
    start_utc: datetime.datetime
    end_utc: datetime.datetime
    event_type_id: str | None
    title: str | None  # redacted
    organizer_staff_id: str | None
    organizer_email: str | None
    attendees_count: int
    attendee_phone: str | None  # as the booker typed it; normalising is the phone chain's job
    rescheduled_from_uid: str | None  # set on the new booking of a reschedule
    rescheduled_to_uid: str | None  # set on the old booking of a reschedule (v2 only)
    rescheduled: bool | None  # True on an old booking that was rescheduled; None when the source does not say
    cancellation_reason: str | None  # redacted
    created_at: datetime.datetime | None
    updated_at: datetime.datetime | None  # v2 and flat MEETING_* rows only; v1 and booking-trigger payloads lack it
    metadata: dict[str, Any]  # redacted

    @field_validator("start_utc", "end_utc", "created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        return aware_utc(value)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        return _as_status(value)

    @field_validator("title", "cancellation_reason")
    @classmethod
    def _redacted_text(cls, value: str | None) -> str | None:
        return redact_text(value) if value else None

    @field_validator("metadata")
    @classmethod
    def _redacted(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact_mapping(value)


def normalise_status(value: str) -> str:
    """v1 and webhooks send Prisma member names (ACCEPTED, AWAITING_HOST), v2 and the DB the lower snake map.

    Unknown values go through the same rule instead of being rejected, so a new Cal.com status does
    not stop a tenant's sync; camel case ("awaitingHost") is split too, in case a surface converts it.
    """
    return _CAMEL_HUMP.sub("_", value.strip()).lower()


# ---- value conversions ----------------------------------------------------------------------


def _as_instant(value: Any) -> datetime.datetime:
    """A tolerant ISO 8601 parse (`Z`, `.000Z`, `+00:00`, any fraction length) that insists on an offset.

    Cal.com booking times are UTC instants; a value without an offset is malformed, and guessing its
    zone would shift the appointment.
    """
    try:
        parsed = datetime.datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        if parsed is not None and parsed.utcoffset() is not None:
            return parsed.astimezone(datetime.UTC)
    except (ValueError, OverflowError):  # OverflowError: year 9999 west of UTC is year 10000 in UTC
        pass
    raise PydanticCustomError(
        "iso_datetime", "Input should be an ISO 8601 datetime with a UTC offset, such as 2026-09-17T08:00:00Z"
    )


# Booking uids are strings; an int here means the numeric booking id was sent in its place.
_as_uid = stripped_string("uid_type", "Input should be a non-empty string uid")


def _as_status(value: Any) -> str:
    status = normalise_status(value) if isinstance(value, str) else ""
    if not status:
        raise PydanticCustomError("status", "Input should be a non-empty status string")
    return status


_Instant = Annotated[datetime.datetime, PlainValidator(_as_instant)]
_Status = Annotated[str, PlainValidator(_as_status)]
_Uid = Annotated[str, PlainValidator(_as_uid)]


def _answer(value: Any) -> Any:
    """A booking-form answer without the webhook's `{label, value}` wrapper."""
    return value.get("value") if isinstance(value, Mapping) else value


# ---- raw shapes -----------------------------------------------------------------------------


class _Raw(BaseModel):
    """Raw API shape: strict types (a string where an int belongs is an error), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class _RawAttendee(_Raw):
    phoneNumber: str | None = None


class _RawPerson(_Raw):
    """v1/flat `user`, v2 `hosts[]` and webhook `organizer`: the organizer's id and e-mail."""

    id: IntOrStringId | None = None
    email: str | None = None


class _RawEventTypeRef(_Raw):
    id: IntOrStringId | None = None


class _RawBooking(_Raw):
    """Fields every surface shares under the same names."""

    uid: _Uid
    title: str | None = None
    attendees: list[_RawAttendee] | None = None
    metadata: dict[str, Any] | None = None
    cancellationReason: str | None = None
    rescheduled: bool | None = None


class _V1Booking(_RawBooking):
    """schemaBookingReadPublic of v1 GET /bookings (and the flat MEETING_* row, which adds updatedAt)."""

    id: IntOrStringId | None = None
    status: _Status
    startTime: _Instant
    endTime: _Instant
    eventTypeId: IntOrStringId | None = None
    userId: IntOrStringId | None = None
    user: _RawPerson | None = None
    responses: dict[str, Any] | None = None
    fromReschedule: str | None = None
    createdAt: _Instant | None = None


class _FlatBooking(_V1Booking):
    """MEETING_STARTED / MEETING_ENDED bodies: a raw booking row with `triggerEvent` beside it."""

    updatedAt: _Instant | None = None


class _V2Booking(_RawBooking):
    """BookingOutput_2024_08_13 (cal-api-version 2024-08-13), including recurring and seated variants."""

    id: IntOrStringId | None = None
    status: _Status
    start: _Instant
    end: _Instant
    eventType: _RawEventTypeRef | None = None
    eventTypeId: IntOrStringId | None = None  # deprecated duplicate of eventType.id
    hosts: list[_RawPerson] | None = None
    bookingFieldsResponses: dict[str, Any] | None = None
    rescheduledFromUid: str | None = None
    rescheduledToUid: str | None = None
    createdAt: _Instant | None = None
    updatedAt: _Instant | None = None


class _WebhookPayload(_RawBooking):
    """The `payload` of a booking trigger (webhook version 2021-10-20)."""

    bookingId: IntOrStringId | None = None
    status: _Status | None = None
    startTime: _Instant
    endTime: _Instant
    eventTypeId: IntOrStringId | None = None
    organizer: _RawPerson | None = None
    responses: dict[str, Any] | None = None
    rescheduleUid: str | None = None  # BOOKING_RESCHEDULED: the old booking
    fromReschedule: str | None = None
    requestReschedule: bool | None = None  # BOOKING_CANCELLED by a host asking the attendee to rebook


class _WebhookEnvelope(_Raw):
    """Validating the payload through its envelope puts "payload." in front of failing field paths."""

    triggerEvent: str
    payload: _WebhookPayload


# ---- conversion -----------------------------------------------------------------------------


def _attendee_phone(attendees: list[_RawAttendee] | None, responses: Mapping[str, Any] | None) -> str | None:
    """The first attendee's own number, else the phone answer of the booking form."""
    if attendees and text_or_none(attendees[0].phoneNumber):
        return text_or_none(attendees[0].phoneNumber)
    for key in _PHONE_RESPONSE_KEYS:
        answer = _answer((responses or {}).get(key))
        if isinstance(answer, str) and answer.strip():
            return answer.strip()
    return None


def _check_order(start: datetime.datetime, end: datetime.datetime, uid: str, end_field: str, start_field: str) -> None:
    if end < start:
        raise RecordError(BOOKINGS, uid, f"{end_field}: before {start_field}")


def _check_shape(raw: Any, record_id: str | None, expected: str, found: str, hint: str) -> None:
    """Name the likely cause when a payload of another API version arrives."""
    if isinstance(raw, Mapping) and expected not in raw and found in raw:
        raise RecordError(BOOKINGS, record_id, f"{expected}: missing but {found!r} present: {hint}")


def booking_from_v2(raw: Mapping[str, Any]) -> Booking:
    """A v2 booking (GET /v2/bookings with cal-api-version 2024-08-13, or one recurrence of a recurring uid)."""
    record_id = record_id_of(raw, "uid")
    _check_shape(
        raw,
        record_id,
        "start",
        "startTime",
        "looks like a v1 or pre-2024-08-13 shape: check the cal-api-version header (bookings need 2024-08-13)",
    )
    booking = validate_record(_V2Booking, raw, BOOKINGS, record_id)
    _check_order(booking.start, booking.end, booking.uid, "end", "start")
    host = booking.hosts[0] if booking.hosts else None
    event_type_id = booking.eventType.id if booking.eventType and booking.eventType.id else booking.eventTypeId
    to_uid = text_or_none(booking.rescheduledToUid)
    rescheduled = booking.rescheduled if booking.rescheduled is not None else (True if to_uid else None)
    return Booking(
        uid=booking.uid,
        booking_id=booking.id,
        status=booking.status,
        start_utc=booking.start,
        end_utc=booking.end,
        event_type_id=event_type_id,
        title=booking.title,
        organizer_staff_id=host.id if host else None,
        organizer_email=text_or_none(host.email) if host else None,
        attendees_count=len(booking.attendees or []),
        attendee_phone=_attendee_phone(booking.attendees, booking.bookingFieldsResponses),
        rescheduled_from_uid=text_or_none(booking.rescheduledFromUid),
        rescheduled_to_uid=to_uid,
        rescheduled=rescheduled,
        cancellation_reason=booking.cancellationReason,
        created_at=booking.createdAt,
        updated_at=booking.updatedAt,
        metadata=dict(booking.metadata or {}),
    )


def _from_v1_row(booking: _V1Booking, updated_at: datetime.datetime | None) -> Booking:
    _check_order(booking.startTime, booking.endTime, booking.uid, "endTime", "startTime")
    user = booking.user
    return Booking(
        uid=booking.uid,
        booking_id=booking.id,
        status=booking.status,
        start_utc=booking.startTime,
        end_utc=booking.endTime,
        event_type_id=booking.eventTypeId,
        title=booking.title,
        organizer_staff_id=booking.userId if booking.userId is not None else (user.id if user else None),
        organizer_email=text_or_none(user.email) if user else None,
        attendees_count=len(booking.attendees or []),
        attendee_phone=_attendee_phone(booking.attendees, booking.responses),
        rescheduled_from_uid=text_or_none(booking.fromReschedule),
        rescheduled_to_uid=None,
        rescheduled=booking.rescheduled,
        cancellation_reason=booking.cancellationReason,
        created_at=booking.createdAt,
        updated_at=updated_at,
        metadata=dict(booking.metadata or {}),
    )


def booking_from_v1(raw: Mapping[str, Any]) -> Booking:
    """A v1 booking (GET /v1/bookings). v1 exposes no updatedAt, so `updated_at` is always None."""
    record_id = record_id_of(raw, "uid")
    _check_shape(raw, record_id, "startTime", "start", "looks like a v2 payload given to the v1 parser")
    return _from_v1_row(validate_record(_V1Booking, raw, BOOKINGS, record_id), updated_at=None)


def _from_webhook_payload(trigger: str, payload: _WebhookPayload) -> Booking:
    _check_order(payload.startTime, payload.endTime, payload.uid, "payload.endTime", "payload.startTime")
    status = payload.status or _STATUS_OF_TRIGGER.get(trigger)
    if status is None:
        raise RecordError(BOOKINGS, payload.uid, f"payload.status: missing, and {trigger} does not imply one")
    organizer = payload.organizer
    rescheduled = payload.rescheduled
    if rescheduled is None and payload.requestReschedule:
        # Cal.com marks a booking cancelled through "request reschedule" as rescheduled.
        rescheduled = True
    return Booking(
        uid=payload.uid,
        booking_id=payload.bookingId,
        status=status,
        start_utc=payload.startTime,
        end_utc=payload.endTime,
        event_type_id=payload.eventTypeId,
        title=payload.title,
        organizer_staff_id=organizer.id if organizer else None,
        organizer_email=text_or_none(organizer.email) if organizer else None,
        attendees_count=len(payload.attendees or []),
        attendee_phone=_attendee_phone(payload.attendees, payload.responses),
        rescheduled_from_uid=text_or_none(payload.rescheduleUid) or text_or_none(payload.fromReschedule),
        rescheduled_to_uid=None,
        rescheduled=rescheduled,
        cancellation_reason=payload.cancellationReason,
        created_at=None,
        updated_at=None,
        metadata=dict(payload.metadata or {}),
    )


def booking_from_webhook(body: Mapping[str, Any]) -> tuple[str, Booking | None]:
    """(trigger, booking) from a whole Cal.com webhook body; the booking is None for non-booking triggers.

    Booking triggers arrive as `{triggerEvent, createdAt, payload}`; MEETING_STARTED/ENDED arrive flat,
    the booking row itself beside `triggerEvent`. The shape is told by the presence of `payload`, so a
    wrapped MEETING_* body parses too.
    """
    if not isinstance(body, Mapping):
        raise RecordError(BOOKINGS, None, f"expected an object, got {type(body).__name__}")
    record_id = booking_uid_of_webhook(body)
    trigger = body.get("triggerEvent")
    if not isinstance(trigger, str) or not trigger.strip():
        raise RecordError(BOOKINGS, record_id, "triggerEvent: missing or not a non-empty string")
    trigger = trigger.strip()
    if trigger not in BOOKING_TRIGGERS:
        return trigger, None
    if "payload" in body:
        envelope = validate_record(_WebhookEnvelope, body, BOOKINGS, record_id)
        return trigger, _from_webhook_payload(trigger, envelope.payload)
    if "uid" in body:
        flat = validate_record(_FlatBooking, body, BOOKINGS, record_id)
        return trigger, _from_v1_row(flat, updated_at=flat.updatedAt)
    raise RecordError(BOOKINGS, record_id, "payload: missing, and the body is not a flat booking row either")


def booking_uid_of_webhook(body: Mapping[str, Any]) -> str | None:
    """The booking uid an event is about, without validating it: for de-duplication and error messages.

    `payload.uid` for booking triggers (the new booking on a reschedule), `payload.bookingUid` for
    no-show events, `uid` for the flat MEETING_* shape.
    """
    if not isinstance(body, Mapping):
        return None
    payload = body.get("payload")
    candidates = [payload.get("uid"), payload.get("bookingUid")] if isinstance(payload, Mapping) else []
    candidates += [body.get("uid"), body.get("bookingUid")]
    return next((value.strip() for value in candidates if isinstance(value, str) and value.strip()), None)

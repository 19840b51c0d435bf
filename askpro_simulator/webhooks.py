"""Signed Cal.com and Retell webhook deliveries, built from the simulated activity.

Bodies are compact UTF-8 JSON (umlauts as raw bytes, the way JavaScript senders write them) and
are signed over exactly those bytes, so a receiver that re-serialises the JSON or decodes it as
anything but UTF-8 fails verification, as it would in production (reference §4 and §6).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from askpro_simulator.accounts import iso_ms
from askpro_simulator.records import BOOKING_LEAD_DAYS, SimBooking, SimCall, retell_call_object
from askpro_simulator.world import TenantWorld, World

CALCOM_WEBHOOK_VERSION = "2021-10-20"
CALCOM_NO_SECRET = "no-secret-provided"
"""What Cal.com puts in X-Cal-Signature-256 when the subscription has no secret."""

# How long after the event each webhook leaves the sender; fixed so deliveries are reproducible.
_CALCOM_DELAY = timedelta(milliseconds=1500)
_RETELL_STARTED_DELAY_MS = 800
_RETELL_ENDED_DELAY_MS = 1200
_RETELL_ANALYZED_DELAY_MS = 6000

_STATUS_BY_TRIGGER = {
    "BOOKING_CREATED": "ACCEPTED",
    "BOOKING_RESCHEDULED": "ACCEPTED",
    "BOOKING_REQUESTED": "PENDING",
    "BOOKING_CANCELLED": "CANCELLED",
    "BOOKING_REJECTED": "REJECTED",
}
"""A payload describes the booking as of its event, not as it is today."""

_CALL_STARTED_FIELDS = (
    "call_id", "call_type", "agent_id", "agent_version", "agent_name", "call_status", "direction", "from_number",
    "to_number", "start_timestamp", "metadata", "retell_llm_dynamic_variables", "data_storage_setting",
)  # fmt: skip
"""What call_started carries (the example's keys, in its order)."""


def compact_json(value: Any) -> bytes:
    """JSON.stringify's output: no spaces, non-ASCII unescaped, UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def calcom_signature(secret: str, body: bytes) -> str:
    """X-Cal-Signature-256: lower-case hex HMAC-SHA256 of the raw body, keyed with the webhook secret."""
    if not secret:
        return CALCOM_NO_SECRET
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def retell_signature(api_key: str, body: bytes, timestamp_ms: int) -> str:
    """x-retell-signature: `v=<ms>,d=<hex HMAC-SHA256(api key, body text + str(ms))>`."""
    digest = hmac.new(api_key.encode("utf-8"), body + str(timestamp_ms).encode("ascii"), hashlib.sha256).hexdigest()
    return f"v={timestamp_ms},d={digest}"


def calcom_delivery(secret: str, trigger: str, payload: dict, created_at: str) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one Cal.com webhook POST."""
    body = compact_json({"triggerEvent": trigger, "createdAt": created_at, "payload": payload})
    headers = {
        "Content-Type": "application/json",
        "X-Cal-Signature-256": calcom_signature(secret, body),
        "X-Cal-Webhook-Version": CALCOM_WEBHOOK_VERSION,
    }
    return body, headers


def retell_delivery(api_key: str, event: str, call: dict, timestamp_ms: int) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one Retell webhook POST."""
    body = compact_json({"event": event, "call": call})
    headers = {"content-type": "application/json", "x-retell-signature": retell_signature(api_key, body, timestamp_ms)}
    return body, headers


# ---- payloads ---------------------------------------------------------------------------------


def _webhook_time(moment: datetime) -> str:
    """Webhook startTime/endTime: whole seconds with a Z, as in the BOOKING_CREATED example."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_offset_minutes(time_zone: str, moment: datetime) -> int:
    offset = moment.astimezone(ZoneInfo(time_zone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def booking_webhook_payload(booking: SimBooking, tenant: TenantWorld, trigger: str) -> dict:
    """The 2021-10-20 `payload` of a booking trigger, with the trigger's extra fields."""
    if trigger not in _STATUS_BY_TRIGGER:
        raise ValueError(f"unsupported booking trigger {trigger!r}; one of {', '.join(_STATUS_BY_TRIGGER)}")
    event_type = tenant.event_type(booking.event_type_id)
    organizer = tenant.user(booking.organizer_id)
    offset = _utc_offset_minutes(tenant.spec.time_zone, booking.start)
    responses: dict[str, Any] = {
        "name": {"label": "your_name", "value": booking.attendee.name, "isHidden": False},
        "email": {"label": "email_address", "value": booking.attendee.email, "isHidden": False},
    }
    if booking.attendee.phone_number:
        responses["attendeePhoneNumber"] = {
            "label": "phone_number",
            "value": booking.attendee.phone_number,
            "isHidden": False,
        }
    responses["location"] = {
        "label": "location",
        "value": {"optionValue": "", "value": booking.location_type},
        "isHidden": False,
    }
    if booking.description:
        responses["notes"] = {"label": "additional_notes", "value": booking.description, "isHidden": False}
    if len(booking.attendees) > 1:
        guests = [a.email for a in booking.attendees[1:]]
        responses["guests"] = {"label": "additional_guests", "value": guests, "isHidden": False}
    payload: dict[str, Any] = {
        "bookerUrl": "https://cal.com",
        "type": booking.event_type_slug,
        "title": booking.title,
        "description": booking.description,
        "additionalNotes": booking.description,
        "customInputs": {},
        "startTime": _webhook_time(booking.start),
        "endTime": _webhook_time(booking.end),
        "eventTypeId": booking.event_type_id,
        "hideCalendarNotes": False,
        "hideCalendarEventDetails": False,
        "hideOrganizerEmail": False,
        "schedulingType": {"roundRobin": "ROUND_ROBIN", "collective": "COLLECTIVE"}.get(
            event_type.scheduling_type or ""
        ),
        "seatsPerTimeSlot": None,
        "seatsShowAttendees": False,
        "seatsShowAvailabilityCount": True,
        "customReplyToEmail": None,
        "disableRescheduling": False,
        "disableCancelling": False,
        "organizer": {
            "id": organizer.id,
            "name": organizer.name,
            "email": organizer.email,
            "username": organizer.username,
            "timeZone": organizer.time_zone,
            "language": {"locale": "de"},
            "timeFormat": "HH:mm",
            "utcOffset": offset,
        },
        "attendees": [
            {
                "email": a.email,
                "name": a.name,
                "firstName": a.first_name,
                "lastName": a.last_name,
                "timeZone": a.time_zone,
                "phoneNumber": a.phone_number,
                "language": {"locale": a.locale},
                "utcOffset": offset,
            }
            for a in booking.attendees
        ],
        "responses": responses,
        "userFieldsResponses": {},
        "location": booking.location,
        "destinationCalendar": None,
        "iCalUID": f"{booking.uid}@Cal.com",
        "iCalSequence": 0 if trigger in ("BOOKING_CREATED", "BOOKING_REQUESTED") else 1,
        "requiresConfirmation": booking.requires_confirmation,
        "oneTimePassword": None,
        "organizationId": tenant.organization.id,
        "hashedLink": None,
        "uid": booking.uid,
        "eventTitle": booking.event_title,
        "eventDescription": event_type.description,
        "price": 0,
        "currency": "eur",
        "length": booking.duration_minutes,
        "bookingId": booking.id,
        "metadata": dict(booking.metadata),
        "status": _STATUS_BY_TRIGGER[trigger],
    }
    if trigger == "BOOKING_RESCHEDULED":
        previous = tenant.booking(booking.rescheduled_from_uid) if booking.rescheduled_from_uid else None
        if previous is None:
            raise ValueError(f"booking {booking.uid} was not rescheduled from a known booking")
        payload |= {
            "rescheduleId": previous.id,
            "rescheduleUid": previous.uid,
            "rescheduleStartTime": _webhook_time(previous.start),
            "rescheduleEndTime": _webhook_time(previous.end),
        }
    elif trigger == "BOOKING_CANCELLED":
        payload |= {"cancellationReason": booking.cancellation_reason or "", "requestReschedule": False}
    elif trigger == "BOOKING_REJECTED":
        payload["rejectionReason"] = booking.rejection_reason or ""
    return payload


def call_webhook_payload(call: SimCall, tenant: TenantWorld, event: str) -> dict:
    """The `call` of a Retell webhook: basic fields while ongoing, everything but the analysis
    once ended, the full call once analyzed. (`tenant` mirrors booking_webhook_payload; a call
    object needs nothing beyond the call.)"""
    full = retell_call_object(call)
    if event == "call_started":
        started = {name: full[name] for name in _CALL_STARTED_FIELDS}
        started["call_status"] = "ongoing"
        return started
    if event == "call_ended":
        full.pop("call_analysis")
        return full
    if event == "call_analyzed":
        return full
    raise ValueError(f"unsupported call event {event!r}; one of call_started, call_ended, call_analyzed")


# ---- a day of deliveries ----------------------------------------------------------------------


def booking_events(booking: SimBooking) -> list[tuple[str, datetime]]:
    """(trigger, when) of the webhooks a booking's history fires: created, requested or
    rescheduled at creation; cancelled or rejected at its last update. The old booking of a
    reschedule fires nothing of its own: BOOKING_RESCHEDULED on the new one covers it."""
    if booking.rescheduled_from_uid:
        events = [("BOOKING_RESCHEDULED", booking.created_at)]
    elif booking.status in ("pending", "rejected"):
        events = [("BOOKING_REQUESTED", booking.created_at)]
    else:
        events = [("BOOKING_CREATED", booking.created_at)]
    if booking.status == "cancelled" and not booking.rescheduled:
        events.append(("BOOKING_CANCELLED", booking.updated_at))
    elif booking.status == "rejected":
        events.append(("BOOKING_REJECTED", booking.updated_at))
    return events


def call_events(call: SimCall) -> list[tuple[str, int]]:
    """(event, send time in ms) of a call's webhooks; no call_started for a call that never connected."""
    events = []
    if call.connected:
        events.append(("call_started", call.start_timestamp + _RETELL_STARTED_DELAY_MS))
    events.append(("call_ended", call.end_timestamp + _RETELL_ENDED_DELAY_MS))
    events.append(("call_analyzed", call.end_timestamp + _RETELL_ANALYZED_DELAY_MS + call.duration_ms % 9000))
    return events


def deliveries_for_day(
    world: World, slug: str, day: date | str, calcom_secret: str, retell_key: str
) -> list[tuple[str, bytes, dict[str, str]]]:
    """("calcom" | "retell", body, headers) of every webhook sent on a tenant's local day, in send order.

    Covers bookings created, requested, rescheduled, cancelled or rejected that day (their
    start may be up to BOOKING_LEAD_DAYS + 1 days later) and calls started, ended or analyzed that day.
    """
    tenant = world.tenant(slug)
    day = day if isinstance(day, date) else date.fromisoformat(day)
    activity = tenant.activity
    pending: list[tuple[int, int, str, bytes, dict[str, str]]] = []
    for offset in range(BOOKING_LEAD_DAYS + 2):
        for booking in tenant.bookings_on(day + timedelta(days=offset)):
            for trigger, when in booking_events(booking):
                sent = when + _CALCOM_DELAY
                if activity.local_date(sent) != day:
                    continue
                payload = booking_webhook_payload(booking, tenant, trigger)
                body, headers = calcom_delivery(calcom_secret, trigger, payload, iso_ms(sent))
                pending.append((int(sent.timestamp() * 1000), len(pending), "calcom", body, headers))
    for call_day in (day - timedelta(days=1), day):
        for call in tenant.calls_on(call_day):
            for event, sent_ms in call_events(call):
                if activity.local_date(datetime.fromtimestamp(sent_ms / 1000, UTC)) != day:
                    continue
                body, headers = retell_delivery(retell_key, event, call_webhook_payload(call, tenant, event), sent_ms)
                pending.append((sent_ms, len(pending), "retell", body, headers))
    pending.sort(key=lambda item: (item[0], item[1]))
    return [(source, body, headers) for _, _, source, body, headers in pending]

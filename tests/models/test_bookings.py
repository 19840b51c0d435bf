"""Cal.com bookings from API v1, API v2 and webhooks normalise into one record, with secrets masked."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from askpro_pipelines.models.bookings import (
    BOOKINGS,
    Booking,
    booking_from_v1,
    booking_from_v2,
    booking_from_webhook,
    booking_uid_of_webhook,
    normalise_status,
)
from askpro_pipelines.models.errors import RecordError
from askpro_pipelines.redaction import REDACTED
from tests.fixtures import api_example as example

FIRST_UID = "8nGq4kLzR2xYpWv7TbC1sD"
CANCELLED_UID = "Qh3WmT9vKa6ZsLp2NdX8yF"
NEW_UID = "Zr5TnV2bXc8QwE1yUi4oPa"
PHONE = "+4915112345678"
CAL_KEY = "cal_live_" + "0123456789abcdef" * 2
START = datetime.datetime(2026, 9, 17, 8, 0, tzinfo=datetime.UTC)
UTC = datetime.UTC

# Fields every surface exposes the same way; metadata, cancellation reason and updatedAt differ by design.
SHARED_FIELDS = (
    "uid",
    "booking_id",
    "status",
    "start_utc",
    "end_utc",
    "event_type_id",
    "title",
    "organizer_staff_id",
    "organizer_email",
    "attendees_count",
    "attendee_phone",
    "rescheduled_from_uid",
)


def v1(uid: str = FIRST_UID) -> dict:
    return next(b for b in example("calcom_v1_bookings.json")["bookings"] if b["uid"] == uid)


def v2(uid: str = FIRST_UID) -> dict:
    return next(b for b in example("calcom_v2_bookings.json")["data"] if b["uid"] == uid)


def created() -> dict:
    return example("calcom_webhook_booking_created.json")


def cancelled() -> dict:
    return example("calcom_webhook_booking_cancelled.json")


def webhook_booking(body: dict) -> Booking:
    trigger, booking = booking_from_webhook(body)
    assert trigger == body["triggerEvent"] and booking is not None
    return booking


def shared(booking: Booking) -> dict:
    return {field: getattr(booking, field) for field in SHARED_FIELDS}


def error_of(parser, *args) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parser(*args)
    # A chained ValidationError would print the payload in a traceback.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return caught.value


# ---- every example parses -------------------------------------------------------------------


def test_v2_example_fields():
    booking = booking_from_v2(v2())
    assert (booking.uid, booking.booking_id, booking.status) == (FIRST_UID, "3218445", "accepted")
    assert (booking.start_utc, booking.end_utc) == (START, datetime.datetime(2026, 9, 17, 8, 30, tzinfo=UTC))
    assert (booking.event_type_id, booking.organizer_staff_id) == ("1204551", "41872")
    assert booking.organizer_email == "anna.schneider@praxis-stadtpark.example"
    assert (booking.attendees_count, booking.attendee_phone) == (1, PHONE)
    assert booking.title == "Erstberatung zwischen Dr. Anna Schneider und Lukas Hoffmann"
    assert booking.created_at == booking.updated_at == datetime.datetime(2026, 9, 15, 8, 1, 7, 512000, tzinfo=UTC)
    assert booking.metadata == {"retell_call_id": "call_9b2e4f71c0a35d68e1f2a7b4c93"}
    assert (booking.rescheduled_from_uid, booking.rescheduled_to_uid, booking.rescheduled) == (None, None, None)

    other = booking_from_v2(v2(CANCELLED_UID))
    assert (other.status, other.cancellation_reason) == ("cancelled", "Termin passt leider nicht mehr.")
    assert other.updated_at == datetime.datetime(2026, 10, 20, 16, 2, 44, 118000, tzinfo=UTC)
    assert other.attendee_phone is None


def test_v1_example_fields():
    booking = booking_from_v1(v1())
    assert (booking.uid, booking.status, booking.organizer_staff_id) == (FIRST_UID, "accepted", "41872")
    # v1 attendees carry no phone number: the booking form's answer is used.
    assert booking.attendee_phone == PHONE
    assert booking.updated_at is None and booking.rescheduled_to_uid is None
    assert booking_from_v1(v1(CANCELLED_UID)).status == "cancelled"


@pytest.mark.parametrize("uid", [FIRST_UID, CANCELLED_UID])
def test_v1_and_v2_forms_of_a_booking_are_equal_where_comparable(uid):
    from_v1, from_v2 = booking_from_v1(v1(uid)), booking_from_v2(v2(uid))
    assert shared(from_v1) == shared(from_v2)
    assert from_v1.created_at == from_v2.created_at


def test_v1_never_reports_updated_at():
    """v1 does not expose it; a stray value must not become a sync watermark."""
    assert booking_from_v1({**v1(), "updatedAt": "2026-09-16T00:00:00.000Z"}).updated_at is None


def test_webhook_created_matches_the_v2_booking():
    booking = webhook_booking(created())
    assert shared(booking) == shared(booking_from_v2(v2()))
    assert booking.metadata == booking_from_v2(v2()).metadata
    assert (booking.created_at, booking.updated_at) == (None, None)


def test_webhook_cancelled_matches_the_v2_booking():
    booking = webhook_booking(cancelled())
    from_v2 = booking_from_v2(v2(CANCELLED_UID))
    assert shared(booking) == shared(from_v2)
    assert booking.cancellation_reason == from_v2.cancellation_reason
    assert booking.rescheduled is None  # requestReschedule is false


def test_webhook_rescheduled_names_the_old_booking():
    body = created()
    body["triggerEvent"] = "BOOKING_RESCHEDULED"
    body["payload"].update(
        uid=NEW_UID,
        bookingId=3230001,
        startTime="2026-09-18T12:00:00.000Z",
        endTime="2026-09-18T12:30:00.000Z",
        rescheduleId=3218445,
        rescheduleUid=FIRST_UID,
        rescheduleStartTime="2026-09-17T08:00:00Z",
        rescheduleEndTime="2026-09-17T08:30:00Z",
    )
    booking = webhook_booking(body)
    assert (booking.uid, booking.booking_id, booking.rescheduled_from_uid) == (NEW_UID, "3230001", FIRST_UID)
    assert booking.start_utc == datetime.datetime(2026, 9, 18, 12, 0, tzinfo=UTC)
    assert booking.status == "accepted"
    assert booking_uid_of_webhook(body) == NEW_UID


def test_v2_reschedule_links_both_ways():
    old = booking_from_v2({**v2(), "status": "cancelled", "rescheduledToUid": NEW_UID})
    assert (old.rescheduled_to_uid, old.rescheduled) == (NEW_UID, True)
    new = booking_from_v2({**v2(), "uid": NEW_UID, "rescheduledFromUid": FIRST_UID})
    assert (new.rescheduled_from_uid, new.rescheduled) == (FIRST_UID, None)
    assert booking_from_v1({**v1(), "uid": NEW_UID, "fromReschedule": FIRST_UID}).rescheduled_from_uid == FIRST_UID


def test_cancel_with_reschedule_request_marks_the_booking_rescheduled():
    body = cancelled()
    body["payload"]["requestReschedule"] = True
    assert webhook_booking(body).rescheduled is True


def flat_meeting_body(trigger: str = "MEETING_ENDED") -> dict:
    """MEETING_* bodies are a raw booking row with triggerEvent beside it, no payload wrapper."""
    row = v1()
    row["user"]["id"] = 41872
    del row["userId"]
    return {**row, "triggerEvent": trigger, "updatedAt": "2026-09-17T08:31:02.004Z", "rescheduled": False}


def test_meeting_ended_flat_shape():
    body = flat_meeting_body()
    booking = webhook_booking(body)
    assert shared(booking) == shared(booking_from_v1(v1()))
    assert booking.organizer_staff_id == "41872"  # from user.id when userId is absent
    assert booking.updated_at == datetime.datetime(2026, 9, 17, 8, 31, 2, 4000, tzinfo=UTC)
    assert booking.rescheduled is False
    assert booking_uid_of_webhook(body) == FIRST_UID


def test_meeting_started_wrapped_in_a_payload_parses_too():
    body = created()
    body["triggerEvent"] = "MEETING_STARTED"
    assert webhook_booking(body).uid == FIRST_UID


@pytest.mark.parametrize(
    "body",
    [
        {
            "triggerEvent": "BOOKING_NO_SHOW_UPDATED",
            "createdAt": "2026-09-17T09:00:00.000Z",
            "payload": {
                "message": "x",
                "attendees": [{"email": "lukas.hoffmann@example.de", "noShow": True}],
                "bookingUid": FIRST_UID,
                "bookingId": 3218445,
            },
        },
        {
            "triggerEvent": "AFTER_GUESTS_CAL_VIDEO_NO_SHOW",
            "payload": {"bookingUid": FIRST_UID, "bookingId": 3218445, "title": "t", "startTime": "bad"},
        },
        {"triggerEvent": "FORM_SUBMITTED", "payload": {"responses": {}}},
        {"triggerEvent": "PING", "payload": {}},
        {"triggerEvent": "SOME_TRIGGER_FROM_NEXT_YEAR", "payload": {"uid": FIRST_UID}},
    ],
)
def test_non_booking_triggers_give_none(body):
    assert booking_from_webhook(body) == (body["triggerEvent"], None)


def test_uid_of_a_no_show_event():
    body = {"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "payload": {"bookingUid": f" {FIRST_UID} "}}
    assert booking_uid_of_webhook(body) == FIRST_UID


@pytest.mark.parametrize("body", [{}, {"payload": {"uid": 3218445}}, {"payload": "x", "uid": ""}, [FIRST_UID], None])
def test_uid_of_a_webhook_without_one(body):
    assert booking_uid_of_webhook(body) is None


# ---- status and timestamps ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ACCEPTED", "accepted"),
        ("accepted", "accepted"),
        (" Pending ", "pending"),
        ("CANCELLED", "cancelled"),
        ("REJECTED", "rejected"),
        ("AWAITING_HOST", "awaiting_host"),
        ("awaiting_host", "awaiting_host"),
        ("awaitingHost", "awaiting_host"),
        ("SOME_NEW_STATUS", "some_new_status"),
    ],
)
def test_status_is_lower_snake_case(given, expected):
    assert normalise_status(given) == expected
    assert booking_from_v2({**v2(), "status": given}).status == expected
    assert booking_from_v1({**v1(), "status": given}).status == expected


def test_missing_webhook_status_is_implied_only_by_the_status_triggers():
    body = cancelled()
    del body["payload"]["status"]
    assert webhook_booking(body).status == "cancelled"

    body = created()
    del body["payload"]["status"]
    error = error_of(booking_from_webhook, body)
    assert (error.entity, error.record_id) == (BOOKINGS, FIRST_UID)
    assert error.message.startswith("payload.status: missing")


@pytest.mark.parametrize(
    "text",
    [
        "2026-09-17T08:00:00Z",
        "2026-09-17T08:00:00.000Z",
        "2026-09-17T08:00:00+00:00",
        "2026-09-17T08:00:00.000+00:00",
        "2026-09-17T10:00:00+02:00",
        "2026-09-17T08:00Z",
        "2026-09-17 08:00:00Z",
    ],
)
def test_timestamp_variants_give_the_same_instant(text):
    body = created()
    body["payload"]["startTime"] = text
    booking = webhook_booking(body)
    assert booking.start_utc == START
    assert booking.start_utc.utcoffset() == datetime.timedelta(0)
    assert booking_from_v2({**v2(), "start": text}).start_utc == START
    assert booking_from_v1({**v1(), "startTime": text}).start_utc == START


@pytest.mark.parametrize(
    "bad",
    ["2026-09-17T08:00:00", "2026-09-17", "17.09.2026 10:00", "", "9999-12-31T23:00:00-05:00", 1789459083120, None],
)
def test_timestamps_without_an_offset_or_malformed_are_rejected(bad):
    body = created()
    body["payload"]["startTime"] = bad
    error = error_of(booking_from_webhook, body)
    assert (error.entity, error.record_id) == (BOOKINGS, FIRST_UID)
    assert error.message.startswith("payload.startTime: ")


def test_end_before_start_is_rejected():
    error = error_of(booking_from_v2, {**v2(), "end": "2026-09-17T07:59:59Z"})
    assert str(error) == f"entity={BOOKINGS} record={FIRST_UID}: end: before start"


@given(
    st.datetimes(
        min_value=datetime.datetime(1900, 1, 1),
        max_value=datetime.datetime(2200, 1, 1),
        timezones=st.timezones(),
        allow_imaginary=False,
    )
)
def test_any_aware_iso_instant_round_trips(instant):
    # Compared in UTC: Python never calls an ambiguous (fold) local time equal to another zone's time.
    booking = booking_from_v2({**v2(), "start": instant.isoformat(), "end": "9999-12-31T00:00:00Z"})
    assert booking.start_utc == instant.astimezone(UTC) and booking.start_utc.tzinfo is UTC


# ---- field sources --------------------------------------------------------------------------


def test_v2_event_type_falls_back_to_the_deprecated_id():
    raw = v2()
    del raw["eventType"]
    assert booking_from_v2(raw).event_type_id == "1204551"
    raw = {**v2(), "eventType": {"id": 99, "slug": "x"}, "eventTypeId": 1204551}
    assert booking_from_v2(raw).event_type_id == "99"


def test_v2_without_hosts_has_no_organizer():
    booking = booking_from_v2({**v2(), "hosts": []})
    assert (booking.organizer_staff_id, booking.organizer_email) == (None, None)


def test_attendee_phone_sources_in_order():
    body = created()
    payload = body["payload"]
    payload["attendees"][0]["phoneNumber"] = "+4930111"
    assert webhook_booking(body).attendee_phone == "+4930111"
    payload["attendees"][0]["phoneNumber"] = None
    assert webhook_booking(body).attendee_phone == PHONE  # the {label, value} answer
    del payload["responses"]["attendeePhoneNumber"]
    payload["responses"]["phone"] = {"label": "phone", "value": "+4930222"}
    assert webhook_booking(body).attendee_phone == "+4930222"
    payload["responses"]["phone"] = {"label": "phone", "value": ""}
    assert webhook_booking(body).attendee_phone is None

    raw = v2()
    raw["attendees"][0]["phoneNumber"] = "0151 12345678"  # kept as given: normalising happens later
    assert booking_from_v2(raw).attendee_phone == "0151 12345678"


def test_attendees_are_counted():
    raw = v2()
    raw["attendees"].append({**raw["attendees"][0], "email": "gast@example.de"})
    assert booking_from_v2(raw).attendees_count == 2
    assert booking_from_v2({**v2(), "attendees": []}).attendees_count == 0


# ---- redaction ------------------------------------------------------------------------------


def test_secrets_in_metadata_and_free_text_are_masked():
    body = created()
    payload = body["payload"]
    payload["metadata"] = {
        "videoCallUrl": "https://app.cal.com/video/abc?token=s3cr3t-value",
        "videoCallData": {"type": "daily_video", "id": "room", "password": "hunter22", "url": "https://x"},
        "note": f"key {CAL_KEY}",
    }
    payload["videoCallData"] = {"type": "daily_video", "password": "hunter22"}
    payload["title"] = f"Erstberatung {CAL_KEY}"
    booking = webhook_booking(body)
    assert booking.metadata["videoCallData"]["password"] == REDACTED
    assert booking.metadata["videoCallUrl"] == f"https://app.cal.com/video/abc?token={REDACTED}"
    assert booking.metadata["note"] == f"key cal_live_{REDACTED}"
    assert booking.title == f"Erstberatung cal_live_{REDACTED}"
    dumped = booking.model_dump_json()
    assert "hunter22" not in dumped and CAL_KEY not in dumped and "s3cr3t" not in dumped


def test_cancellation_reason_is_masked_but_personal_data_kept():
    raw = {**v2(CANCELLED_UID), "cancellationReason": "Neues Passwort: password: hunter22"}
    booking = booking_from_v2(raw)
    assert booking.cancellation_reason == f"Neues Passwort: password: {REDACTED}"
    assert booking.organizer_email == "anna.schneider@praxis-stadtpark.example"


def test_records_are_frozen_and_closed():
    booking = booking_from_v2(v2())
    with pytest.raises(ValidationError):
        booking.status = "cancelled"
    with pytest.raises(ValidationError):
        Booking(**booking.model_dump(), extra_field=1)
    with pytest.raises(ValidationError):
        booking.model_validate({**booking.model_dump(), "start_utc": datetime.datetime(2026, 9, 17, 8, 0)})


def test_direct_construction_redacts_and_normalises():
    booking = Booking.model_validate(
        {**booking_from_v2(v2()).model_dump(), "status": "AWAITING_HOST", "metadata": {"apiKey": "abc"}}
    )
    assert (booking.status, booking.metadata) == ("awaiting_host", {"apiKey": REDACTED})


# ---- errors ---------------------------------------------------------------------------------


def test_record_error_names_entity_record_and_field():
    error = error_of(booking_from_v2, {**v2(), "eventType": {"id": True}})
    assert isinstance(error, ValueError)
    assert (error.entity, error.record_id) == (BOOKINGS, FIRST_UID)
    assert str(error).startswith(f"entity=calcom_bookings record={FIRST_UID}: eventType.id: ")


def test_record_error_never_echoes_the_payload():
    raw = v2()
    raw["attendees"] = "Lukas Hoffmann <lukas.hoffmann@example.de> +4915112345678"
    raw["start"] = "Donnerstag 10 Uhr, Lukas Hoffmann"
    raw["title"] = 12345678
    message = str(error_of(booking_from_v2, raw))
    for field in ("attendees", "start", "title"):
        assert f"{field}: " in message
    for secret in ("Lukas", "lukas.hoffmann", "4915112345678", "Donnerstag", "12345678"):
        assert secret not in message


@pytest.mark.parametrize(
    ("parser", "raw", "record_id", "message"),
    [
        (booking_from_v2, {**v2(), "uid": None}, None, "uid: Input should be a non-empty string uid"),
        (booking_from_v2, {**v2(), "uid": 3218445}, "3218445", "uid: Input should be a non-empty string uid"),
        (booking_from_v1, {k: v for k, v in v1().items() if k != "status"}, FIRST_UID, "status: Field required"),
        (booking_from_v1, {**v1(), "status": ""}, FIRST_UID, "status: Input should be a non-empty status string"),
    ],
)
def test_malformed_records(parser, raw, record_id, message):
    error = error_of(parser, raw)
    assert (error.entity, error.record_id, error.message) == (BOOKINGS, record_id, message)


def test_other_api_shapes_are_named():
    error = error_of(booking_from_v2, v1())
    assert error.message.startswith("start: missing but 'startTime' present")
    assert "cal-api-version" in error.message
    assert error_of(booking_from_v1, v2()).message.startswith("startTime: missing but 'start' present")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"payload": {"uid": FIRST_UID}}, "triggerEvent: missing or not a non-empty string"),
        ({"triggerEvent": 5, "payload": {"uid": FIRST_UID}}, "triggerEvent: missing or not a non-empty string"),
        ({"triggerEvent": "BOOKING_CREATED"}, "payload: missing, and the body is not a flat booking row either"),
        ({"triggerEvent": "BOOKING_CREATED", "payload": [FIRST_UID]}, "payload: Input should be a valid dictionary"),
    ],
)
def test_malformed_webhooks(body, message):
    error = error_of(booking_from_webhook, body)
    assert error.entity == BOOKINGS
    assert error.message.startswith(message)


def test_a_webhook_that_is_not_an_object():
    assert str(error_of(booking_from_webhook, "[]")) == "entity=calcom_bookings record=?: expected an object, got str"

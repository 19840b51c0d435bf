"""Retell calls from get-call, both list-calls generations and webhooks normalise into one record."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from askpro_pipelines.models.calls import (
    BOOKING_UID_KEYS,
    CALLS,
    Call,
    call_from_raw,
    call_from_webhook,
    call_id_of_webhook,
    merge_call,
)
from askpro_pipelines.models.errors import RecordError
from askpro_pipelines.redaction import REDACTED
from tests.fixtures import api_example as example

CALL_ID = "call_9b2e4f71c0a35d68e1f2a7b4c93"
VOICEMAIL_CALL_ID = "call_5d0c8e2a1f7b4936a2e0c1d8b75"
AGENT_ID = "agent_7c1f0e2d9a4b5c6d7e8f901a2b"
BOOKING_UID = "8nGq4kLzR2xYpWv7TbC1sD"
CAL_KEY = "cal_live_" + "0123456789abcdef" * 2
RETELL_KEY = "key_" + "9f8e7d6c5b4a" * 2
UTC = datetime.UTC
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
# 1789459083120 ms, worked out by hand: 20 711 days after 1970-01-01 is 2026-09-15, plus 28 683.120 s.
STARTED = datetime.datetime(2026, 9, 15, 7, 58, 3, 120000, tzinfo=UTC)
ENDED = datetime.datetime(2026, 9, 15, 8, 1, 7, 680000, tzinfo=UTC)


def get_call(**changes) -> dict:
    return {**example("retell_v2_get_call.json"), **changes}


def v3_item(call_id: str = CALL_ID) -> dict:
    return next(item for item in example("retell_v3_list_calls.json")["items"] if item["call_id"] == call_id)


def webhook(event: str) -> dict:
    return example(f"retell_webhook_{event}.json")


def error_of(parser, *args) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parser(*args)
    # A chained ValidationError would print the payload in a traceback.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return caught.value


# ---- every example parses -------------------------------------------------------------------


def test_get_call_example():
    call = call_from_raw(get_call())
    assert (call.call_id, call.agent_id, call.agent_version) == (CALL_ID, AGENT_ID, 7)
    assert (call.call_type, call.direction, call.call_status) == ("phone_call", "inbound", "ended")
    assert (call.from_number, call.to_number) == ("+4915112345678", "+493012345678")
    assert (call.start_utc, call.end_utc, call.duration_ms) == (STARTED, ENDED, 184560)
    assert (call.disconnection_reason, call.cost_cents) == ("agent_hangup", 27.69)
    assert (call.call_successful, call.user_sentiment, call.in_voicemail) == (True, "Positive", False)
    assert call.call_summary.startswith("Herr Hoffmann hat eine Erstberatung")
    assert call.transcript.startswith("Agent: Praxis am Stadtpark") and "Auf Wiederhören!" in call.transcript
    assert call.metadata == {"source": "hauptnummer"}
    assert call.dynamic_variables == {"praxis_name": "Praxis am Stadtpark", "previous_node": "Terminbuchung"}
    assert call.booking_uid is None


def test_legacy_v2_list_items_carry_transcripts():
    first, voicemail = (call_from_raw(item) for item in example("retell_v2_list_calls.json"))
    assert first == call_from_raw(get_call())
    assert (voicemail.call_id, voicemail.direction, voicemail.in_voicemail) == (VOICEMAIL_CALL_ID, "outbound", True)
    assert (voicemail.disconnection_reason, voicemail.cost_cents) == ("voicemail_reached", 11.3)


def test_v3_list_item_lacks_only_the_transcript_and_merge_call_fills_it():
    item = call_from_raw(v3_item())
    detail = call_from_raw(get_call())
    assert item.transcript is None and detail.transcript is not None
    assert item.model_copy(update={"transcript": detail.transcript}) == detail
    assert merge_call(item, detail) == detail
    assert [call_from_raw(raw).call_id for raw in example("retell_v3_list_calls.json")["items"]] == [
        CALL_ID,
        VOICEMAIL_CALL_ID,
    ]


def test_merge_call_keeps_what_the_base_has():
    item = call_from_raw(
        {
            **v3_item(),
            "call_status": "ongoing",
            "end_timestamp": None,
            "duration_ms": None,
            "call_analysis": None,
            "metadata": {},
        }
    )
    merged = merge_call(item, call_from_raw(get_call()))
    assert merged.call_status == "ongoing"  # set on the base, so kept
    assert (merged.end_utc, merged.duration_ms, merged.call_successful) == (ENDED, 184560, True)  # filled
    assert merged.metadata == {"source": "hauptnummer"}  # came back empty, so filled


def test_merge_call_refuses_another_call():
    error = error_of(merge_call, call_from_raw(v3_item()), call_from_raw(v3_item(VOICEMAIL_CALL_ID)))
    assert (error.entity, error.record_id) == (CALLS, CALL_ID)
    assert error.message.startswith("call_id: ")


# ---- webhooks -------------------------------------------------------------------------------


def test_webhook_call_started():
    event, call = call_from_webhook(webhook("call_started"))
    assert (event, call.call_id, call.call_status) == ("call_started", CALL_ID, "ongoing")
    assert (call.start_utc, call.end_utc, call.duration_ms) == (STARTED, None, None)
    assert (call.transcript, call.cost_cents, call.disconnection_reason) == (None, None, None)
    assert call.dynamic_variables == {"praxis_name": "Praxis am Stadtpark"}


def test_webhook_call_ended_has_no_analysis():
    event, call = call_from_webhook(webhook("call_ended"))
    assert event == "call_ended"
    assert (call.call_successful, call.user_sentiment, call.call_summary, call.in_voicemail) == (None,) * 4
    assert call.transcript is not None and call.cost_cents == 27.69


def test_webhook_call_analyzed_matches_get_call():
    event, call = call_from_webhook(webhook("call_analyzed"))
    assert event == "call_analyzed"
    assert call == call_from_raw(get_call())


def test_legacy_data_key():
    body = webhook("call_ended")
    body["data"] = body.pop("call")
    event, call = call_from_webhook(body)
    assert (event, call) == ("call_ended", call_from_webhook(webhook("call_ended"))[1])
    assert call_id_of_webhook(body) == CALL_ID


def test_call_id_of_webhook():
    assert call_id_of_webhook(webhook("call_started")) == CALL_ID
    for body in ({}, {"event": "call_started"}, {"call": {"call_id": " "}}, {"call": "x"}, [CALL_ID], None):
        assert call_id_of_webhook(body) is None


@pytest.mark.parametrize(
    ("body", "record_id", "message"),
    [
        ({"event": "chat_started", "chat": {"chat_id": "chat_1"}}, None, "call: missing"),
        ({"call": {"call_id": CALL_ID}}, CALL_ID, "event: Field required"),
        ({"event": "", "call": {"call_id": CALL_ID}}, CALL_ID, "event: Input should be a non-empty event name"),
        ({"event": "call_started", "call": None}, None, "call: Input should be a valid dictionary"),
        (
            {"event": "call_ended", "call": {"call_id": CALL_ID, "start_timestamp": "2026-09-15T07:58:03Z"}},
            CALL_ID,
            "call.start_timestamp: Input should be a non-negative whole number of milliseconds",
        ),
    ],
)
def test_malformed_webhooks(body, record_id, message):
    error = error_of(call_from_webhook, body)
    assert (error.entity, error.record_id) == (CALLS, record_id)
    assert error.message.startswith(message)


def test_a_webhook_that_is_not_an_object():
    assert str(error_of(call_from_webhook, "[]")) == "entity=retell_calls record=?: expected an object, got str"


# ---- booking uid and variables --------------------------------------------------------------


def with_variables(collected=None, metadata=None, llm=None) -> dict:
    return get_call(collected_dynamic_variables=collected, metadata=metadata, retell_llm_dynamic_variables=llm)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (with_variables(), None),
        (
            with_variables(collected={"booking_uid": "c1"}, metadata={"booking_uid": "m1"}, llm={"booking_uid": "l1"}),
            "c1",
        ),
        (with_variables(metadata={"cal_booking_uid": "m1"}, llm={"booking_uid": "l1"}), "m1"),
        (with_variables(llm={"bookingUid": "l1"}), "l1"),
        # Source first, then key order: a late key in collected beats an early key in metadata.
        (with_variables(collected={"booking_id_cal": "c4"}, metadata={"booking_uid": "m1"}), "c4"),
        (with_variables(collected={"bookingUid": "c3", "cal_booking_uid": "c2"}), "c2"),
        # Empty values, non-strings and unfilled templates are not uids.
        (
            with_variables(collected={"booking_uid": " ", "cal_booking_uid": 3218445}, metadata={"bookingUid": " m3 "}),
            "m3",
        ),
        (with_variables(collected={"booking_uid": "{{booking_uid}}"}, llm={"booking_uid": BOOKING_UID}), BOOKING_UID),
    ],
)
def test_booking_uid_extraction_order(raw, expected):
    assert call_from_raw(raw).booking_uid == expected


def test_booking_uid_keys_are_the_documented_ones():
    assert BOOKING_UID_KEYS == ("booking_uid", "cal_booking_uid", "bookingUid", "booking_id_cal")


def test_collected_variables_win_over_llm_variables():
    call = call_from_raw(with_variables(collected={"name": "Lukas", "slot": "10:00"}, llm={"name": "?", "praxis": "P"}))
    assert call.dynamic_variables == {"name": "Lukas", "praxis": "P", "slot": "10:00"}


# ---- redaction ------------------------------------------------------------------------------


def test_secrets_are_masked_in_metadata_variables_transcript_and_summary():
    raw = get_call(
        metadata={"source": "hauptnummer", "cal_api_key": CAL_KEY, "note": f"Bearer {RETELL_KEY}"},
        retell_llm_dynamic_variables={"api_key": "plain-secret-value"},
        collected_dynamic_variables={"booking_uid": BOOKING_UID},
        transcript=f"User: Mein Schlüssel ist {CAL_KEY}, das Passwort: password=hunter22\nAgent: Danke.",
    )
    raw["call_analysis"]["call_summary"] = f"Anrufer nannte {RETELL_KEY}."
    call = call_from_raw(raw)
    assert call.metadata == {"source": "hauptnummer", "cal_api_key": REDACTED, "note": f"Bearer key_{REDACTED}"}
    assert call.dynamic_variables == {"api_key": REDACTED, "booking_uid": BOOKING_UID}
    assert (
        call.transcript
        == f"User: Mein Schlüssel ist cal_live_{REDACTED}, das Passwort: password={REDACTED}\nAgent: Danke."
    )
    assert call.call_summary == f"Anrufer nannte key_{REDACTED}."
    assert call.booking_uid == BOOKING_UID
    dumped = call.model_dump_json()
    for secret in (CAL_KEY, RETELL_KEY, "plain-secret-value", "hunter22"):
        assert secret not in dumped


def test_direct_construction_redacts_too():
    call = call_from_raw(get_call())
    rebuilt = Call.model_validate({**call.model_dump(), "transcript": CAL_KEY, "metadata": {"token": "t"}})
    assert (rebuilt.transcript, rebuilt.metadata) == (f"cal_live_{REDACTED}", {"token": REDACTED})


def test_records_are_frozen_and_closed():
    call = call_from_raw(get_call())
    with pytest.raises(ValidationError):
        call.call_status = "error"
    with pytest.raises(ValidationError):
        Call(**call.model_dump(), analysis={})
    with pytest.raises(ValidationError):
        Call.model_validate({**call.model_dump(), "start_utc": datetime.datetime(2026, 9, 15, 7, 58)})


# ---- numbers and timestamps -----------------------------------------------------------------


def test_whole_float_versions_become_ints():
    call = call_from_raw(get_call(agent_version=3.0))
    assert call.agent_version == 3 and type(call.agent_version) is int


@pytest.mark.parametrize("bad", [3.5, -1, True, "7", float("nan")])
def test_bad_versions_are_rejected_by_name(bad):
    error = error_of(call_from_raw, get_call(agent_version=bad))
    assert (error.entity, error.record_id) == (CALLS, CALL_ID)
    assert error.message.startswith("agent_version: Input should be a non-negative whole number of versions")


def test_duration_is_derived_when_missing():
    call = call_from_raw(get_call(duration_ms=None))
    assert call.duration_ms == 184560
    assert call_from_raw(get_call(duration_ms=None, end_timestamp=None)).duration_ms is None
    assert call_from_raw(get_call(duration_ms=180000)).duration_ms == 180000  # given wins


def test_end_before_start_is_rejected():
    error = error_of(call_from_raw, get_call(end_timestamp=1789459083119))
    assert str(error) == f"entity=retell_calls record={CALL_ID}: end_timestamp: before start_timestamp"


@pytest.mark.parametrize("bad", [-1, 1.5, "1789459083120", True, 10**20, float("inf")])
def test_bad_timestamps_are_rejected_by_name(bad):
    error = error_of(call_from_raw, get_call(start_timestamp=bad))
    assert error.message.startswith("start_timestamp: Input should be")


def test_web_call_without_phone_fields():
    raw = {
        "call_id": "call_web_1",
        "call_type": "web_call",
        "agent_id": AGENT_ID,
        "agent_version": 7,
        "call_status": "registered",
        "access_token": "eyJhbGciOi.secret",
    }
    call = call_from_raw(raw)
    assert (call.call_type, call.direction, call.from_number, call.start_utc) == ("web_call", None, None, None)
    assert "eyJhbGciOi" not in call.model_dump_json()


@given(st.integers(min_value=0, max_value=253_402_300_799_999), st.booleans())
def test_any_ms_timestamp_round_trips_to_the_same_utc_instant(millis, as_float):
    value = float(millis) if as_float and millis < 2**53 else millis
    call = call_from_raw({"call_id": "call_x", "start_timestamp": value, "end_timestamp": millis})
    assert call.start_utc == call.end_utc
    assert call.start_utc.utcoffset() == datetime.timedelta(0)
    assert (call.start_utc - EPOCH) // datetime.timedelta(milliseconds=1) == millis
    assert call.duration_ms == 0


# ---- errors ---------------------------------------------------------------------------------


def test_record_error_names_entity_record_and_field_and_never_echoes_the_payload():
    raw = get_call(
        from_number=4915112345678,
        transcript=["User: Lukas Hoffmann, Telefon 0151 12345678"],
        metadata="lukas.hoffmann@example.de",
    )
    raw["call_cost"]["combined_cost"] = "27.69 EUR"
    error = error_of(call_from_raw, raw)
    assert (error.entity, error.record_id) == (CALLS, CALL_ID)
    message = str(error)
    assert message.startswith(f"entity=retell_calls record={CALL_ID}: ")
    for field in ("from_number", "transcript", "metadata", "call_cost.combined_cost"):
        assert f"{field}: " in message
    for value in ("4915112345678", "Lukas", "12345678", "lukas.hoffmann", "27.69"):
        assert value not in message


@pytest.mark.parametrize(
    ("raw", "record_id", "message"),
    [
        ({"agent_id": AGENT_ID}, None, "call_id: Field required"),
        ({"call_id": " "}, None, "call_id: Input should be a non-empty string id"),
        ({"call_id": 17}, "17", "call_id: Input should be a non-empty string id"),
        (
            {"call_id": CALL_ID, "call_analysis": {"call_successful": "yes"}},
            CALL_ID,
            "call_analysis.call_successful: Input should be a valid boolean",
        ),
    ],
)
def test_malformed_records(raw, record_id, message):
    error = error_of(call_from_raw, raw)
    assert (error.entity, error.record_id, error.message) == (CALLS, record_id, message)


def test_a_record_that_is_not_an_object():
    assert str(error_of(call_from_raw, [CALL_ID])) == "entity=retell_calls record=?: expected an object, got list"

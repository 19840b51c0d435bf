"""Validly signed bodies a sender controls never get a 500, and SQLite and PostgreSQL answer alike.

A 5xx tells a provider to retry, so a body the receiver can never store would come back again and
again. What cannot go into a column (a NUL character, which PostgreSQL text cannot hold, or an
unpaired surrogate, which no UTF-8 database can) is refused with 400 and stores nothing; the same
characters deeper in the body stay in the stored JSON as escapes.
"""

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from askpro_pipelines.warehouse.store import create_engine
from askpro_pipelines.webhooks.store import NewEvent, UnstorableEvent, WebhookStore
from tests.webhooks.signed import post_calcom, post_retell

START = "2026-09-17T08:00:00.000Z"
CREATED = "2026-09-15T08:01:09.000Z"


def _json(value) -> bytes:
    # ensure_ascii keeps NUL and surrogates as \u escapes, exactly as a JSON sender writes them.
    return json.dumps(value, separators=(",", ":")).encode()


def _calcom(trigger="BOOKING_CREATED", uid="8nGq4kLzR2xYpWv7TbC1sD", created=CREATED, **payload) -> bytes:
    return _json(
        {"triggerEvent": trigger, "createdAt": created, "payload": {"uid": uid, "startTime": START, **payload}}
    )


def _retell(event="call_ended", call_id="call_1", **call) -> bytes:
    return _json({"event": event, "call": {"call_id": call_id, "start_timestamp": 1789459083120, **call}})


def _post(client, receiver, provider: str, body: bytes):
    return (post_calcom if provider == "calcom" else post_retell)(client, receiver, body)


REFUSED = [
    # (case, provider, body, field named in the answer)
    ("NUL in triggerEvent", "calcom", _calcom(trigger="BOOKING_CREATED\x00"), "triggerEvent"),
    ("NUL in the booking uid", "calcom", _calcom(uid="8nGq4kLz\x00R2xY"), "payload.uid"),
    ("NUL in createdAt", "calcom", _calcom(created=CREATED + "\x00"), "createdAt"),
    ("NUL in a flat MEETING uid", "calcom", _json({"triggerEvent": "MEETING_ENDED", "uid": "u\x00"}), "uid"),
    (
        "NUL in bookingUid",
        "calcom",
        _json({"triggerEvent": "BOOKING_PAID", "payload": {"bookingUid": "\x00"}}),
        "payload.bookingUid",
    ),
    ("NUL in the Retell event", "retell", _retell(event="call_\x00ended"), "event"),
    ("NUL in call_id", "retell", _retell(call_id="call_\x001"), "call.call_id"),
    ("NUL in a chat_id", "retell", _json({"event": "chat_ended", "chat": {"chat_id": "chat\x00"}}), "chat.chat_id"),
    (
        "NUL in a legacy data.call_id",
        "retell",
        _json({"event": "call_started", "data": {"call_id": "\x00"}}),
        "data.call_id",
    ),
    ("unpaired surrogate in the uid", "calcom", _calcom(uid="abc\ud800"), "payload.uid"),
    ("unpaired surrogate in the event", "retell", _retell(event="call_ended\udfff"), "event"),
]


@pytest.mark.parametrize(("case", "provider", "body", "field"), REFUSED, ids=[r[0] for r in REFUSED])
def test_unstorable_ids_and_event_names_are_refused_with_400(
    start_receiver, client, warehouse_url, caplog, case, provider, body, field
):
    receiver, store = start_receiver(warehouse_url)
    caplog.set_level(logging.WARNING, logger="askpro_pipelines.webhooks")
    response = _post(client, receiver, provider, body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]
    assert store.counts() == {}
    line = next(r.getMessage() for r in caplog.records if r.name == "askpro_pipelines.webhooks")
    assert "tenant='praxis'" in line and "status=400" in line and field in line
    # The receiver still works: the same delivery without the bad character is stored.
    clean = body.replace(b"\\u0000", b"").replace(b"\\ud800", b"").replace(b"\\udfff", b"")
    assert _post(client, receiver, provider, clean).json()["status"] == "stored"


STORED = [
    # (case, provider, body): the odd character is only in the stored JSON, never in a column.
    ("NUL in a booking title", "calcom", _calcom(title="Erstgespräch\x00Physio")),
    ("NUL in a nested key", "calcom", _calcom(responses={"notes\x00": {"value": "x\x00y"}})),
    ("NUL in a transcript", "retell", _retell(transcript="Hallo\x00 Welt")),
    ("unpaired surrogate in a transcript", "retell", _retell(transcript="\ud83d alone")),
    ("NUL in metadata keys and values", "retell", _retell(metadata={"\x00": ["\x00", {"k": "\x00"}]})),
    ("integer ids", "calcom", _json({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "payload": {"bookingId": 10**200}})),
    ("ids that are not text", "retell", _json({"event": "call_ended", "call": {"call_id": {"a": 1}, "chat_id": [1]}})),
    (
        "float and boolean ids",
        "calcom",
        _json({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": 1.5, "bookingId": True}}),
    ),
    ("a start before year 1 in UTC", "calcom", _calcom(startTime="0001-01-01T00:30:00+01:00")),
    ("a start after year 9999 in Berlin", "calcom", _calcom(startTime="9999-12-31T23:30:00+00:00")),
    ("a huge start timestamp", "retell", _retell(start_timestamp=10**300)),
    ("an infinite start timestamp", "retell", b'{"event":"call_ended","call":{"call_id":"c","start_timestamp":1e999}}'),
    ("NaN", "retell", b'{"event":"call_ended","call":{"call_id":"c","start_timestamp":NaN}}'),
]


@pytest.mark.parametrize(("case", "provider", "body"), STORED, ids=[r[0] for r in STORED])
def test_odd_content_elsewhere_is_stored_and_reads_back(start_receiver, client, warehouse_url, case, provider, body):
    receiver, store = start_receiver(warehouse_url)
    response = _post(client, receiver, provider, body)
    assert response.status_code == 200, response.text
    (event,) = store.list()
    assert event.id == response.json()["id"]
    assert event.payload == body.decode("utf-8")  # the provider's bytes, escapes and all
    assert _post(client, receiver, provider, body).json() == {"status": "duplicate", "id": event.id}


def _nested(depth: int, inner) -> bytes:
    return b'{"event":"call_ended","call":{"call_id":"deep","x":' + b"[" * depth + inner + b"]" * depth + b"}}"


@pytest.mark.parametrize("depth", [200, 900, 5_000, 100_000])
@pytest.mark.parametrize("inner", [b"1", b'{"api_key":"key_0123456789abcdefghijkl"}'], ids=["number", "secret"])
def test_deeply_nested_bodies_are_stored_or_refused_never_a_500(start_receiver, client, sqlite_url, depth, inner):
    receiver, store = start_receiver(sqlite_url)
    response = post_retell(client, receiver, _nested(depth, inner))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        (event,) = store.list()
        assert "key_0123456789abcdefghijkl" not in event.payload
    else:
        assert "nested" in response.json()["error"] and store.counts() == {}


NOT_USABLE = [
    ("more digits than Python parses", b'{"event":"call_ended","call":{"call_id":' + b"9" * 5000 + b"}}"),
    ("invalid UTF-8 in a string", b'{"event":"call_ended","call":{"call_id":"\xc3\x28"}}'),
    ("an encoded surrogate", b'{"event":"call_ended","call":{"call_id":"\xed\xa0\x80"}}'),
    ("a raw NUL byte in a string", b'{"event":"call_ended","call":{"call_id":"a\x00b"}}'),
    ("a byte-order mark", b'\xef\xbb\xbf{"event":"call_ended"}'),
    ("an event that is not text", b'{"event":["call_ended"]}'),
    ("an over-long event", b'{"event":"' + b"e" * 65 + b'"}'),
]


@pytest.mark.parametrize(("case", "body"), NOT_USABLE, ids=[r[0] for r in NOT_USABLE])
def test_bodies_that_are_not_usable_json_are_a_400(start_receiver, client, warehouse_url, case, body):
    receiver, store = start_receiver(warehouse_url)
    response = post_retell(client, receiver, body)
    assert response.status_code == 400, response.text
    assert store.counts() == {}


# Any JSON a sender might build, with NUL, surrogates and other control characters in keys and values.
_ODD_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["\x00", "a\x00", "\ud800", "\udfff\x00", "BOOKING_CREATED", "call_ended", "8nGq4kLz"]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _ODD_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ODD_TEXT, inner, max_size=3),
    max_leaves=12,
)
_ID_FIELDS = ("uid", "bookingUid", "bookingId", "call_id", "chat_id", "startTime", "start_timestamp")


@pytest.fixture
def fuzz_receiver(start_receiver, warehouse_url):
    """One receiver for all of a test's hypothesis examples: starting one per example is slow."""
    return start_receiver(warehouse_url)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    provider=st.sampled_from(["calcom", "retell"]),
    event=_ODD_TEXT | _VALUES,
    created=_ODD_TEXT | _VALUES,
    ids=st.dictionaries(st.sampled_from(_ID_FIELDS), _ODD_TEXT | _VALUES, max_size=4),
    extra=_VALUES,
)
def test_any_signed_json_object_is_stored_or_refused_never_a_500(
    fuzz_receiver, client, provider, event, created, ids, extra
):
    receiver, store = fuzz_receiver
    if provider == "calcom":
        body = {"triggerEvent": event, "createdAt": created, "payload": {**ids, "extra": extra}}
    else:
        body = {"event": event, "call": {**ids, "extra": extra}}
    response = _post(client, receiver, provider, _json(body))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        stored = {e.id: e for e in store.list(limit=1000)}[response.json()["id"]]
        json.loads(stored.payload)


def test_the_store_refuses_what_a_database_cannot_hold_alike_on_both(warehouse_url):
    store = WebhookStore(create_engine(warehouse_url))
    try:
        good = NewEvent("t", "retell", "call_ended", "call_ended:c1", "c1", None, '{"a":"\\u0000"}')
        bad = [
            NewEvent("t", "retell", "call_ended\x00", "call_ended:c2", "c2", None, "{}"),
            NewEvent("t", "retell", "call_ended", "call_ended:c3\ud800", "c3", None, "{}"),
            NewEvent("t", "retell", "call_ended", "call_ended:c4", "c\x004", None, "{}"),
            NewEvent("t", "retell", "call_ended", "call_ended:c5", "c5", None, '{"a":"\x00"}'),
        ]
        for event in bad:
            with pytest.raises(UnstorableEvent) as refused:
                store.land_many([good, event])
            assert "t" in str(refused.value) and "retell" in str(refused.value)
            assert "\x00" not in str(refused.value)
        assert store.counts() == {}  # the whole batch was refused before it reached the database
        assert store.land_many([good]) == [(store.max_id("retell"), False)]
    finally:
        store.dispose()

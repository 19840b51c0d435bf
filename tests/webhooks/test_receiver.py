"""The receiver over real HTTP on loopback: what it accepts, what it refuses, and that accepted means stored."""

import datetime as dt
import json
import logging
import os
import select
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from askpro_pipelines.redaction import REDACTED
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse.store import create_engine
from askpro_pipelines.webhooks.app import _BatchLander, derive_calcom, derive_retell
from askpro_pipelines.webhooks.server import ReceiverThread
from askpro_pipelines.webhooks.signatures import calcom_signature, retell_signature
from askpro_pipelines.webhooks.store import NewEvent, WebhookStore
from tests.fixtures import api_example_bytes as _example
from tests.webhooks.signed import (
    CAL_SECRET,
    CALCOM_VECTORS,
    RETELL_KEY,
    RETELL_VECTORS,
    TENANTS_YAML,
)
from tests.webhooks.signed import post_calcom as _post_calcom
from tests.webhooks.signed import post_retell as _post_retell
from tests.webhooks.signed import retell_body as _retell_body

# Within five minutes of every Retell vector's timestamp.
RETELL_VECTOR_NOW = 1789459200000


# -- accepted --------------------------------------------------------------------------------


def test_signature_vectors_are_accepted_and_stored_verbatim(start_receiver, client, warehouse_url):
    receiver, store = start_receiver(warehouse_url, clock_ms=lambda: RETELL_VECTOR_NOW)
    for vector in CALCOM_VECTORS["vectors"]:
        body = _example(vector["body_file"])
        response = client.post(f"{receiver.url}/webhooks/calcom/praxis", content=body, headers=vector["headers"])
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "stored"
    for vector in RETELL_VECTORS["vectors"]:
        body = _example(vector["body_file"])
        response = client.post(f"{receiver.url}/webhooks/retell/praxis", content=body, headers=vector["headers"])
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "stored"

    calcom = {e.event_type: e for e in store.list(provider="calcom")}
    created = calcom["BOOKING_CREATED"]
    assert created.dedup_key == "BOOKING_CREATED:8nGq4kLzR2xYpWv7TbC1sD:2026-09-15T08:01:09.000Z"
    assert (created.entity_id, created.event_day, created.tenant) == (
        "8nGq4kLzR2xYpWv7TbC1sD",
        dt.date(2026, 9, 17),
        "praxis",
    )
    assert created.payload.encode() == _example("calcom_webhook_booking_created.json")  # raw, umlauts unescaped
    assert calcom["BOOKING_CANCELLED"].event_day == dt.date(2026, 11, 3)

    retell = store.list(provider="retell")
    assert sorted(e.dedup_key for e in retell) == [
        f"{event}:call_9b2e4f71c0a35d68e1f2a7b4c93" for event in ("call_analyzed", "call_ended", "call_started")
    ]
    assert {(e.entity_id, e.event_day, e.status) for e in retell} == {
        ("call_9b2e4f71c0a35d68e1f2a7b4c93", dt.date(2026, 9, 15), "pending")
    }
    ended = next(e for e in retell if e.event_type == "call_ended")
    assert ended.payload.encode() == _example("retell_webhook_call_ended.json")


def test_same_retell_event_three_times_is_stored_once(start_receiver, client, warehouse_url):
    receiver, store = start_receiver(warehouse_url)
    body = _retell_body("call_retry")
    answers = [_post_retell(client, receiver, body).json() for _ in range(3)]
    assert [a["status"] for a in answers] == ["stored", "duplicate", "duplicate"]
    assert len({a["id"] for a in answers}) == 1
    assert len(store.list()) == 1


def test_restart_loses_nothing_and_still_dedups(start_receiver, client, warehouse_url):
    first, store = start_receiver(warehouse_url)
    accepted = {}
    for i in range(20):
        answer = _post_retell(client, first, _retell_body(f"call_{i}")).json()
        accepted[answer["id"]] = f"call_ended:call_{i}"
    first.stop()

    second, store_after = start_receiver(warehouse_url)
    assert second.url != "" and store_after is not store
    again = _post_retell(client, second, _retell_body("call_7")).json()
    assert again["status"] == "duplicate" and accepted[again["id"]] == "call_ended:call_7"
    assert _post_retell(client, second, _retell_body("call_new")).json()["status"] == "stored"
    stored = {e.id: e.dedup_key for e in store_after.list(limit=1000)}
    assert {k: v for k, v in stored.items() if k in accepted} == accepted
    assert len(stored) == 21


def test_concurrent_deliveries_are_each_stored_once(start_receiver, warehouse_url):
    receiver, store = start_receiver(warehouse_url)
    # 150 distinct events, 50 of them delivered twice, all at once from 16 connections.
    bodies = [_retell_body(f"call_{i}") for i in range(150)] + [_retell_body(f"call_{i}") for i in range(0, 150, 3)]

    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=16)) as shared, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda body: _post_retell(shared, receiver, body), bodies))

    assert all(a.status_code == 200 for a in answers), {a.status_code for a in answers}
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("stored") == 150 and statuses.count("duplicate") == 50
    events = store.list(limit=1000)
    assert len(events) == 150
    assert len({e.dedup_key for e in events}) == 150
    by_key = {e.dedup_key: e.id for e in events}
    for body, answer in zip(bodies, answers, strict=True):
        assert by_key[f"call_ended:{json.loads(body)['call']['call_id']}"] == answer.json()["id"]


def test_secrets_in_the_payload_are_redacted_from_the_parsed_body(start_receiver, client, sqlite_url):
    receiver, store = start_receiver(sqlite_url)
    original = json.loads(_example("calcom_webhook_booking_created.json"))
    original["payload"]["videoCallData"] = {
        "type": "daily_video",
        "id": "room1",
        "password": "hunter2-pw",
        "url": "https://x",
    }
    original["payload"]["additionalNotes"] = (
        "Bitte rückrufen, mein Schlüssel ist cal_live_0123456789abcdef0123456789abcdef"
    )
    original["payload"]["credentials"] = {"nested": {"deep": 1}}
    original["payload"]["apiToken"] = None  # null hides nothing and stays
    text = json.dumps(original, ensure_ascii=False, indent=1)  # unusual whitespace must survive
    body = text.encode()
    assert _post_calcom(client, receiver, body).status_code == 200

    (event,) = store.list()
    assert "hunter2-pw" not in event.payload and "0123456789abcdef0123456789abcdef" not in event.payload
    stored = json.loads(event.payload)
    assert stored["payload"]["videoCallData"]["password"] == REDACTED
    assert stored["payload"]["videoCallData"]["url"] == "https://x"
    assert stored["payload"]["credentials"] == REDACTED
    assert stored["payload"]["apiToken"] is None
    assert stored["payload"]["additionalNotes"].startswith("Bitte rückrufen, mein Schlüssel ist cal_live_" + REDACTED)
    # The redacted parsed body is stored: everything but the secrets is what arrived, umlauts readable.
    expected = json.loads(text)
    expected["payload"]["videoCallData"]["password"] = REDACTED
    expected["payload"]["credentials"] = REDACTED
    expected["payload"]["additionalNotes"] = "Bitte rückrufen, mein Schlüssel ist cal_live_" + REDACTED
    assert stored == expected and "Schlüssel" in event.payload


def test_tenants_file_change_and_secret_rotation_apply_without_restart(
    start_receiver, client, sqlite_url, tenants_file, monkeypatch
):
    receiver, store = start_receiver(sqlite_url, tenants_check_interval_s=0)
    body = _retell_body("call_rot")
    assert _post_retell(client, receiver, body, tenant="neu").status_code == 404

    tenants_file.write_text(
        TENANTS_YAML + "  - slug: neu\n    name: Neu\n    calcom:\n      api_key_env: X_KEY\n"
        "    retell:\n      api_key_env: TEST_NEU_RETELL_KEY\n",
        "utf-8",
    )
    later = time.time() + 5
    os.utime(tenants_file, (later, later))
    monkeypatch.setenv("TEST_NEU_RETELL_KEY", "key_neu_first")
    assert _post_retell(client, receiver, body, tenant="neu", key="key_neu_first").json()["status"] == "stored"

    monkeypatch.setenv("TEST_NEU_RETELL_KEY", "key_neu_rotated")
    other = _retell_body("call_rot2")
    assert _post_retell(client, receiver, other, tenant="neu", key="key_neu_first").status_code == 401
    assert _post_retell(client, receiver, other, tenant="neu", key="key_neu_rotated").status_code == 200

    # A broken edit keeps the last good tenants in service.
    tenants_file.write_text("tenants: [oops", "utf-8")
    os.utime(tenants_file, (later + 5, later + 5))
    third = _retell_body("call_rot3")
    assert _post_retell(client, receiver, third, tenant="neu", key="key_neu_rotated").status_code == 200
    assert len(store.list()) == 3


def test_tenants_file_is_parsed_once_not_per_request(start_receiver, client, sqlite_url):
    loads = []

    def counting_load():
        loads.append(1)
        return load_tenants()

    store = WebhookStore(create_engine(sqlite_url))
    with ReceiverThread(store, counting_load) as receiver:
        for i in range(20):
            assert _post_retell(client, receiver, _retell_body(f"c{i}")).status_code == 200
    store.dispose()
    assert len(loads) == 1


def test_a_failing_event_does_not_fail_the_rest_of_its_batch():
    import asyncio

    class FlakyStore:
        def __init__(self):
            self.batches = []

        def land_many(self, events):
            keys = [e.dedup_key for e in events]
            self.batches.append(keys)
            if keys == ["warm-up"]:
                time.sleep(0.2)  # the others queue up meanwhile and form the next batch
            if "bad" in keys:
                raise ValueError("value too long")
            return [(i, False) for i, _ in enumerate(events)]

    store = FlakyStore()
    lander = _BatchLander(store, idle_s=0.05)

    async def deliver():
        warm_up = asyncio.ensure_future(lander.land(NewEvent("t", "retell", "call_ended", "warm-up", None, None, "{}")))
        await asyncio.sleep(0.05)
        events = [NewEvent("t", "retell", "call_ended", key, None, None, "{}") for key in ("a", "bad", "c")]
        return await asyncio.gather(warm_up, *(lander.land(e) for e in events), return_exceptions=True)

    _, good, bad, other = asyncio.run(deliver())
    assert isinstance(bad, ValueError)
    assert good == (0, False) and other == (0, False)
    assert store.batches == [["warm-up"], ["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    time.sleep(0.2)
    assert not lander._running  # the idle writer thread has ended


def test_healthz_counts_and_database_outage(start_receiver, client, tmp_path):
    data_dir = tmp_path / "db"
    data_dir.mkdir()
    receiver, store = start_receiver(f"sqlite:///{data_dir / 'warehouse.db'}")
    assert client.get(f"{receiver.url}/healthz").json() == {"status": "ok", "pending": 0, "dead": 0}
    ids = [_post_retell(client, receiver, _retell_body(f"c{i}")).json()["id"] for i in range(3)]
    store.mark_queued(ids[:1], "r")
    store.mark_failed("r", "boom", max_attempts=1)
    assert client.get(f"{receiver.url}/healthz").json() == {"status": "ok", "pending": 2, "dead": 1}

    store.engine.dispose()
    shutil.rmtree(data_dir)
    health = client.get(f"{receiver.url}/healthz")
    assert health.status_code == 503 and health.json()["status"] == "database unreachable"
    refused = _post_retell(client, receiver, _retell_body("c9"))
    assert refused.status_code == 503


# -- refused ---------------------------------------------------------------------------------


def _calcom_header(value):
    return lambda body: {"X-Cal-Signature-256": value(body)}


def _retell_header(key=RETELL_KEY, age_ms=0):
    # Signed when the test runs, not at import: a long test session must not turn 400s into stale-signature 401s.
    return lambda body: {"x-retell-signature": retell_signature(key, body, time.time_ns() // 1_000_000 - age_ms)}


SIGNED_CALCOM = _calcom_header(lambda body: calcom_signature(CAL_SECRET, body))
SIGNED_RETELL = _retell_header()
GOOD_CALCOM = _example("calcom_webhook_booking_created.json")
GOOD_RETELL = _retell_body("call_ok")

REJECTIONS = [
    # (case, provider, tenant, body, headers for the body, status)
    ("calcom missing signature", "calcom", "praxis", GOOD_CALCOM, lambda _: {}, 401),
    ("calcom wrong signature", "calcom", "praxis", GOOD_CALCOM, _calcom_header(lambda _: "0" * 64), 401),
    ("calcom no-secret-provided", "calcom", "praxis", GOOD_CALCOM, _calcom_header(lambda _: "no-secret-provided"), 401),
    (
        "calcom signed with another secret",
        "calcom",
        "praxis",
        GOOD_CALCOM,
        _calcom_header(lambda body: calcom_signature("other", body)),
        401,
    ),
    ("retell missing signature", "retell", "praxis", GOOD_RETELL, lambda _: {}, 401),
    ("retell wrong key", "retell", "praxis", GOOD_RETELL, _retell_header(key="key_other"), 401),
    ("retell expired", "retell", "praxis", GOOD_RETELL, _retell_header(age_ms=301_000), 401),
    ("retell malformed header", "retell", "praxis", GOOD_RETELL, lambda _: {"x-retell-signature": "d=abc"}, 401),
    ("calcom malformed JSON", "calcom", "praxis", b'{"triggerEvent":', SIGNED_CALCOM, 400),
    ("calcom not an object", "calcom", "praxis", b"[1,2]", SIGNED_CALCOM, 400),
    ("calcom no triggerEvent", "calcom", "praxis", b'{"payload":{}}', SIGNED_CALCOM, 400),
    ("calcom not UTF-8", "calcom", "praxis", b'{"a":"\xff"}', SIGNED_CALCOM, 400),
    ("retell malformed JSON", "retell", "praxis", b"{nope", SIGNED_RETELL, 400),
    ("retell not an object", "retell", "praxis", b'"call_ended"', SIGNED_RETELL, 400),
    ("retell no event", "retell", "praxis", b'{"call":{"call_id":"x"}}', SIGNED_RETELL, 400),
    ("calcom unknown tenant", "calcom", "nobody", GOOD_CALCOM, SIGNED_CALCOM, 404),
    ("retell unknown tenant", "retell", "nobody", GOOD_RETELL, SIGNED_RETELL, 404),
    ("calcom tenant without webhook secret", "calcom", "quiet", GOOD_CALCOM, SIGNED_CALCOM, 404),
    ("retell tenant without Retell account", "retell", "quiet", GOOD_RETELL, SIGNED_RETELL, 404),
]


@pytest.fixture
def sqlite_receiver(start_receiver, sqlite_url):
    return start_receiver(sqlite_url, max_body_bytes=64 * 1024)


@pytest.mark.parametrize(
    ("case", "provider", "tenant", "body", "headers", "status"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_rejections_store_nothing_and_log_a_reason(
    sqlite_receiver, client, caplog, case, provider, tenant, body, headers, status
):
    receiver, store = sqlite_receiver
    headers = headers(body)
    caplog.set_level(logging.WARNING, logger="askpro_pipelines.webhooks")
    response = client.post(f"{receiver.url}/webhooks/{provider}/{tenant}", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert store.counts() == {}
    (record,) = [r for r in caplog.records if r.name == "askpro_pipelines.webhooks"]
    assert record.levelno == logging.WARNING
    line = record.getMessage()
    assert f"tenant={tenant!r}" in line and f"provider={provider}" in line and f"status={status}" in line
    assert "reason=" in line
    for secret in (CAL_SECRET, RETELL_KEY, *headers.values()):
        assert secret not in caplog.text and secret not in response.text
    assert body.decode("utf-8", "replace") not in caplog.text


def test_unknown_tenant_is_checked_before_the_signature(sqlite_receiver, client):
    receiver, _ = sqlite_receiver
    assert _post_calcom(client, receiver, GOOD_CALCOM, tenant="nobody", signature=False).status_code == 404
    assert "quiet" in _post_calcom(client, receiver, GOOD_CALCOM, tenant="quiet").json()["error"]


def test_unknown_paths_and_wrong_methods_are_refused_without_storing(sqlite_receiver, client):
    receiver, store = sqlite_receiver
    assert client.post(f"{receiver.url}/webhooks/zoom/praxis", content=b"{}").status_code == 404
    assert client.post(f"{receiver.url}/webhooks/retell/praxis/extra", content=b"{}").status_code == 404
    wrong = client.get(f"{receiver.url}/webhooks/retell/praxis")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    assert client.post(f"{receiver.url}/healthz").headers["allow"] == "GET, HEAD"
    head = client.head(f"{receiver.url}/healthz")
    assert (head.status_code, head.content, head.headers["content-type"]) == (200, b"", "application/json")
    answer = _post_calcom(client, receiver, GOOD_CALCOM)
    assert answer.headers["content-type"] == "application/json" and answer.json()["status"] == "stored"
    assert sum(store.counts().values()) == 1


def test_unset_secret_variable_is_a_503_naming_no_secret(sqlite_receiver, client, caplog, monkeypatch):
    receiver, store = sqlite_receiver
    monkeypatch.delenv("TEST_PRAXIS_RETELL_KEY")
    caplog.set_level(logging.WARNING, logger="askpro_pipelines.webhooks")
    response = _post_retell(client, receiver, GOOD_RETELL)
    assert response.status_code == 503
    assert "TEST_PRAXIS_RETELL_KEY" in caplog.text and "TEST_PRAXIS_RETELL_KEY" not in response.text
    assert store.counts() == {}


def test_body_over_the_limit_by_content_length(sqlite_receiver, client):
    receiver, store = sqlite_receiver
    big = json.dumps({"event": "call_ended", "call": {"call_id": "c", "pad": "x" * 70_000}}).encode()
    assert _post_retell(client, receiver, big).status_code == 413
    assert store.counts() == {}


def test_chunked_body_over_the_limit_without_content_length(sqlite_receiver, client):
    receiver, store = sqlite_receiver
    body = json.dumps({"event": "call_ended", "call": {"call_id": "c", "pad": "x" * 100_000}}).encode()

    def chunks():
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    headers = SIGNED_RETELL(body)
    response = client.post(f"{receiver.url}/webhooks/retell/praxis", content=chunks(), headers=headers)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert store.counts() == {}


def test_endless_chunked_body_is_cut_off(sqlite_receiver):
    """A sender that never stops gets its 413 while still sending: the receiver never buffers it all."""
    receiver, store = sqlite_receiver
    host, port = receiver.url.removeprefix("http://").split(":")
    chunk = b"x" * 16384
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /webhooks/retell/praxis HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n"
        )
        response = b""
        while sent < 256 * 1024 * 1024:
            readable, writable, _ = select.select([sock], [sock], [], 5)
            if readable:
                response = sock.recv(65536)
                break
            if writable:
                try:
                    sent += sock.send(framed)
                except OSError:
                    break
        if not response:
            response = sock.recv(65536)
    assert response.startswith(b"HTTP/1.1 413"), response[:80]
    assert sent < 64 * 1024 * 1024  # loopback socket buffers, not the whole stream
    assert store.counts() == {}


# -- key derivation ----------------------------------------------------------------------------


def test_meeting_events_are_flat_and_events_without_ids_fall_back_to_the_body_hash():
    flat = {
        "triggerEvent": "MEETING_ENDED",
        "id": 7,
        "uid": "u-7",
        "startTime": "2026-03-29T00:30:00.000Z",
        "createdAt": "2026-03-01T10:00:00Z",
    }
    derived = derive_calcom(flat, b"raw", "Europe/Berlin")
    assert (derived.event_type, derived.dedup_key, derived.entity_id) == (
        "MEETING_ENDED",
        "MEETING_ENDED:u-7:2026-03-01T10:00:00Z",
        "u-7",
    )
    assert derived.event_day == dt.date(2026, 3, 29)  # 01:30 CET

    no_show = {
        "triggerEvent": "BOOKING_NO_SHOW_UPDATED",
        "createdAt": "2026-03-01T10:00:00Z",
        "payload": {"bookingId": 42},
    }
    assert (
        derive_calcom(no_show, b"raw", "Europe/Berlin").dedup_key == "BOOKING_NO_SHOW_UPDATED:42:2026-03-01T10:00:00Z"
    )

    form = {"triggerEvent": "FORM_SUBMITTED", "payload": {"responses": {}}}
    first, second = derive_calcom(form, b"one", "UTC"), derive_calcom(form, b"two", "UTC")
    assert first.dedup_key.startswith("FORM_SUBMITTED:sha256:") and first.dedup_key != second.dedup_key
    assert (first.entity_id, first.event_day) == (None, None)

    legacy = {"event": "call_started", "data": {"call_id": "c1", "start_timestamp": 1789459083120}}
    derived = derive_retell(legacy, b"raw", "America/New_York")
    assert (derived.dedup_key, derived.event_day) == ("call_started:c1", dt.date(2026, 9, 15))
    assert derive_retell({"event": "call_ended", "call": {"start_timestamp": "soon"}}, b"r", "UTC").event_day is None

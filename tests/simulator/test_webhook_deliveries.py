"""Signed webhook deliveries: the reference's signature vectors, raw UTF-8 signing, payload shapes
and a day's deliveries built from the simulated activity."""

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from askpro_simulator import (
    SimTenantSpec,
    SimulatorConfig,
    booking_webhook_payload,
    build_world,
    calcom_delivery,
    call_webhook_payload,
    deliveries_for_day,
    retell_delivery,
)
from askpro_simulator.webhooks import BOOKING_LEAD_DAYS, retell_signature
from tests.fixtures import api_example as example
from tests.fixtures import api_example_bytes as example_bytes

PRAXIS = SimTenantSpec(
    slug="praxis-am-stadtpark",
    calcom_key="cal_test_sim_stadtpark",
    retell_key="key_sim_stadtpark",
    event_types=7,
    event_type_ids=[1001, 1002],
    phone_numbers=["+4930123456701", "+4930123456702"],
    agents=3,
)
CONFIG = SimulatorConfig(seed=11, tenants=[PRAXIS])
DAY = date(2026, 9, 17)
SECRET, RETELL_KEY = "whsec_sim", "key_sim_webhook"


@pytest.fixture(scope="module")
def world():
    return build_world(CONFIG)


# ---- signatures -------------------------------------------------------------------------------


def test_calcom_signature_vectors_are_reproduced():
    vectors = example("calcom_webhook_signature_test_vectors.json")
    for vector in vectors["vectors"]:
        raw = example_bytes(vector["body_file"])
        parsed = json.loads(raw)
        body, headers = calcom_delivery(
            vectors["webhook_secret"], parsed["triggerEvent"], parsed["payload"], parsed["createdAt"]
        )
        assert body == raw
        assert headers == vector["headers"]


def test_retell_signature_vectors_are_reproduced():
    vectors = example("retell_webhook_signature_test_vectors.json")
    for vector in vectors["vectors"]:
        raw = example_bytes(vector["body_file"])
        parsed = json.loads(raw)
        body, headers = retell_delivery(vectors["api_key"], parsed["event"], parsed["call"], vector["timestamp_ms"])
        assert body == raw
        assert headers == vector["headers"]
    # The vector from Retell's TypeScript SDK tests (reference §6).
    digest = "07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e"
    assert retell_signature("test-api-key", b'{"event":"call_ended"}', 1700000000000) == f"v=1700000000000,d={digest}"


def test_bodies_with_umlauts_are_signed_over_raw_utf8_bytes():
    payload = {"title": "Krankengymnastik zwischen Jörg Müller und Käthe Weiß", "uid": "abc"}
    body, headers = calcom_delivery("geheim", "BOOKING_CREATED", payload, "2026-09-17T08:00:00.000Z")
    assert "Jörg Müller".encode() in body and b"\\u00fc" not in body
    assert headers["X-Cal-Signature-256"] == hmac.new(b"geheim", body, hashlib.sha256).hexdigest()
    escaped = json.dumps(json.loads(body), separators=(",", ":")).encode()  # what a careless re-serialiser makes
    assert hmac.new(b"geheim", escaped, hashlib.sha256).hexdigest() != headers["X-Cal-Signature-256"]

    call = {"call_id": "call_1", "transcript": "Agent: Auf Wiederhören!"}
    body, headers = retell_delivery("key_x", "call_ended", call, 1789459269000)
    assert "Wiederhören".encode() in body
    expected = hmac.new(b"key_x", body.decode("utf-8").encode("utf-8") + b"1789459269000", hashlib.sha256)
    assert headers["x-retell-signature"] == f"v=1789459269000,d={expected.hexdigest()}"
    _, no_secret = calcom_delivery("", "BOOKING_CREATED", payload, "2026-09-17T08:00:00.000Z")
    assert no_secret["X-Cal-Signature-256"] == "no-secret-provided"


# ---- payloads ---------------------------------------------------------------------------------


def test_booking_payloads_have_the_webhook_shape(world):
    tenant = world.tenant("praxis-am-stadtpark")
    bookings = [b for n in range(28) for b in tenant.bookings_on(DAY + timedelta(days=n))]
    reference = example("calcom_webhook_booking_created.json")["payload"]
    created = booking_webhook_payload(bookings[0], tenant, "BOOKING_CREATED")
    assert set(reference) - set(created) == set()
    assert created["status"] == "ACCEPTED" and created["uid"] == bookings[0].uid
    assert created["bookingId"] == bookings[0].id and created["eventTypeId"] == bookings[0].event_type_id
    assert created["startTime"].endswith("Z") and created["responses"]["name"]["value"] == bookings[0].attendee.name
    assert all(set(entry) == {"label", "value", "isHidden"} for entry in created["responses"].values())
    assert set(created["organizer"]) == set(reference["organizer"])
    cancelled = next(b for b in bookings if b.status == "cancelled" and not b.rescheduled)
    payload = booking_webhook_payload(cancelled, tenant, "BOOKING_CANCELLED")
    assert payload["status"] == "CANCELLED" and payload["cancellationReason"] == cancelled.cancellation_reason
    moved = next(b for b in bookings if b.rescheduled_from_uid)
    payload = booking_webhook_payload(moved, tenant, "BOOKING_RESCHEDULED")
    assert payload["rescheduleUid"] == moved.rescheduled_from_uid and payload["uid"] == moved.uid
    assert payload["rescheduleId"] == tenant.booking(moved.rescheduled_from_uid).id


def test_call_payloads_follow_the_event(world):
    call = next(c for c in world.calls_on("praxis-am-stadtpark", DAY) if c.call_status == "ended")
    tenant = world.tenant("praxis-am-stadtpark")
    started = call_webhook_payload(call, tenant, "call_started")
    assert list(started) == list(example("retell_webhook_call_started.json")["call"])
    assert started["call_status"] == "ongoing"
    ended = call_webhook_payload(call, tenant, "call_ended")
    assert "call_analysis" not in ended and ended["transcript"] == call.transcript
    analyzed = call_webhook_payload(call, tenant, "call_analyzed")
    assert analyzed["call_analysis"] == call.call_analysis
    known = set(example("retell_webhook_call_analyzed.json")["call"]) | {"agent_tag", "transcript_with_tool_calls"}
    assert set(analyzed) <= known


# ---- a day of deliveries ----------------------------------------------------------------------


def test_a_days_deliveries_cover_its_bookings_and_calls_in_time_order(world):
    tenant = world.tenant("praxis-am-stadtpark")
    deliveries = deliveries_for_day(world, "praxis-am-stadtpark", DAY, SECRET, RETELL_KEY)
    assert deliveries == deliveries_for_day(build_world(CONFIG), "praxis-am-stadtpark", DAY, SECRET, RETELL_KEY)
    sent_at, booking_uids, call_events = [], set(), []
    for source, body, headers in deliveries:
        parsed = json.loads(body)
        if source == "calcom":
            expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Cal-Signature-256"] == expected
            sent_at.append(datetime.fromisoformat(parsed["createdAt"]))
            if parsed["triggerEvent"] in ("BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_RESCHEDULED"):
                booking_uids.add(parsed["payload"]["uid"])
        else:
            version, digest = headers["x-retell-signature"].split(",")
            timestamp = version.removeprefix("v=")
            expected = hmac.new(RETELL_KEY.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
            assert digest == f"d={expected}"
            sent_at.append(datetime.fromtimestamp(int(timestamp) / 1000, UTC))
            call_events.append((parsed["event"], parsed["call"]["call_id"]))
    assert sent_at == sorted(sent_at)
    assert all(tenant.activity.local_date(moment) == DAY for moment in sent_at)
    created_today = {
        b.uid
        for n in range(BOOKING_LEAD_DAYS + 2)
        for b in tenant.bookings_on(DAY + timedelta(days=n))
        if tenant.activity.local_date(b.created_at) == DAY
    }
    assert created_today and booking_uids == created_today
    calls = [c for c in tenant.calls_on(DAY) if tenant.activity.local_date(c.end) == DAY]
    for call in calls:
        assert ("call_ended", call.call_id) in call_events and ("call_analyzed", call.call_id) in call_events
        assert (("call_started", call.call_id) in call_events) == call.connected
    # A call that books during the conversation: BOOKING_CREATED arrives between its call webhooks.
    booked = next(c for c in calls if c.booking_uid and tenant.booking(c.booking_uid).created_at < c.end)
    sequence = []
    for source, body, _ in deliveries:
        parsed = json.loads(body)
        if source == "calcom":
            sequence.append((parsed["triggerEvent"], parsed["payload"]["uid"]))
        else:
            sequence.append((parsed["event"], parsed["call"]["call_id"]))
    assert (
        sequence.index(("call_started", booked.call_id))
        < sequence.index(("BOOKING_CREATED", booked.booking_uid))
        < sequence.index(("call_ended", booked.call_id))
    )

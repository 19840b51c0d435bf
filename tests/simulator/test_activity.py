"""Bookings and calls of the simulator: per-day generation, time zones, linking, the booking and
call endpoints with their pagination, mutations and faults."""

import json
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from askpro_simulator import (
    Fault,
    SimTenantSpec,
    Simulator,
    SimulatorConfig,
    build_world,
)
from tests.fixtures import api_example as example

BERLIN = ZoneInfo("Europe/Berlin")

PRAXIS = SimTenantSpec(
    slug="praxis-am-stadtpark",
    calcom_key="cal_test_sim_stadtpark",
    retell_key="key_sim_stadtpark",
    event_types=7,
    staff=4,
    event_type_ids=[1001, 1002],
    phone_numbers=["+4930123456701", "+4930123456702"],
    agents=3,
)
TOKYO = SimTenantSpec(
    slug="klinik-tokio",
    calcom_key="cal_test_sim_tokio",
    retell_key="key_sim_tokio",
    phone_numbers=["+4930123456703"],
    time_zone="Asia/Tokyo",
)
CONFIG = SimulatorConfig(seed=11, tenants=[PRAXIS, TOKYO])
V2 = {"cal-api-version": "2024-08-13"}
WEEK = [date(2026, 9, 14) + timedelta(days=n) for n in range(7)]
TRANSCRIPT_FIELDS = {
    "transcript",
    "transcript_object",
    "transcript_with_tool_calls",
    "scrubbed_transcript_with_tool_calls",
}


def v2(sim, client, path, spec=PRAXIS, headers=V2, **params):
    auth = {"Authorization": f"Bearer {spec.calcom_key}", **headers}
    return client.get(f"{sim.calcom_base_url}/v2{path}", headers=auth, params=params)


def v1(sim, client, path, spec=PRAXIS, **params):
    return client.get(f"{sim.calcom_base_url}/v1{path}", params={"apiKey": spec.calcom_key, **params})


def retell(sim, client, path, spec=PRAXIS, **body):
    headers = {"Authorization": f"Bearer {spec.retell_key}"}
    return client.post(f"{sim.retell_base_url}{path}", headers=headers, json=body)


def dump(items) -> str:
    return json.dumps([asdict(i) for i in items], default=str, ensure_ascii=False)


def local_midnight_utc(day: date, zone=BERLIN) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---- generation -------------------------------------------------------------------------------


def test_a_day_is_the_same_whatever_was_asked_before_and_other_days_differ():
    first, second = build_world(CONFIG), build_world(CONFIG)
    day, other = date(2026, 9, 17), date(2026, 9, 18)
    second.bookings_on("praxis-am-stadtpark", other)  # a different order of first use changes nothing
    for world in (first, second):
        assert world.bookings_on("praxis-am-stadtpark", day) and world.calls_on("praxis-am-stadtpark", day)
    assert dump(first.bookings_on("praxis-am-stadtpark", day)) == dump(second.bookings_on("praxis-am-stadtpark", day))
    assert dump(first.calls_on("praxis-am-stadtpark", day)) == dump(second.calls_on("praxis-am-stadtpark", day))
    uids = {b.uid for b in first.bookings_on("praxis-am-stadtpark", day)}
    assert uids.isdisjoint(b.uid for b in first.bookings_on("praxis-am-stadtpark", other))
    reseeded = build_world(SimulatorConfig(seed=12, tenants=[PRAXIS]))
    assert uids.isdisjoint(b.uid for b in reseeded.bookings_on("praxis-am-stadtpark", day))
    assert build_world(CONFIG).bookings_on("praxis-am-stadtpark", "2027-01-05") == []  # outside the activity year


def test_same_config_serves_byte_identical_bookings_and_calls(sim, client):
    week = {"afterStart": iso(local_midnight_utc(WEEK[0])), "beforeEnd": iso(local_midnight_utc(WEEK[-1]))}
    calls = {
        "filter_criteria": {"start_timestamp": {"op": "ge", "type": "number", "value": ms(local_midnight_utc(WEEK[0]))}}
    }
    with Simulator(CONFIG) as twin:
        assert v2(sim, client, "/bookings", **week).content == v2(twin, client, "/bookings", **week).content
        assert (
            retell(sim, client, "/v3/list-calls", **calls).content
            == retell(twin, client, "/v3/list-calls", **calls).content
        )


def test_bookings_and_calls_look_real():
    world = build_world(CONFIG)
    tenant = world.tenant("praxis-am-stadtpark")
    days = [WEEK[0] + timedelta(days=n) for n in range(28)]
    bookings = [b for day in days for b in tenant.bookings_on(day)]
    calls = [c for day in days for c in tenant.calls_on(day)]
    assert len(bookings) > 80 and len(calls) > 200
    event_types = {et.id: et for et in tenant.event_types}
    for booking in bookings:
        assert len(booking.uid) == 22 and booking.uid.isalnum()
        assert booking.event_type_id in event_types
        assert booking.end - booking.start == timedelta(minutes=event_types[booking.event_type_id].length)
        assert booking.created_at <= booking.updated_at <= booking.start
        assert 1 <= len(booking.attendees) <= 2
        assert all(a.phone_number is None or a.phone_number.startswith("+49") for a in booking.attendees)
        local = booking.start.astimezone(BERLIN)
        assert time(7) <= local.time() and (local + (booking.end - booking.start)).time() <= time(20, 30)
    statuses = {b.status for b in bookings}
    assert statuses >= {"accepted", "cancelled"} and statuses <= {"accepted", "cancelled", "pending", "rejected"}
    by_uid = {b.uid: b for b in bookings}
    moved = [b for b in bookings if b.rescheduled_from_uid]
    assert moved, "some bookings are reschedules"
    for new in moved:
        old = by_uid[new.rescheduled_from_uid]
        assert old.status == "cancelled" and old.rescheduled and old.rescheduled_to_uid == new.uid
    numbers = {p.phone_number for p in tenant.phone_numbers}
    for call in calls:
        assert call.call_id.startswith("call_") and len(call.call_id) == 32
        assert (call.to_number if call.direction == "inbound" else call.from_number) in numbers
        assert call.call_cost["combined_cost"] >= 0
    assert {c.call_status for c in calls} >= {"ended"}
    assert any("ä" in c.transcript or "ö" in c.transcript or "ü" in c.transcript for c in calls)
    assert sum(c.direction == "inbound" for c in calls) > len(calls) / 2
    published = {(a.agent_id, v.version) for a in tenant.agents for v in a.versions if v.is_published}
    assert all((c.agent_id, c.agent_version) in published for c in calls)


def test_local_days_follow_the_tenant_time_zone(sim, client):
    world = build_world(CONFIG)
    for slug, zone in (("praxis-am-stadtpark", BERLIN), ("klinik-tokio", ZoneInfo("Asia/Tokyo"))):
        calls = []
        for day in [date(2026, 1, 1) + timedelta(days=n) for n in range(40)]:
            assert all(b.start.astimezone(zone).date() == day for b in world.bookings_on(slug, day))
            day_calls = world.calls_on(slug, day)
            assert all(c.start.astimezone(zone).date() == day for c in day_calls)
            calls += day_calls
        assert any(c.start.date() != c.start.astimezone(zone).date() for c in calls), "some calls cross UTC midnight"
    # 00:30 in Berlin on 10 March is 23:30 UTC on 9 March: the booking belongs to 10 March.
    start = datetime(2026, 3, 10, 0, 30, tzinfo=BERLIN)
    added = sim.add_booking(
        "praxis-am-stadtpark", start, attendee_name="Jürgen Größer", attendee_phone="+4915112345678"
    )
    tenant = sim.world.tenant("praxis-am-stadtpark")
    assert added.start == datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    assert added.uid in {b.uid for b in tenant.bookings_on(date(2026, 3, 10))}
    assert added.uid not in {b.uid for b in tenant.bookings_on(date(2026, 3, 9))}
    day = {
        "afterStart": iso(local_midnight_utc(date(2026, 3, 10))),
        "beforeEnd": iso(local_midnight_utc(date(2026, 3, 11))),
    }
    assert day["afterStart"] == "2026-03-09T23:00:00.000Z"
    listed = v2(sim, client, "/bookings", **day).json()["data"]
    assert added.uid in {b["uid"] for b in listed}
    utc_day = v2(sim, client, "/bookings", afterStart="2026-03-10T00:00:00Z", beforeEnd="2026-03-11T00:00:00Z")
    assert added.uid not in {b["uid"] for b in utc_day.json()["data"]}
    one = v2(sim, client, f"/bookings/{added.uid}").json()["data"]
    assert one["start"] == "2026-03-09T23:30:00.000Z" and one["attendees"][0]["name"] == "Jürgen Größer"


def test_calls_lead_to_bookings_of_the_same_day_by_uid_or_by_number_and_time():
    world = build_world(CONFIG)
    inbound = shared = by_number_only = 0
    for day in [date(2026, 6, 1) + timedelta(days=n) for n in range(14)]:
        bookings = world.bookings_on("praxis-am-stadtpark", day)
        by_uid = {b.uid: b for b in bookings}
        for call in world.calls_on("praxis-am-stadtpark", day):
            if call.direction != "inbound" or call.call_status != "ended":
                continue
            inbound += 1
            if call.booking_uid is None:
                continue
            booking = by_uid[call.booking_uid]  # a real booking of that same day
            assert booking.attendee.phone_number == call.from_number and booking.call_id == call.call_id
            assert call.start <= booking.created_at <= call.end + timedelta(minutes=10)
            assert booking.start > call.end
            if "booking_uid" in call.collected_dynamic_variables:
                shared += 1
                assert call.collected_dynamic_variables["booking_uid"] == call.metadata["booking_uid"] == booking.uid
                assert booking.metadata["retell_call_id"] == call.call_id
            else:
                by_number_only += 1
                assert "booking_uid" not in call.metadata and "retell_call_id" not in booking.metadata
                window = [
                    b for b in bookings
                    if b.attendee.phone_number == call.from_number
                    and call.start <= b.created_at <= call.end + timedelta(minutes=10)
                ]  # fmt: skip
                assert window == [booking]
    linked = shared + by_number_only
    assert inbound > 50 and 0.3 <= linked / inbound <= 0.6
    assert shared > by_number_only > 0


# ---- Cal.com bookings over HTTP ---------------------------------------------------------------


def test_v2_and_v1_bookings_match_the_examples(sim, client):
    week = {"afterStart": iso(local_midnight_utc(WEEK[0])), "beforeEnd": iso(local_midnight_utc(WEEK[-1]))}
    body = v2(sim, client, "/bookings", **week).json()
    reference = example("calcom_v2_bookings.json")
    assert list(body) == list(reference) == ["status", "data", "pagination"]
    assert set(body["pagination"]) == set(reference["pagination"])
    shared = set.intersection(*(set(e) for e in reference["data"]))
    allowed = set.union(*(set(e) for e in reference["data"])) | {
        "rescheduledFromUid", "rescheduledToUid", "reschedulingReason", "rescheduledByEmail",
    }  # fmt: skip
    attendee_keys = set.union(*(set(a) for e in reference["data"] for a in e["attendees"]))
    for record in body["data"]:
        assert shared <= set(record) <= allowed, set(record) ^ shared
        assert record["status"] in {"accepted", "cancelled", "pending", "rejected"}
        assert all(set(a) <= attendee_keys for a in record["attendees"])
        assert set(record["hosts"][0]) == set(reference["data"][0]["hosts"][0])
    old = v1(sim, client, "/bookings", dateFrom=week["afterStart"], dateTo=week["beforeEnd"]).json()
    v1_reference = example("calcom_v1_bookings.json")
    assert list(old) == list(v1_reference) == ["bookings"]
    v1_keys = set(v1_reference["bookings"][0])
    for record in old["bookings"]:
        assert set(record) == v1_keys and "updatedAt" not in record
        assert record["status"] in {"ACCEPTED", "CANCELLED", "PENDING", "REJECTED"}
        assert all(set(a) == {"id", "email", "name", "timeZone", "locale"} for a in record["attendees"])
    assert {r["uid"] for r in old["bookings"]} == {r["uid"] for r in body["data"]}
    without_header = v2(sim, client, "/bookings", headers={}, **week).json()
    assert isinstance(without_header["data"], dict) and "bookings" in without_header["data"]


def test_v2_bookings_page_with_skip_and_take_and_a_pagination_block(sim, client):
    world = build_world(CONFIG)
    range_start, range_end = local_midnight_utc(WEEK[0]), local_midnight_utc(WEEK[-1])
    expected = [
        b for day in WEEK for b in world.bookings_on("praxis-am-stadtpark", day)
        if b.start >= range_start and b.end <= range_end
    ]  # fmt: skip
    expected.sort(key=lambda b: (b.start, b.id))
    total, take = len(expected), 7
    assert total > 2 * take
    collected, skip = [], 0
    while True:
        body = v2(
            sim, client, "/bookings", afterStart=iso(range_start), beforeEnd=iso(range_end), take=take, skip=skip
        ).json()
        page = body["pagination"]
        assert page == {
            "totalItems": total,
            "remainingItems": max(0, total - skip - take),
            "returnedItems": len(body["data"]),
            "itemsPerPage": take,
            "currentPage": skip // take + 1,
            "totalPages": -(-total // take),
            "hasNextPage": skip + take < total,
            "hasPreviousPage": skip > 0,
        }
        collected += [b["uid"] for b in body["data"]]
        if not page["hasNextPage"]:
            break
        skip += take
    assert collected == [b.uid for b in expected]
    default = v2(sim, client, "/bookings").json()["pagination"]
    assert default["itemsPerPage"] == 100 and default["totalItems"] > 1000  # an open range covers the year
    assert v2(sim, client, "/bookings", take=251).status_code == 400
    assert v2(sim, client, "/bookings", status="tomorrow").status_code == 400
    cancelled = v2(sim, client, "/bookings", afterStart=iso(range_start), beforeEnd=iso(range_end), status="cancelled")
    assert {b["status"] for b in cancelled.json()["data"]} <= {"cancelled", "rejected"}
    newest = v2(sim, client, "/bookings", afterStart=iso(range_start), beforeEnd=iso(range_end), sortUpdatedAt="desc")
    updated = [b["updatedAt"] for b in newest.json()["data"]]
    assert updated == sorted(updated, reverse=True)


def test_v1_bookings_are_paged_only_with_take_and_page(sim, client):
    week = {"dateFrom": iso(local_midnight_utc(WEEK[0])), "dateTo": iso(local_midnight_utc(WEEK[-1]))}
    everything = v1(sim, client, "/bookings", **week).json()["bookings"]
    assert len(everything) > 10
    assert v1(sim, client, "/bookings", take=3, **week).json()["bookings"] == everything
    pages, page = [], 1
    while True:
        chunk = v1(sim, client, "/bookings", take=4, page=page, **week).json()["bookings"]
        pages += chunk
        if len(chunk) < 4:
            break
        page += 1
    assert pages == everything and [b["id"] for b in everything] == sorted(b["id"] for b in everything)
    newest_first = v1(sim, client, "/bookings", order="desc", sortBy="createdAt", **week).json()["bookings"]
    assert [b["createdAt"] for b in newest_first] == sorted((b["createdAt"] for b in everything), reverse=True)


def test_mutations_show_in_later_listings(sim, client):
    tenant = sim.world.tenant("praxis-am-stadtpark")
    day = date(2026, 9, 23)
    week = {"afterStart": iso(local_midnight_utc(day)), "beforeEnd": iso(local_midnight_utc(day + timedelta(days=1)))}
    listed = v2(sim, client, "/bookings", **week).json()["data"]
    target = next(b for b in listed if b["status"] == "accepted")
    # What an incremental sync would have stored: the newest updatedAt of the whole account.
    watermark = v2(sim, client, "/bookings", sortUpdatedAt="desc", take=1).json()["data"][0]["updatedAt"]
    changed = sim.mutate_booking("praxis-am-stadtpark", target["uid"], status="cancelled", cancellation_reason="Umzug")
    assert changed.updated_at > datetime.fromisoformat(watermark)
    fresh = v2(sim, client, f"/bookings/{target['uid']}").json()["data"]
    assert (fresh["status"], fresh["cancellationReason"]) == ("cancelled", "Umzug")
    incremental = v2(sim, client, "/bookings", afterUpdatedAt=watermark).json()["data"]
    assert [b["uid"] for b in incremental if b["updatedAt"] > watermark] == [target["uid"]]
    moved = sim.mutate_booking("praxis-am-stadtpark", target["uid"], start=datetime(2026, 9, 25, 9, 0, tzinfo=BERLIN))
    assert moved.end - moved.start == changed.end - changed.start
    assert target["uid"] not in {b.uid for b in tenant.bookings_on(day)}
    assert target["uid"] in {b.uid for b in tenant.bookings_on(date(2026, 9, 25))}
    assert v2(sim, client, f"/bookings/{target['uid']}").json()["data"]["start"] == "2026-09-25T07:00:00.000Z"
    other = next(b for b in listed if b["status"] == "accepted" and b["uid"] != target["uid"])
    sim.cancel_booking("praxis-am-stadtpark", other["uid"])
    v1_after = v1(sim, client, "/bookings", dateFrom=week["afterStart"], dateTo=week["beforeEnd"]).json()["bookings"]
    assert {b["uid"]: b["status"] for b in v1_after}[other["uid"]] == "CANCELLED"
    with pytest.raises(ValueError, match="cannot change uid"):
        sim.mutate_booking("praxis-am-stadtpark", other["uid"], uid="x")
    with pytest.raises(KeyError):
        sim.mutate_booking("praxis-am-stadtpark", "NoSuchBookingUid123456", status="cancelled")


# ---- Retell calls over HTTP -------------------------------------------------------------------


def test_v3_list_calls_pages_with_the_pagination_key(sim, client):
    world = build_world(CONFIG)
    days = WEEK[:4]
    lo, hi = ms(local_midnight_utc(days[0])), ms(local_midnight_utc(days[-1] + timedelta(days=1))) - 1
    expected = sorted(
        (c for d in days for c in world.calls_on("praxis-am-stadtpark", d)), key=lambda c: c.start_timestamp
    )
    criteria = {"start_timestamp": {"op": "bt", "type": "range", "value": [lo, hi]}}
    for order, wanted in (("ascending", expected), ("descending", expected[::-1])):
        collected, key = [], None
        while True:
            body = {"filter_criteria": criteria, "sort_order": order, "limit": 9}
            page = retell(sim, client, "/v3/list-calls", **body, **({"pagination_key": key} if key else {})).json()
            assert set(page) == {"items", "has_more", "pagination_key"}
            assert all(not (TRANSCRIPT_FIELDS & set(item)) for item in page["items"])
            collected += [item["call_id"] for item in page["items"]]
            if not page["has_more"]:
                assert page["pagination_key"] is None
                break
            key = page["pagination_key"]
        assert collected == [c.call_id for c in wanted]
    reference = example("retell_v3_list_calls.json")
    item = retell(sim, client, "/v3/list-calls", filter_criteria=criteria, limit=1).json()["items"][0]
    assert set(item) <= set.union(*(set(i) for i in reference["items"]))
    full = client.get(
        f"{sim.retell_base_url}/v2/get-call/{item['call_id']}", headers={"Authorization": f"Bearer {PRAXIS.retell_key}"}
    ).json()
    assert set(full) - set(item) == {"transcript", "transcript_object", "transcript_with_tool_calls"}
    assert {k: v for k, v in full.items() if k not in TRANSCRIPT_FIELDS} == item
    # the reference's example predates tool calls; the field is in its field table and the SDK's types
    assert set(full) <= set(example("retell_v2_get_call.json")) | {"transcript_with_tool_calls"}
    counted = retell(sim, client, "/v3/list-calls", filter_criteria=criteria, limit=1, include_total=True).json()
    assert counted["total"] == len(expected)
    inbound = {"direction": {"op": "in", "type": "enum", "value": ["inbound"]}, **criteria}
    assert {
        c["direction"]
        for c in retell(sim, client, "/v3/list-calls", filter_criteria=inbound, limit=1000).json()["items"]
    } == {"inbound"}
    unsupported = retell(sim, client, "/v3/list-calls", filter_criteria={"tool_calls": []})
    assert unsupported.status_code == 400
    assert retell(sim, client, "/v3/list-calls", pagination_key="x", skip=1).status_code == 400


def test_legacy_list_calls_pages_by_the_last_call_id(sim, client):
    world = build_world(CONFIG)
    day = WEEK[2]
    lo, hi = local_midnight_utc(day), local_midnight_utc(day + timedelta(days=1))
    expected = sorted(world.calls_on("praxis-am-stadtpark", day), key=lambda c: c.start_timestamp, reverse=True)
    criteria = {"start_timestamp": {"lower_threshold": ms(lo), "upper_threshold": ms(hi) - 1}}
    reference_keys = set.union(*(set(c) for c in example("retell_v2_list_calls.json"))) | {
        "agent_tag",
        "transcript_with_tool_calls",
    }
    collected, key = [], None
    while True:
        body = {"filter_criteria": criteria, "limit": 5, **({"pagination_key": key} if key else {})}
        page = retell(sim, client, "/v2/list-calls", **body).json()
        assert isinstance(page, list)
        assert all({"transcript", "transcript_object"} <= set(call) <= reference_keys for call in page)
        collected += [call["call_id"] for call in page]
        if len(page) < 5:
            break
        key = page[-1]["call_id"]
    assert collected == [c.call_id for c in expected]
    assert retell(sim, client, "/v2/list-calls", pagination_key="call_unknown").status_code == 400
    missing = client.get(
        f"{sim.retell_base_url}/v2/get-call/call_unknown", headers={"Authorization": f"Bearer {PRAXIS.retell_key}"}
    )
    assert missing.status_code == 404


# ---- faults -----------------------------------------------------------------------------------


def test_faults_hit_the_booking_and_call_endpoints(sim, client):
    sim.add_fault(
        Fault(kind="status", status=503, count=-1, tenant="praxis-am-stadtpark", path_prefix="/calcom/v2/bookings")
    )
    assert [v2(sim, client, "/bookings", take=1).status_code for _ in range(2)] == [503, 503]
    assert v2(sim, client, "/bookings", spec=TOKYO, take=1).status_code == 200
    sim.clear_faults()
    assert v2(sim, client, "/bookings", take=1).status_code == 200
    sim.add_fault(Fault(kind="malformed", path_prefix="/retell/v3/list-calls"))
    items = retell(sim, client, "/v3/list-calls", limit=20).json()["items"]
    assert sum("call_id" not in item for item in items) == 1
    sim.add_fault(Fault(kind="status", status=429, path_prefix="/retell/v2/get-call", retry_after=1))
    call_id = items[-1]["call_id"]
    limited = client.get(
        f"{sim.retell_base_url}/v2/get-call/{call_id}", headers={"Authorization": f"Bearer {PRAXIS.retell_key}"}
    )
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"

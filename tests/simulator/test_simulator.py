"""The simulator over real HTTP: determinism, API shapes, pagination, auth, faults, lifecycle."""

import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from askpro_simulator import (
    Fault,
    SimTenantSpec,
    Simulator,
    SimulatorConfig,
    build_world,
    demo_config,
)
from tests.fixtures import api_example as example

STADTPARK = SimTenantSpec(
    slug="praxis-am-stadtpark",
    calcom_key="cal_test_sim_stadtpark",
    retell_key="key_sim_stadtpark",
    event_types=7,
    staff=4,
    schedules_per_staff=2,
    event_type_ids=[1001, 1002],
    phone_numbers=["+4930123456701", "+4930123456702"],
    agents=3,
)
SCHOENHAAR = SimTenantSpec(
    slug="salon-schoenhaar",
    calcom_key="cal_test_sim_schoenhaar",
    retell_key="key_sim_schoenhaar",
    event_types=9,
    staff=5,
    uuid_host_ids=True,
)
BIG = SimTenantSpec(
    slug="grosspraxis-nord",
    calcom_key="cal_test_sim_gross",
    retell_key="key_sim_gross",
    event_types=3000,
    staff=1100,
)
CONFIG = SimulatorConfig(seed=7, tenants=[STADTPARK, SCHOENHAAR, BIG])

V2_EVENT_TYPES = {"cal-api-version": "2024-06-14"}
V2_SCHEDULES = {"cal-api-version": "2024-06-11"}


def v1(sim, client, path, spec=STADTPARK, **params):
    return client.get(f"{sim.calcom_base_url}/v1{path}", params={"apiKey": spec.calcom_key, **params})


def v2(sim, client, path, spec=STADTPARK, headers=None, **params):
    headers = {"Authorization": f"Bearer {spec.calcom_key}", **(headers or {})}
    return client.get(f"{sim.calcom_base_url}/v2{path}", headers=headers, params=params)


def retell(sim, client, method, path, spec=STADTPARK, **kwargs):
    headers = {"Authorization": f"Bearer {spec.retell_key}"}
    return client.request(method, f"{sim.retell_base_url}{path}", headers=headers, **kwargs)


def assert_keys_like(records, examples, optional=frozenset()):
    """Every record has the keys all examples share and no key that no example (or `optional`) has."""
    required = set.intersection(*(set(e) for e in examples))
    allowed = set.union(*(set(e) for e in examples)) | set(optional)
    assert records
    for record in records:
        assert required <= set(record), required - set(record)
        assert set(record) <= allowed, set(record) - allowed


# ---- the world ---------------------------------------------------------------------------------


def test_same_seed_builds_the_same_world_and_a_new_tenant_changes_no_other():
    small = SimulatorConfig(seed=3, tenants=[STADTPARK, SCHOENHAAR])
    assert build_world(small) == build_world(small)
    grown = build_world(SimulatorConfig(seed=3, tenants=[STADTPARK, SCHOENHAAR, BIG]))
    assert grown.tenants["praxis-am-stadtpark"] == build_world(small).tenants["praxis-am-stadtpark"]
    assert grown.tenants["salon-schoenhaar"] == build_world(small).tenants["salon-schoenhaar"]
    other_seed = build_world(SimulatorConfig(seed=4, tenants=[STADTPARK]))
    assert other_seed.tenants["praxis-am-stadtpark"] != build_world(small).tenants["praxis-am-stadtpark"]


def test_ids_are_unique_across_tenants_and_fit_32_bits(sim):
    seen: dict[int, str] = {}
    for tenant in sim.world.tenants.values():
        ids = [tenant.organization.id, tenant.team.id]
        ids += [i for u in tenant.users for i in (u.id, u.membership_id, u.profile_id)]
        ids += [et.id for et in tenant.event_types]
        for schedule in tenant.schedules:
            ids += [schedule.id] + [r.id for r in schedule.availability] + [o.id for o in schedule.overrides]
        for value in ids:
            assert value not in seen, f"id {value} of {tenant.slug} also in {seen.get(value)}"
            assert 0 < value < 2**31
            seen[value] = tenant.slug


def test_world_content_is_plausible(sim):
    tenant = sim.world.tenant("praxis-am-stadtpark")
    assert [et.id for et in tenant.event_types[:2]] == [1001, 1002]
    assert len(tenant.users) == 4 and tenant.admin.team_role == "OWNER"
    assert all(u.email.endswith(".example") for u in tenant.users)
    assert any(re.search("[äöüÄÖÜß]", u.name) for t in sim.world.tenants.values() for u in t.users)
    assert 1 <= len(tenant.personal_event_types) < len(tenant.team_event_types)
    assert all(1 <= len(et.hosts) <= 3 for et in tenant.team_event_types)
    assert {et.scheduling_type for et in tenant.team_event_types} <= {"roundRobin", "collective"}
    assert all(1 <= len(a.versions) <= 3 for a in tenant.agents)
    assert [p.phone_number for p in tenant.phone_numbers] == STADTPARK.phone_numbers
    for agent in tenant.agents:
        assert agent.latest_published.is_published
    published = {(a.agent_id, v.version) for a in tenant.agents for v in a.versions if v.is_published}
    for number in tenant.phone_numbers:
        for binding in number.inbound_agents:
            assert binding.agent_version == "latest_published" or (binding.agent_id, binding.agent_version) in published


def test_extra_phone_numbers_are_unmapped_and_unique():
    spec = SimTenantSpec("extra", "k1", "k2", phone_numbers=["+4930123456701"], extra_phone_numbers=2)
    world = build_world(SimulatorConfig(tenants=[spec, SCHOENHAAR]))
    numbers = [p.phone_number for p in world.tenant("extra").phone_numbers]
    assert numbers[0] == "+4930123456701" and len(set(numbers)) == 3
    assert all(re.fullmatch(r"\+[1-9]\d{6,14}", n) for n in numbers)
    assert world.tenant("salon-schoenhaar").phone_numbers == []


def test_demo_config_matches_the_bundled_tenants():
    config = demo_config()
    by_slug = {spec.slug: spec for spec in config.tenants}
    assert by_slug["praxis-am-stadtpark"].event_type_ids == [1001, 1002]
    assert by_slug["zahnarzt-dr-mueller"].phone_numbers == ["+4940555123401"]
    assert by_slug["salon-schoenhaar"].calcom_key == "cal_test_sim_salon_schoenhaar"


def test_same_config_serves_byte_identical_bodies(sim, client):
    paths = [
        ("v2", "/event-types", V2_EVENT_TYPES),
        ("v2", f"/organizations/{sim.world.tenant('praxis-am-stadtpark').organization.id}/schedules", {}),
        ("v1", "/schedules", {}),
    ]
    with Simulator(CONFIG) as twin:
        for api, path, headers in paths:
            if api == "v2":
                first, second = v2(sim, client, path, headers=headers), v2(twin, client, path, headers=headers)
            else:
                first, second = v1(sim, client, path), v1(twin, client, path)
            assert first.status_code == second.status_code == 200
            assert first.content == second.content
        first = retell(sim, client, "GET", "/v2/list-phone-numbers")
        assert first.content == retell(twin, client, "GET", "/v2/list-phone-numbers").content


# ---- Cal.com v2 shapes ---------------------------------------------------------------------------


def test_v2_event_types_match_the_examples(sim, client):
    personal = v2(sim, client, "/event-types", headers=V2_EVENT_TYPES).json()
    assert personal["status"] == "success"
    assert_keys_like(personal["data"], example("calcom_v2_event_types.json")["data"])
    assert all(item["ownerId"] == sim.world.tenant("praxis-am-stadtpark").admin.id for item in personal["data"])
    teams = v2(sim, client, "/teams").json()["data"]
    assert [t["id"] for t in teams] == [sim.world.tenant("praxis-am-stadtpark").team.id]
    team_types = v2(sim, client, f"/teams/{teams[0]['id']}/event-types").json()["data"]
    reference = example("calcom_v2_team_event_types.json")["data"]
    assert_keys_like(team_types, reference, optional={"lengthInMinutesOptions"})
    assert {t["schedulingType"] for t in team_types} <= {"roundRobin", "collective"}
    for host in (h for t in team_types for h in t["hosts"]):
        assert set(host) == {"userId", "mandatory", "priority", "name", "username", "avatarUrl"}
        assert isinstance(host["userId"], int)
    served = {item["id"] for item in personal["data"] + team_types}
    assert {1001, 1002} <= served
    assert served == {et.id for et in sim.world.tenant("praxis-am-stadtpark").event_types}


def test_v2_users_memberships_and_schedules_match_the_examples(sim, client):
    tenant = sim.world.tenant("praxis-am-stadtpark")
    me = v2(sim, client, "/me").json()["data"]
    expected = {"id", "username", "email", "name", "timeZone", "weekStart", "defaultScheduleId", "organizationId"}
    assert expected <= set(me)
    assert me["organizationId"] == tenant.organization.id and me["id"] == tenant.admin.id
    members = v2(sim, client, f"/teams/{tenant.team.id}/memberships").json()["data"]
    assert_keys_like(members, example("calcom_v2_team_memberships.json")["data"])
    assert {m["role"] for m in members} <= {"OWNER", "ADMIN", "MEMBER"}
    users = v2(sim, client, f"/organizations/{tenant.organization.id}/users").json()["data"]
    assert len(users) == 4
    assert set(users[0]["profile"]) == {"id", "organizationId", "userId", "username"}
    mine = v2(sim, client, "/schedules", headers=V2_SCHEDULES).json()["data"]
    assert_keys_like(mine, example("calcom_v2_schedules.json")["data"])
    assert {s["ownerId"] for s in mine} == {tenant.admin.id} and sum(s["isDefault"] for s in mine) == 1
    org_schedules = v2(sim, client, f"/organizations/{tenant.organization.id}/schedules").json()["data"]
    assert len(org_schedules) == 4 * 2
    assert_keys_like(org_schedules, example("calcom_v2_schedules.json")["data"])


def test_missing_or_wrong_version_header_gets_the_older_shape(sim, client):
    for headers in ({}, {"cal-api-version": "2024-08-13"}):
        old = v2(sim, client, "/event-types", headers=headers).json()["data"]
        assert old and all("length" in item and "lengthInMinutes" not in item for item in old)
        old_schedules = v2(sim, client, "/schedules", headers=headers).json()["data"]
        assert all("ownerId" not in s and "workingHours" in s for s in old_schedules)
    for version in ("2024-06-11", "2024-06-14"):
        new = v2(sim, client, "/schedules", headers={"cal-api-version": version}).json()["data"]
        assert all("ownerId" in s for s in new)


# ---- Cal.com v1 shapes ---------------------------------------------------------------------------


def test_v1_lists_match_the_examples(sim, client):
    tenant = sim.world.tenant("praxis-am-stadtpark")
    personal = v1(sim, client, "/event-types").json()
    assert list(personal) == ["event_types"]
    assert_keys_like(personal["event_types"], example("calcom_v1_event_types.json")["event_types"])
    assert all(e["teamId"] is None and e["hosts"] == [] and e["scheduleId"] for e in personal["event_types"])
    teams = v1(sim, client, "/teams").json()
    assert_keys_like(teams["teams"], example("calcom_v1_teams.json")["teams"])
    team_types = v1(sim, client, f"/teams/{tenant.team.id}/event-types").json()
    assert_keys_like(team_types["event_types"], example("calcom_v1_team_event_types.json")["event_types"])
    assert {e["schedulingType"] for e in team_types["event_types"]} <= {"ROUND_ROBIN", "COLLECTIVE"}
    assert all(set(h) == {"userId", "isFixed", "scheduleId"} for e in team_types["event_types"] for h in e["hosts"])
    users = v1(sim, client, "/users").json()
    assert set(users) == {"users", "total"} and users["total"] == 4
    assert_keys_like(users["users"], example("calcom_v1_users.json")["users"])
    memberships = v1(sim, client, "/memberships").json()
    assert_keys_like(memberships["memberships"], example("calcom_v1_memberships.json")["memberships"])
    schedules = v1(sim, client, "/schedules").json()["schedules"]
    reference = example("calcom_v1_schedules.json")["schedules"]
    assert_keys_like(schedules, reference)
    rows = [r for s in schedules for r in s["availability"]]
    assert_keys_like(rows, [r for s in reference for r in s["availability"]])
    one = v1(sim, client, "/event-types/1001").json()
    assert list(one) == ["event_type"] and one["event_type"]["id"] == 1001


def test_weekdays_times_and_overrides_are_encoded_per_version(sim, client):
    tenant = sim.world.tenant("praxis-am-stadtpark")
    v1_schedules = {s["id"]: s for s in v1(sim, client, "/schedules").json()["schedules"]}
    org_schedules = v2(sim, client, f"/organizations/{tenant.organization.id}/schedules").json()["data"]
    v2_schedules = {s["id"]: s for s in org_schedules}
    assert v1_schedules.keys() == v2_schedules.keys()
    names = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    for schedule_id, old in v1_schedules.items():
        weekly = [r for r in old["availability"] if r["days"]]
        overrides = [r for r in old["availability"] if not r["days"]]
        new = v2_schedules[schedule_id]
        assert [[names[d] for d in r["days"]] for r in weekly] == [r["days"] for r in new["availability"]]
        assert [r["startTime"] for r in weekly] == [f"{r['startTime']}:00" for r in new["availability"]]
        assert all(re.fullmatch(r"\d\d:\d\d:\d\d", r[k]) for r in old["availability"] for k in ("startTime", "endTime"))
        assert all(re.fullmatch(r"\d\d:\d\d", r[k]) for r in new["availability"] for k in ("startTime", "endTime"))
        assert [r["date"] for r in overrides] == [f"{o['date']}T00:00:00.000Z" for o in new["overrides"]]
    v1_days = [d for s in v1_schedules.values() for r in s["availability"] for d in r["days"]]
    assert 0 in v1_days and 6 in v1_days and 7 not in v1_days
    v2_days = [d for s in v2_schedules.values() for r in s["availability"] for d in r["days"]]
    assert "Sunday" in v2_days and "Saturday" in v2_days
    assert any(o["startTime"] == o["endTime"] == "00:00" for s in v2_schedules.values() for o in s["overrides"])
    # The lunch break: some weekday appears in two rows of the same schedule.
    assert any(
        len([r for r in s["availability"] if day in r["days"]]) == 2 for s in v2_schedules.values() for day in names
    )


# ---- pagination ----------------------------------------------------------------------------------


def test_v1_users_page_with_take_and_page(sim, client):
    default = v1(sim, client, "/users", spec=BIG).json()
    assert len(default["users"]) == 10 and default["total"] == 1100
    collected, page = [], 1
    while True:
        body = v1(sim, client, "/users", spec=BIG, take=300, page=page).json()
        collected += [u["id"] for u in body["users"]]
        assert body["total"] == 1100
        if len(body["users"]) < 300:
            break
        page += 1
    assert page == 4 and len(collected) == len(set(collected)) == 1100
    assert v1(sim, client, "/users", spec=BIG, take=0).status_code == 400


def test_v2_org_users_and_schedules_page_with_skip_and_take(sim, client):
    org_id = sim.world.tenant("grosspraxis-nord").organization.id
    for path in (f"/organizations/{org_id}/users", f"/organizations/{org_id}/schedules"):
        sizes, ids, skip = [], [], 0
        while True:
            response = v2(sim, client, path, spec=BIG, take=250, skip=skip)
            data = response.json()["data"]
            assert "pagination" not in response.json()
            sizes.append(len(data))
            ids += [item["id"] for item in data]
            if len(data) < 250:
                break
            skip += len(data)
        assert sizes == [250, 250, 250, 250, 100] and len(set(ids)) == 1100
        assert len(v2(sim, client, path, spec=BIG).json()["data"]) == 250  # take defaults to 250
    too_many = v2(sim, client, f"/organizations/{org_id}/users", spec=BIG, take=251)
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "BadRequestException"


def test_large_worlds_serve_all_event_types(sim, client):
    team_id = sim.world.tenant("grosspraxis-nord").team.id
    team_types = v2(sim, client, f"/teams/{team_id}/event-types", spec=BIG).json()["data"]
    assert len(team_types) == 2000


def test_retell_lists_paginate_with_the_returned_key(sim, client):
    agent_ids, key = [], None
    while True:
        params = {"limit": 1} | ({"pagination_key": key} if key else {})
        body = retell(sim, client, "POST", "/v2/list-agents", params=params).json()
        agent_ids += [a["agent_id"] for a in body["items"]]
        if not body["has_more"]:
            assert body["pagination_key"] is None
            break
        key = body["pagination_key"]
    assert sorted(agent_ids) == sorted(a.agent_id for a in sim.world.tenant("praxis-am-stadtpark").agents)
    all_at_once = retell(sim, client, "POST", "/v2/list-agents").json()
    assert [a["agent_id"] for a in all_at_once["items"]] == agent_ids


# ---- Retell shapes -------------------------------------------------------------------------------


def test_retell_shapes_match_the_examples(sim, client):
    tenant = sim.world.tenant("praxis-am-stadtpark")
    summaries = retell(sim, client, "POST", "/v2/list-agents", json={}).json()
    assert set(summaries) == {"items", "has_more", "pagination_key"}
    # is_suspended: required by retell-sdk 6.2.13's types (reference §11.3), newer than the example.
    assert_keys_like(summaries["items"], example("retell_list_agents.json")["items"], optional={"is_suspended"})
    agent_id = summaries["items"][0]["agent_id"]
    agent = retell(sim, client, "GET", f"/get-agent/{agent_id}").json()
    assert set(agent) == set(example("retell_get_agent.json"))
    versions = retell(sim, client, "GET", f"/get-agent-versions/{agent_id}").json()
    numbers_of_versions = [v["version"] for v in versions]
    assert versions[0] == agent and numbers_of_versions == sorted(numbers_of_versions, reverse=True)
    legacy = retell(sim, client, "GET", "/list-agents").json()
    assert_keys_like(legacy, example("retell_list_agents_legacy.json"))
    assert len(legacy) == sum(len(a.versions) for a in tenant.agents)
    numbers = retell(sim, client, "GET", "/v2/list-phone-numbers").json()
    assert_keys_like(numbers["items"], example("retell_list_phone_numbers.json")["items"])
    assert set(STADTPARK.phone_numbers) <= {n["phone_number"] for n in numbers["items"]}
    bound = {b["agent_id"] for n in numbers["items"] for b in n["inbound_agents"]}
    assert bound <= {a.agent_id for a in tenant.agents}
    legacy_numbers = retell(sim, client, "GET", "/list-phone-numbers").json()
    assert_keys_like(legacy_numbers, example("retell_list_phone_numbers_legacy.json"))
    llm_id = agent["response_engine"]["llm_id"]
    llm = retell(sim, client, "GET", f"/get-retell-llm/{llm_id}").json()
    assert llm["llm_id"] == llm_id and set(llm) == set(example("retell_get_retell_llm.json"))
    assert retell(sim, client, "GET", "/get-agent/agent_unknown").status_code == 404


# ---- auth and ids --------------------------------------------------------------------------------


def test_wrong_missing_and_foreign_keys_get_401_in_each_apis_shape(sim, client):
    missing = client.get(f"{sim.calcom_base_url}/v1/event-types")
    assert (missing.status_code, missing.json()) == (401, {"message": "No apiKey provided"})
    wrong = client.get(f"{sim.calcom_base_url}/v1/event-types", params={"apiKey": STADTPARK.retell_key})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Your API key is not valid."})
    v2_wrong = client.get(f"{sim.calcom_base_url}/v2/me", headers={"Authorization": "Bearer cal_live_nope"})
    assert v2_wrong.status_code == 401
    assert v2_wrong.json()["status"] == "error" and v2_wrong.json()["error"]["code"] == "UnauthorizedException"
    assert v2_wrong.json()["error"]["details"]["statusCode"] == 401 and v2_wrong.json()["path"] == "/v2/me"
    other_team = sim.world.tenant("salon-schoenhaar").team.id
    assert v2(sim, client, f"/teams/{other_team}/event-types").status_code == 401
    assert v1(sim, client, f"/teams/{other_team}/event-types").status_code == 401
    other_agent = sim.world.tenant("salon-schoenhaar").agents[0].agent_id
    assert retell(sim, client, "GET", f"/get-agent/{other_agent}").status_code == 401
    calcom_key_on_retell = {"Authorization": f"Bearer {STADTPARK.calcom_key}"}
    retell_wrong = client.get(f"{sim.retell_base_url}/v2/list-phone-numbers", headers=calcom_key_on_retell)
    assert retell_wrong.status_code == 401 and retell_wrong.json()["status"] == "error"


def test_unknown_ids_get_404_in_each_apis_shape(sim, client):
    missing = v2(sim, client, "/teams/999/event-types")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFoundException"
    assert v2(sim, client, "/event-types/12345", headers=V2_EVENT_TYPES).status_code == 404
    not_found = v1(sim, client, "/event-types/12345")
    assert (not_found.status_code, not_found.json()) == (404, {"message": "Event type not found"})
    assert v2(sim, client, "/no-such-endpoint").json()["error"]["message"] == "Cannot GET /v2/no-such-endpoint"


def test_uuid_host_ids_only_where_configured(sim, client):
    tenant = sim.world.tenant("salon-schoenhaar")
    team_types = v2(sim, client, f"/teams/{tenant.team.id}/event-types", spec=SCHOENHAAR).json()["data"]
    v1_types = v1(sim, client, f"/teams/{tenant.team.id}/event-types", spec=SCHOENHAAR).json()["event_types"]
    hosts = [h["userId"] for t in team_types for h in t["hosts"]] + [h["userId"] for t in v1_types for h in t["hosts"]]
    assert hosts and all(uuid.UUID(h).version == 4 for h in hosts)
    assert {h for h in hosts} <= {u.uuid for u in tenant.users}


# ---- headers and the request log ------------------------------------------------------------------


def test_rate_limit_headers_count_down(sim, client):
    first, second = v1(sim, client, "/teams"), v1(sim, client, "/teams")
    assert first.headers["X-RateLimit-Limit"] == "30"
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1
    assert first.headers["X-RateLimit-Reset"].isdigit()
    first, second = v2(sim, client, "/teams"), v2(sim, client, "/teams")
    remaining = [int(r.headers["X-RateLimit-Remaining-Default"]) for r in (first, second)]
    assert remaining[1] == remaining[0] - 1
    assert second.headers["X-RateLimit-Limit-Default"] == "120"
    assert second.headers["X-RateLimit-Reset-Default"].isdigit()


def test_request_log_hides_the_api_key_and_counts_by_prefix(sim, client):
    before = sim.request_count("/calcom/v1/memberships")
    v1(sim, client, "/memberships", include="team")
    assert sim.request_count("/calcom/v1/memberships") == before + 1
    method, path, status = sim.request_log[-1]
    assert (method, path, status) == ("GET", "/calcom/v1/memberships?include=team", 200)
    assert all(STADTPARK.calcom_key not in p for _, p, _ in sim.request_log)


# ---- faults --------------------------------------------------------------------------------------


def test_429_fault_sends_retry_after_in_seconds(sim, client):
    sim.add_fault(Fault(kind="status", status=429, path_prefix="/calcom/v2/event-types", retry_after=2))
    limited = v2(sim, client, "/event-types", headers=V2_EVENT_TYPES)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()["error"]["code"] == "ThrottlerException"
    assert v2(sim, client, "/event-types", headers=V2_EVENT_TYPES).status_code == 200


def test_429_fault_sends_retry_after_ms(sim, client):
    sim.add_fault(
        Fault(kind="status", status=429, path_prefix="/retell/", retry_after=0.25, retry_after_header="retry-after-ms")
    )
    limited = retell(sim, client, "GET", "/v2/list-phone-numbers")
    assert limited.status_code == 429 and limited.headers["retry-after-ms"] == "250"
    assert "retry-after" not in limited.headers
    assert limited.json() == {"status": "error", "message": "Account rate limited, please throttle your requests."}
    v1_limited_fault = Fault(kind="status", status=429, path_prefix="/calcom/v1/")
    sim.add_fault(v1_limited_fault)
    v1_limited = v1(sim, client, "/users")
    assert v1_limited.status_code == 429 and v1_limited.headers["Retry-After"] == "1"
    assert v1_limited.json() == {"message": "Rate limit exceeded"}


def test_503_fault_hits_count_requests_of_one_tenant_only(sim, client):
    sim.add_fault(
        Fault(kind="status", status=503, count=2, tenant="praxis-am-stadtpark", path_prefix="/calcom/v2/teams")
    )
    assert v2(sim, client, "/teams", spec=SCHOENHAAR).status_code == 200
    statuses = [v2(sim, client, "/teams").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [status for _, path, status in sim.request_log[-3:]] == statuses
    assert sim.faults == []


def test_forever_fault_lasts_until_cleared(sim, client):
    sim.add_fault(Fault(kind="status", status=500, count=-1, path_prefix="/calcom/v1/teams"))
    assert [v1(sim, client, "/teams").status_code for _ in range(3)] == [500, 500, 500]
    sim.clear_faults()
    assert v1(sim, client, "/teams").status_code == 200


def test_slow_fault_delays_one_request_while_others_are_served(sim, client):
    sim.add_fault(Fault(kind="slow", delay_s=0.4, path_prefix="/calcom/v2/me"))
    with ThreadPoolExecutor(2) as pool, httpx.Client(timeout=5) as other:
        started = time.perf_counter()
        slow = pool.submit(v2, sim, other, "/me")
        time.sleep(0.05)
        quick = v2(sim, client, "/teams")
        quick_elapsed = time.perf_counter() - started
        assert slow.result().status_code == 200 and quick.status_code == 200
        slow_elapsed = time.perf_counter() - started
    assert quick_elapsed < 0.3 <= 0.4 <= slow_elapsed


def test_malformed_fault_corrupts_exactly_one_record(sim, client):
    sim.add_fault(Fault(kind="malformed", path_prefix="/calcom/v2/teams/"))
    team_id = sim.world.tenant("praxis-am-stadtpark").team.id
    items = v2(sim, client, f"/teams/{team_id}/event-types").json()["data"]
    bad = [item for item in items if "id" not in item]
    assert len(bad) == 1 and bad[0]["lengthInMinutes"] == "abc"
    assert all(isinstance(item["lengthInMinutes"], int) for item in items if "id" in item)
    sim.add_fault(Fault(kind="malformed", path_prefix="/calcom/v2/schedules"))
    schedules = v2(sim, client, "/schedules", headers=V2_SCHEDULES).json()["data"]
    starts = [r["startTime"] for s in schedules for r in s["availability"]]
    assert starts.count("25:99") == 1
    sim.add_fault(Fault(kind="malformed", path_prefix="/calcom/v1/event-types"))
    v1_items = v1(sim, client, "/event-types").json()["event_types"]
    assert [item.get("length") for item in v1_items if "id" not in item] == ["abc"]
    sim.add_fault(Fault(kind="malformed", path_prefix="/retell/v2/list-phone-numbers"))
    numbers = retell(sim, client, "GET", "/v2/list-phone-numbers").json()["items"]
    assert sum(not re.fullmatch(r"\+\d+", n["phone_number"]) for n in numbers) == 1
    assert all("id" in item for item in v2(sim, client, f"/teams/{team_id}/event-types").json()["data"])


def test_admin_endpoints_drive_faults_over_http(sim, client):
    assert client.get(f"{sim.base_url}/_sim/health").json()["status"] == "ok"
    added = client.post(
        f"{sim.base_url}/_sim/faults",
        json=[{"kind": "status", "status": 502, "count": -1, "path_prefix": "/calcom/v1/users"}],
    )
    assert added.status_code == 200 and added.json() == {"faults": 1}
    assert v1(sim, client, "/users").status_code == 502
    assert client.get(f"{sim.base_url}/_sim/faults").json()[0]["status"] == 502
    assert client.delete(f"{sim.base_url}/_sim/faults").status_code == 200
    assert v1(sim, client, "/users").status_code == 200
    rejected = client.post(f"{sim.base_url}/_sim/faults", json=[{"kind": "explode"}])
    assert rejected.status_code == 400 and sim.faults == []


# ---- lifecycle -----------------------------------------------------------------------------------


def test_start_serves_and_stop_leaves_no_thread_or_port():
    before = {t.name for t in threading.enumerate()}
    simulator = Simulator(SimulatorConfig(seed=1, tenants=[STADTPARK]))
    url = simulator.start()
    port = int(url.rsplit(":", 1)[1])
    assert httpx.get(f"{url}/_sim/health").status_code == 200
    with httpx.Client() as keep_alive:
        assert keep_alive.get(f"{url}/calcom/v1/teams", params={"apiKey": STADTPARK.calcom_key}).status_code == 200
        simulator.stop()
    simulator.stop()  # idempotent
    assert {t.name for t in threading.enumerate()} <= before
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_a_given_port_is_used():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Simulator(SimulatorConfig(tenants=[STADTPARK]), port=port) as simulator:
        assert simulator.base_url == f"http://127.0.0.1:{port}"
        assert simulator.calcom_base_url.endswith("/calcom") and simulator.retell_base_url.endswith("/retell")


def test_inconsistent_configs_are_rejected():
    with pytest.raises(ValueError, match="event type id"):
        build_world(SimulatorConfig(tenants=[STADTPARK, SimTenantSpec("b", "k1", "k2", event_type_ids=[1001])]))
    with pytest.raises(ValueError, match="API key"):
        build_world(SimulatorConfig(tenants=[STADTPARK, SimTenantSpec("b", STADTPARK.calcom_key, "k2")]))

"""Retell's official Python SDK (retell-sdk, pinned in the dev extra) against the simulator.

Every other test trusts the simulator to look like Retell; this is where that is checked: each SDK
method whose endpoint the sync depends on succeeds with the SDK's strict response validation
(its pydantic types, literals included), paging as the SDK pages. Webhook signatures are checked
both ways with the SDK's own `verify`.
"""

import datetime as dt
import json
import time

import pytest
from retell import APIResponseValidationError, NotFoundError, Retell
from retell.lib import webhook_auth

from askpro_pipelines.webhooks.signatures import retell_signature, verify_retell
from askpro_simulator import SimTenantSpec, SimulatorConfig, call_webhook_payload, retell_delivery
from askpro_simulator.accounts import SIM_NOW_MS

CURRENT, TRANSITION, LEGACY = "sdk-current", "sdk-transition", "sdk-legacy"
CONFIG = SimulatorConfig(
    seed=7,
    tenants=[
        SimTenantSpec(
            slug=slug,
            calcom_key=f"cal_test_{slug.replace('-', '_')}",
            retell_key=f"key_{slug.replace('-', '_')}",
            agents=3,
            phone_numbers=[f"+49301234567{index}{n}" for n in range(3)],
            calls_per_day=20,
            retell_generation=generation,
        )
        for index, (slug, generation) in enumerate(((CURRENT, "current"), (TRANSITION, "both"), (LEGACY, "legacy")))
    ],
)
WEEK_MS = 7 * 86_400_000


def _sdk(sim, slug: str) -> Retell:
    key = sim.world.tenants[slug].spec.retell_key
    return Retell(
        api_key=key, base_url=sim.retell_base_url, max_retries=0, timeout=30, _strict_response_validation=True
    )


def _pages(fetch):
    """Every item of a cursor listing, following pagination_key as the SDK's callers must."""
    items, key, pages = [], None, 0
    while True:
        page = fetch(key)
        items += page.items
        pages += 1
        if not page.has_more:
            return items, pages
        assert page.pagination_key, "has_more without a pagination_key"
        key = page.pagination_key


@pytest.mark.parametrize("slug", [CURRENT, TRANSITION])
def test_agents_and_their_versions(sim, slug):
    sdk, world = _sdk(sim, slug), sim.world.tenants[slug]
    agents, pages = _pages(lambda key: sdk.agent.list(limit=1, pagination_key=key) if key else sdk.agent.list(limit=1))
    assert pages == len(world.agents) and {a.agent_id for a in agents} == {a.agent_id for a in world.agents}
    assert all(a.is_suspended is False and a.channel == "voice" for a in agents)
    for agent in world.agents:
        versions, _ = _pages(
            lambda key, agent=agent: sdk.agent.list_versions(
                agent.agent_id, limit=1, sort_order="ascending", **({"pagination_key": key} if key else {})
            )
        )
        assert [v.version for v in versions] == [v.version for v in agent.versions]
        for item in versions:
            full = sdk.agent.retrieve(agent.agent_id, version=item.version)
            assert (full.agent_id, full.version, full.is_published) == (agent.agent_id, item.version, item.is_published)
            assert full.response_engine.type == "retell-llm" and full.response_engine.llm_id == agent.llm_id


def test_llms_of_a_current_account_validate(sim):
    sdk, world = _sdk(sim, CURRENT), sim.world.tenants[CURRENT]
    for agent in world.agents:
        for version in agent.versions:
            llm = sdk.llm.retrieve(agent.llm_id, version=version.version)
            assert (llm.llm_id, llm.version) == (agent.llm_id, version.version)
            types = {tool.type for tool in llm.general_tools}
            assert "custom" in types and not {t for t in types if t.endswith("_cal")}


def test_an_account_in_transition_holds_tools_the_sdk_no_longer_knows(sim):
    """Why our models accept both tool generations: the SDK's strict types reject the old Cal.com tools."""
    sdk, world = _sdk(sim, TRANSITION), sim.world.tenants[TRANSITION]
    with pytest.raises(APIResponseValidationError):
        sdk.llm.retrieve(world.agents[0].llm_id)
    for agent in world.agents[1:]:
        assert "custom" in {tool.type for tool in sdk.llm.retrieve(agent.llm_id).general_tools}


@pytest.mark.parametrize("slug", [CURRENT, TRANSITION])
def test_phone_numbers(sim, slug):
    sdk, world = _sdk(sim, slug), sim.world.tenants[slug]
    numbers, pages = _pages(lambda key: sdk.phone_number.list(limit=2, **({"pagination_key": key} if key else {})))
    assert pages == 2 and sorted(n.phone_number for n in numbers) == sorted(p.phone_number for p in world.phone_numbers)
    for number in numbers:
        one = sdk.phone_number.retrieve(number.phone_number)
        assert one.phone_number == number.phone_number and one.inbound_agents


@pytest.mark.parametrize("slug", [CURRENT, TRANSITION])
def test_calls_list_in_pages_and_retrieve(sim, slug):
    sdk = _sdk(sim, slug)
    window = {"start_timestamp": {"op": "bt", "type": "range", "value": [SIM_NOW_MS - WEEK_MS, SIM_NOW_MS]}}
    calls, pages = _pages(
        lambda key: sdk.call.list(
            filter_criteria=window, sort_order="ascending", limit=25, **({"pagination_key": key} if key else {})
        )
    )
    assert pages > 1 and len({c.call_id for c in calls}) == len(calls)
    assert [c.start_timestamp for c in calls] == sorted(c.start_timestamp for c in calls)
    statuses = {c.call_status for c in calls}
    assert "ended" in statuses and len(statuses) > 1, statuses  # more than the happy path is validated
    for call in calls[:: max(1, len(calls) // 15)]:
        full = sdk.call.retrieve(call.call_id)
        assert full.call_id == call.call_id and full.call_status == call.call_status


def test_superseded_endpoints_are_gone_for_a_current_account(sim):
    """The SDK's raw escape hatch reaches the legacy paths: a current-only account answers 404 there."""
    sdk = _sdk(sim, CURRENT)
    agent_id = sim.world.tenants[CURRENT].agents[0].agent_id
    for path in ("/list-agents", f"/get-agent-versions/{agent_id}", "/list-phone-numbers"):
        with pytest.raises(NotFoundError):
            sdk.get(path, cast_to=object)
    with pytest.raises(NotFoundError):
        _sdk(sim, LEGACY).agent.list()


BODIES = [
    {
        "event": "call_ended",
        "call": {"call_id": "call_1", "transcript": "Grüß Gott, ich möchte einen Termin für Größe-Übungen."},
    },
    {"event": "call_analyzed", "call": {"call_id": "call_2", "call_analysis": {"call_summary": "Termin gebucht – ✓"}}},
]


@pytest.mark.parametrize("payload", BODIES)
def test_our_signatures_verify_with_the_sdk_and_the_sdks_with_ours(payload):
    key = "key_sdk_webhook_0123456789abcdef"
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    now_ms = int(time.time() * 1000)

    ours = retell_signature(key, text.encode("utf-8"), now_ms)
    assert webhook_auth.verify(text, key, ours)
    assert not webhook_auth.verify(text, "key_another_one_0123456789", ours)
    assert not webhook_auth.verify(text + " ", key, ours)

    theirs = webhook_auth.symmetric["sign"](text, key, now_ms)
    assert theirs == ours
    assert verify_retell(text.encode("utf-8"), theirs, key)
    assert not verify_retell(text.encode("utf-8"), theirs, "key_another_one_0123456789")
    stale = webhook_auth.symmetric["sign"](text, key, now_ms - 6 * 60 * 1000)
    assert not verify_retell(text.encode("utf-8"), stale, key) and not webhook_auth.verify(text, key, stale)


def test_simulated_deliveries_verify_with_the_sdk(sim):
    world = sim.world.tenants[CURRENT]
    day = dt.datetime.fromtimestamp(SIM_NOW_MS / 1000, dt.UTC).date() - dt.timedelta(days=2)
    call = world.activity.calls_on(day)[0]
    now_ms = int(time.time() * 1000)
    body, headers = retell_delivery(
        world.spec.retell_key, "call_ended", call_webhook_payload(call, world, "call_ended"), now_ms
    )
    assert webhook_auth.verify(body.decode("utf-8"), world.spec.retell_key, headers["x-retell-signature"])

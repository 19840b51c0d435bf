"""The simulator's Retell generations over HTTP: which paths each kind of account answers, the
shapes that changed between generations, and the drift fault."""

import pytest

from askpro_pipelines.models.retell import llm_from_raw
from askpro_simulator import Fault, SimTenantSpec, SimulatorConfig, build_world

CONFIG = SimulatorConfig(
    tenants=[
        SimTenantSpec(
            slug=slug, calcom_key=f"cal_test_{slug}", retell_key=f"key_{slug}", agents=2, retell_generation=generation
        )
        for slug, generation in (("cur", "current"), ("leg", "legacy"), ("both", "both"))
    ]
)


def _get(client, sim, slug, method, path, **kwargs):
    headers = {"Authorization": f"Bearer key_{slug}"}
    return client.request(method, f"{sim.retell_base_url}{path}", headers=headers, **kwargs)


def test_each_account_answers_its_generation_only(sim, client):
    agent_id = {slug: sim.world.tenants[slug].agents[0].agent_id for slug in ("cur", "leg", "both")}
    paths = {
        "current": [
            ("POST", "/v2/list-agents"),
            ("GET", "/list-agent-versions/{a}"),
            ("GET", "/v2/list-phone-numbers"),
            ("POST", "/v3/list-calls"),
        ],
        "legacy": [
            ("GET", "/list-agents"),
            ("GET", "/get-agent-versions/{a}"),
            ("GET", "/list-phone-numbers"),
            ("POST", "/v2/list-calls"),
        ],
        "always": [("GET", "/get-agent/{a}")],
    }
    expect = {"cur": {"current", "always"}, "leg": {"legacy", "always"}, "both": {"current", "legacy", "always"}}
    for slug, served in expect.items():
        for generation, routes in paths.items():
            for method, path in routes:
                response = _get(
                    client, sim, slug, method, path.format(a=agent_id[slug]), json={} if method == "POST" else None
                )
                assert response.status_code == (200 if generation in served else 404), (slug, path)
    # Another tenant's key still gets 401 before the generation is considered.
    assert _get(client, sim, "cur", "GET", f"/get-agent-versions/{agent_id['leg']}").status_code in (401, 404)


def test_booking_tools_by_generation_and_integer_versions(sim, client):
    def tools(slug, index):
        agent = sim.world.tenants[slug].agents[index]
        return _get(client, sim, slug, "GET", f"/get-retell-llm/{agent.llm_id}").json()

    assert {t["type"] for t in tools("leg", 1)["general_tools"]} >= {"check_availability_cal", "book_appointment_cal"}
    assert "custom" in {t["type"] for t in tools("cur", 0)["general_tools"]}
    assert "book_appointment_cal" in {t["type"] for t in tools("both", 0)["general_tools"]}
    assert "custom" in {t["type"] for t in tools("both", 1)["general_tools"]}
    # Custom booking functions still link the LLM to its Cal.com event type, and their key is masked.
    llm = llm_from_raw(tools("cur", 0))
    assert llm.cal_event_type_ids and "cal_test_cur" not in repr(llm.tools)

    agent = sim.world.tenants["cur"].agents[1]
    version = _get(client, sim, "cur", "GET", f"/get-agent/{agent.agent_id}").json()["response_engine"]["version"]
    assert isinstance(version, float) and version.is_integer()  # 7.0 on the wire, as the SDK types it


def test_list_agent_versions_pages_and_rejects_a_bad_key(sim, client):
    agent = sim.world.tenants["cur"].agents[0]
    seen, key = [], None
    while True:
        params = {"limit": 1, "sort_order": "ascending"} | ({"pagination_key": key} if key else {})
        page = _get(client, sim, "cur", "GET", f"/list-agent-versions/{agent.agent_id}", params=params).json()
        seen += [item["version"] for item in page["items"]]
        if not page["has_more"]:
            break
        key = page["pagination_key"]
    assert seen == [v.version for v in agent.versions]
    bad = _get(client, sim, "cur", "GET", f"/list-agent-versions/{agent.agent_id}", params={"pagination_key": "999"})
    assert bad.status_code == 400


def test_a_drift_fault_changes_the_first_record_once(sim, client):
    sim.add_fault(Fault(kind="drift", path_prefix="/retell/v2/list-agents", changes={"brand_new": 1}))
    first = _get(client, sim, "both", "POST", "/v2/list-agents", json={}).json()["items"]
    again = _get(client, sim, "both", "POST", "/v2/list-agents", json={}).json()["items"]
    assert len(first) == 2
    assert first[0]["brand_new"] == 1 and all("brand_new" not in item for item in first[1:] + again)


def test_bad_configs_and_faults_are_refused():
    with pytest.raises(ValueError, match="retell_generation"):
        build_world(
            SimulatorConfig(tenants=[SimTenantSpec(slug="x", calcom_key="c", retell_key="r", retell_generation="v3")])
        )
    with pytest.raises(ValueError, match="drift fault"):
        Fault(kind="drift")
    with pytest.raises(ValueError, match="drift fault"):
        Fault(kind="status", changes={"a": 1})

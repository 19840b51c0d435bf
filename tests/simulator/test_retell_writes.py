"""The simulator's Retell write endpoints over HTTP, with Retell's versioning rules: the draft is
editable, published versions are frozen, publishing opens a new draft, and numbers keep the version
they pin until re-pointed."""

from askpro_simulator import SimTenantSpec, SimulatorConfig

CONFIG = SimulatorConfig(
    tenants=[
        SimTenantSpec(
            slug="w", calcom_key="cal_test_w", retell_key="key_w", agents=2, phone_numbers=["+4930111222301"]
        ),
        SimTenantSpec(slug="other", calcom_key="cal_test_other", retell_key="key_other", agents=1),
    ]
)


def _call(client, sim, method, path, key="key_w", **kwargs):
    return client.request(method, f"{sim.retell_base_url}{path}", headers={"Authorization": f"Bearer {key}"}, **kwargs)


def test_draft_edit_publish_and_repoint(sim, client):
    tenant = sim.world.tenants["w"]
    agent = tenant.agents[0]
    number = tenant.phone_numbers[0].phone_number
    before_binding = _call(client, sim, "GET", f"/get-phone-number/{number}").json()["inbound_agents"]

    edited = _call(
        client,
        sim,
        "PATCH",
        f"/update-retell-llm/{agent.llm_id}",
        json={"general_prompt": "Neu.", "begin_message": "Hallo!"},
    )
    assert edited.status_code == 200, edited.text
    draft = edited.json()
    assert draft["general_prompt"] == "Neu." and draft["is_published"] is False
    assert (
        _call(client, sim, "GET", f"/get-retell-llm/{agent.llm_id}?version={draft['version']}").json()["begin_message"]
        == "Hallo!"
    )
    stamp = draft["last_modification_timestamp"]
    again = _call(client, sim, "PATCH", f"/update-retell-llm/{agent.llm_id}", json={"model_temperature": 0.1}).json()
    assert again["version"] == draft["version"] and again["last_modification_timestamp"] > stamp

    published = _call(client, sim, "POST", f"/publish-agent-version/{agent.agent_id}", json={})
    assert published.status_code == 200, published.text
    assert published.json()["version"] == draft["version"] and published.json()["is_published"] is True
    versions = _call(client, sim, "GET", f"/list-agent-versions/{agent.agent_id}?sort_order=descending").json()["items"]
    assert versions[0]["version"] == draft["version"] + 1 and versions[0]["is_published"] is False
    # The new draft starts as a copy of what was published.
    new_draft = _call(client, sim, "GET", f"/get-retell-llm/{agent.llm_id}?version={draft['version'] + 1}").json()
    assert new_draft["general_prompt"] == "Neu."

    # Published versions are frozen.
    frozen = _call(
        client,
        sim,
        "PATCH",
        f"/update-retell-llm/{agent.llm_id}?version={draft['version']}",
        json={"general_prompt": "x"},
    )
    assert frozen.status_code == 400
    assert (
        _call(client, sim, "GET", f"/get-retell-llm/{agent.llm_id}?version={draft['version']}").json()["general_prompt"]
        == "Neu."
    )

    # Publishing moved no number; re-pointing does.
    assert _call(client, sim, "GET", f"/get-phone-number/{number}").json()["inbound_agents"] == before_binding
    body = {"inbound_agents": [{"agent_id": agent.agent_id, "agent_version": draft["version"], "weight": 1}]}
    moved = _call(client, sim, "PATCH", f"/update-phone-number/{number}", json=body)
    assert moved.status_code == 200, moved.text
    assert _call(client, sim, "GET", f"/get-phone-number/{number}").json()["inbound_agents"] == body["inbound_agents"]


def test_refused_writes(sim, client):
    tenant = sim.world.tenants["w"]
    agent = tenant.agents[1]
    number = tenant.phone_numbers[0].phone_number
    assert _call(client, sim, "PATCH", f"/update-retell-llm/{agent.llm_id}", json={"llm_id": "x"}).status_code == 400
    assert _call(client, sim, "PATCH", f"/update-retell-llm/{agent.llm_id}", json={}).status_code == 400
    assert (
        _call(
            client, sim, "PATCH", f"/update-retell-llm/{agent.llm_id}", key="key_other", json={"general_prompt": "x"}
        ).status_code
        == 401
    )
    assert (
        _call(client, sim, "PATCH", "/update-retell-llm/llm_unknown", json={"general_prompt": "x"}).status_code == 404
    )
    bad_version = {"inbound_agents": [{"agent_id": agent.agent_id, "agent_version": 999, "weight": 1}]}
    assert _call(client, sim, "PATCH", f"/update-phone-number/{number}", json=bad_version).status_code == 400
    bad_weight = {"inbound_agents": [{"agent_id": agent.agent_id, "agent_version": "latest_published", "weight": 0.5}]}
    assert _call(client, sim, "PATCH", f"/update-phone-number/{number}", json=bad_weight).status_code == 400
    assert (
        _call(
            client, sim, "POST", f"/publish-agent-version/{sim.world.tenants['other'].agents[0].agent_id}", json={}
        ).status_code
        == 401
    )

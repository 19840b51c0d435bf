"""Retell payloads of both endpoint generations normalise into the same records, with secrets masked."""

import datetime
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from askpro_pipelines.models.errors import RecordError
from askpro_pipelines.models.retell import (
    AGENTS,
    LLMS,
    PHONE_NUMBERS,
    AgentVersion,
    Llm,
    PhoneAgentBinding,
    agent_summary_from_raw,
    agent_version_from_raw,
    is_full_agent,
    llm_from_raw,
    phone_number_from_raw,
    unwrap_list,
    with_prompt,
)
from askpro_pipelines.redaction import REDACTED, is_secret_name, redact_secrets
from tests.fixtures import api_example as example

AGENT_ID = "agent_7c1f0e2d9a4b5c6d7e8f901a2b"
OUTBOUND_AGENT_ID = "agent_0d4e8a1b2c3f5a6b7c8d9e0f1a"
LLM_ID = "llm_3f9a2c7e1b8d4a6f0c5e9d2b7a14"
NUMBER = "+493012345678"
# 1787220942333 ms, worked out by hand: 20 682 days after 1970-01-01 is 2026-08-20, plus 36 942.333 s.
EXAMPLE_MODIFIED = datetime.datetime(2026, 8, 20, 10, 15, 42, 333000, tzinfo=datetime.UTC)
CAL_KEY = "cal_live_" + "0123456789abcdef" * 2
RETELL_KEY = "key_" + "9f8e7d6c5b4a" * 2


def agent_raw(**changes) -> dict:
    return {**example("retell_get_agent.json"), **changes}


def llm_raw(**changes) -> dict:
    return {**example("retell_get_retell_llm.json"), **changes}


def phone_raw(**changes) -> dict:
    return {**example("retell_get_phone_number.json"), **changes}


def error_of(parser, *args, **kwargs) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parser(*args, **kwargs)
    # A chained ValidationError would print the payload in a traceback.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return caught.value


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- every example parses -------------------------------------------------------------------


def test_get_agent_example():
    agent = agent_version_from_raw(example("retell_get_agent.json"))
    assert (agent.agent_id, agent.version, agent.agent_name) == (AGENT_ID, 7, "Praxis Rezeption (DE)")
    assert (agent.is_published, agent.version_title, agent.base_version) == (True, "Herbst-Öffnungszeiten", 6)
    assert (agent.voice_id, agent.language, agent.timezone) == ("11labs-Carola", "de-DE", "Europe/Berlin")
    assert agent.webhook_url == "https://hooks.praxis-stadtpark.example/retell"
    assert (agent.response_engine_type, agent.llm_id, agent.llm_version) == ("retell-llm", LLM_ID, 7)
    assert agent.conversation_flow_id is None and agent.llm_websocket_url is None
    assert agent.last_modified == EXAMPLE_MODIFIED
    assert agent.prompt is None and agent.prompt_hash is None


def test_agent_versions_and_legacy_list_agents_give_the_same_rows():
    versions_body = example("retell_get_agent_versions.json")
    items, has_more, key = unwrap_list(versions_body, entity=AGENTS)
    versions = [agent_version_from_raw(item) for item in items]
    assert (has_more, key) == (False, None)
    assert [(v.agent_id, v.version, v.is_published, v.llm_version) for v in versions] == [
        (AGENT_ID, 7, True, 7),
        (AGENT_ID, 6, False, 6),
    ]
    assert versions[1].last_modified == datetime.datetime(2026, 6, 2, 14, 12, 44, 901000, tzinfo=datetime.UTC)

    legacy, has_more, key = unwrap_list(example("retell_list_agents_legacy.json"), entity=AGENTS)
    assert (has_more, key) == (False, None)
    assert all(is_full_agent(item) for item in legacy)
    assert [agent_version_from_raw(item) for item in legacy] == versions


def test_current_list_agents_gives_summaries():
    items, has_more, key = unwrap_list(example("retell_list_agents.json"), entity=AGENTS)
    assert (has_more, key) == (False, None)
    assert not any(is_full_agent(item) for item in items)
    reception, callback = (agent_summary_from_raw(item) for item in items)

    assert (reception.agent_id, reception.agent_name, reception.channel) == (AGENT_ID, "Praxis Rezeption (DE)", "voice")
    assert reception.user_modified == EXAMPLE_MODIFIED
    assert [(t.tag, t.version, t.dynamic_variables) for t in reception.tags] == [
        ("prod", 7, {"praxis_name": "Praxis am Stadtpark"})
    ]
    assert reception.version_for_tag("prod") == 7 and reception.version_for_tag("staging") is None
    assert (callback.agent_id, callback.tags) == (OUTBOUND_AGENT_ID, [])


def test_get_retell_llm_example():
    llm = llm_from_raw(example("retell_get_retell_llm.json"))
    raw = example("retell_get_retell_llm.json")
    assert (llm.llm_id, llm.version, llm.is_published, llm.model) == (LLM_ID, 7, True, "gpt-4.1")
    assert llm.general_prompt == raw["general_prompt"] == llm.prompt_text
    assert llm.begin_message == raw["begin_message"]
    assert [tool["name"] for tool in llm.tools] == ["end_call", "verfuegbarkeit_pruefen", "termin_buchen"]
    assert [tool.get("cal_api_key") for tool in llm.tools] == [None, REDACTED, REDACTED]
    assert llm.cal_event_type_ids == ["1204551"]
    assert llm.last_modified == EXAMPLE_MODIFIED
    assert llm.prompt_hash == sha256(raw["general_prompt"])


@pytest.mark.parametrize(
    "name", ["retell_list_phone_numbers.json", "retell_list_phone_numbers_legacy.json", "retell_get_phone_number.json"]
)
def test_phone_number_examples_give_the_same_record(name):
    body = example(name)
    items = unwrap_list(body, entity=PHONE_NUMBERS)[0] if name.startswith("retell_list") else [body]
    (number,) = (phone_number_from_raw(item) for item in items)
    assert (number.phone_number, number.phone_number_pretty, number.nickname) == (
        NUMBER,
        "+49 30 12345678",
        "Praxis Hauptnummer",
    )
    assert (number.phone_number_type, number.area_code, number.inbound_webhook_url) == ("custom", None, None)
    assert number.last_modified == EXAMPLE_MODIFIED
    # The legacy example carries both shapes; the weighted arrays win (outbound "latest_published", not null).
    assert number.bindings == [
        PhoneAgentBinding(direction="inbound", agent_id=AGENT_ID, agent_version="7", weight=1.0),
        PhoneAgentBinding(
            direction="outbound", agent_id=OUTBOUND_AGENT_ID, agent_version="latest_published", weight=1.0
        ),
    ]
    assert (number.inbound_agent_id, number.inbound_agent_version) == (AGENT_ID, "7")
    assert (number.outbound_agent_id, number.outbound_agent_version) == (OUTBOUND_AGENT_ID, "latest_published")


# ---- versions, engines, timestamps ----------------------------------------------------------


def test_float_versions_become_ints():
    raw = agent_raw(
        version=3.0, base_version=2.0, response_engine={"type": "retell-llm", "llm_id": LLM_ID, "version": 3.0}
    )
    agent = agent_version_from_raw(raw)
    assert (agent.version, agent.base_version, agent.llm_version) == (3, 2, 3)
    assert type(agent.version) is int and type(agent.llm_version) is int
    assert llm_from_raw(llm_raw(version=4.0)).version == 4


@pytest.mark.parametrize("bad", [3.5, -1, True, "3", None])
def test_bad_versions_are_rejected_by_name(bad):
    error = error_of(agent_version_from_raw, agent_raw(version=bad))
    assert (error.entity, error.record_id) == (AGENTS, AGENT_ID)
    assert error.message.startswith("version:")


def test_fractional_llm_version_is_rejected_with_its_path():
    raw = agent_raw(response_engine={"type": "retell-llm", "llm_id": LLM_ID, "version": 7.5})
    error = error_of(agent_version_from_raw, raw)
    assert "response_engine.version" in error.message and "7.5" in error.message


def test_other_response_engines():
    flow = agent_version_from_raw(
        agent_raw(response_engine={"type": "conversation-flow", "conversation_flow_id": "cf_1", "version": 2})
    )
    assert (flow.response_engine_type, flow.llm_id, flow.llm_version) == ("conversation-flow", None, None)
    assert (flow.conversation_flow_id, flow.conversation_flow_version) == ("cf_1", 2)

    custom = agent_version_from_raw(
        agent_raw(
            response_engine={"type": "custom-llm", "llm_websocket_url": "wss://llm.example/ws?token=s3cr3t-value"}
        )
    )
    assert (custom.response_engine_type, custom.llm_id) == ("custom-llm", None)
    assert custom.llm_websocket_url == f"wss://llm.example/ws?token={REDACTED}"

    error = error_of(agent_version_from_raw, agent_raw(response_engine={"type": "retell-llm"}))
    assert error.message.startswith("response_engine.llm_id:")


def test_language_array_is_stored_as_one_text():
    assert agent_version_from_raw(agent_raw(language=["de-DE", "en-US"])).language == "de-DE,en-US"
    assert agent_version_from_raw(agent_raw(language="multi")).language == "multi"
    assert error_of(agent_version_from_raw, agent_raw(language=[])).message.startswith("language:")


def test_optional_agent_fields_may_be_missing():
    agent = agent_version_from_raw({"agent_id": AGENT_ID, "version": 0})
    assert (agent.version, agent.response_engine_type, agent.llm_id, agent.last_modified) == (0, None, None, None)


def test_millisecond_timestamps_become_utc_datetimes():
    for value in (1787220942333, 1787220942333.0):
        modified = agent_version_from_raw(agent_raw(last_modification_timestamp=value)).last_modified
        assert modified == EXAMPLE_MODIFIED
        assert modified.utcoffset() == datetime.timedelta(0)
    epoch = agent_version_from_raw(agent_raw(last_modification_timestamp=0)).last_modified
    assert epoch == datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    summary = agent_summary_from_raw({"agent_id": AGENT_ID, "user_modified_timestamp": 1_000})
    assert summary.user_modified == datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.UTC)


@pytest.mark.parametrize("bad", [-1, 1.5, 10**20, "1787220942333", True])
def test_bad_timestamps_are_rejected(bad):
    error = error_of(phone_number_from_raw, phone_raw(last_modification_timestamp=bad))
    assert (error.entity, error.record_id) == (PHONE_NUMBERS, NUMBER)
    assert error.message.startswith("last_modification_timestamp:")


# ---- phone number bindings ------------------------------------------------------------------


def _without_weighted(raw: dict) -> dict:
    return {key: value for key, value in raw.items() if key not in ("inbound_agents", "outbound_agents")}


def test_legacy_and_weighted_bindings_give_the_same_shape():
    legacy = phone_number_from_raw(
        _without_weighted(
            phone_raw(inbound_agent_id=AGENT_ID, inbound_agent_version=3, outbound_agent_id=OUTBOUND_AGENT_ID)
        )
    )
    weighted = phone_number_from_raw(
        phone_raw(
            inbound_agents=[{"agent_id": AGENT_ID, "agent_version": 3, "weight": 1}],
            outbound_agents=[{"agent_id": OUTBOUND_AGENT_ID, "weight": 1}],
        )
    )
    assert (
        legacy.bindings
        == weighted.bindings
        == [
            PhoneAgentBinding(direction="inbound", agent_id=AGENT_ID, agent_version="3", weight=1.0),
            PhoneAgentBinding(direction="outbound", agent_id=OUTBOUND_AGENT_ID, agent_version=None, weight=1.0),
        ]
    )


def test_weighted_bindings_keep_tags_and_weights():
    number = phone_number_from_raw(
        phone_raw(
            inbound_agents=[
                {"agent_id": "agent_a", "agent_version": "prod", "weight": 0.3},
                {"agent_id": "agent_b", "agent_version": 5.0, "weight": 0.7},
            ],
            outbound_agents=[],
        )
    )
    assert [(b.direction, b.agent_id, b.agent_version, b.weight) for b in number.bindings] == [
        ("inbound", "agent_a", "prod", 0.3),
        ("inbound", "agent_b", "5", 0.7),
    ]
    assert (number.inbound_agent_id, number.inbound_agent_version) == ("agent_b", "5")
    assert (number.outbound_agent_id, number.outbound_agent_version) == (None, None)


def test_weighted_wins_and_empty_weighted_falls_back_to_legacy():
    both = phone_number_from_raw(phone_raw(inbound_agent_id="agent_old", inbound_agent_version=1))
    assert both.inbound_agent_id == AGENT_ID

    fallback = phone_number_from_raw(
        phone_raw(inbound_agents=[], inbound_agent_id="agent_old", inbound_agent_version="prod", outbound_agents=None)
    )
    assert [(b.direction, b.agent_id, b.agent_version, b.weight) for b in fallback.bindings] == [
        ("inbound", "agent_old", "prod", 1.0)
    ]


def test_number_without_agents_has_no_bindings():
    number = phone_number_from_raw(_without_weighted(phone_raw()))
    assert number.bindings == [] and number.inbound_agent_id is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone_number": "030 12345678"}, "phone_number"),
        (
            {"inbound_agents": [{"agent_id": AGENT_ID, "agent_version": 7.5, "weight": 1}]},
            "inbound_agents.0.agent_version",
        ),
        (
            {"inbound_agents": [{"agent_id": AGENT_ID, "agent_version": "", "weight": 1}]},
            "inbound_agents.0.agent_version",
        ),
        ({"inbound_agents": [{"agent_id": AGENT_ID, "weight": -0.5}]}, "inbound_agents.0.weight"),
        ({"outbound_agents": [{"agent_version": 1}]}, "outbound_agents.0.agent_id"),
    ],
)
def test_bad_phone_numbers_fail_by_field(changes, field):
    error = error_of(phone_number_from_raw, phone_raw(**changes))
    assert error.entity == PHONE_NUMBERS
    assert error.message.startswith(f"{field}:")


# ---- secrets and prompts --------------------------------------------------------------------


def _llm_with_secrets(prompt_key: str = CAL_KEY) -> dict:
    return llm_raw(
        general_prompt=f"Du bist die Rezeption. Use api key {prompt_key} for bookings.",
        general_tools=[
            {"type": "check_availability_cal", "name": "pruefen", "event_type_id": "1204551", "cal_api_key": CAL_KEY}
        ],
        states=[
            {
                "name": "buchen",
                "state_prompt": "Frage nach dem Namen. Authorization: Bearer abcdefghijklmnop",
                "tools": [
                    {"type": "book_appointment_cal", "name": "buchen", "event_type_id": 99, "cal_api_key": CAL_KEY},
                    {"type": "custom", "name": "crm", "url": f"https://crm.example/hook?api_key={RETELL_KEY}"},
                ],
            },
            {"name": "abschied", "state_prompt": None},
        ],
    )


def test_llm_secrets_are_masked_everywhere():
    llm = llm_from_raw(_llm_with_secrets())
    stored = llm.model_dump_json()
    for secret in (CAL_KEY, RETELL_KEY, "abcdefghijklmnop"):
        assert secret not in stored and secret not in repr(llm)
    assert llm.general_prompt == f"Du bist die Rezeption. Use api key cal_live_{REDACTED} for bookings."
    assert [tool.get("cal_api_key") for tool in llm.tools] == [REDACTED, REDACTED, None]
    assert [tool.get("state_name") for tool in llm.tools] == [None, "buchen", "buchen"]
    assert llm.cal_event_type_ids == ["1204551", "99"]
    assert llm.prompt_text == (
        f"Du bist die Rezeption. Use api key cal_live_{REDACTED} for bookings.\n\n"
        f"## state: buchen\nFrage nach dem Namen. Authorization: Bearer {REDACTED}"
    )


def test_llm_built_directly_is_redacted_too():
    llm = Llm(
        llm_id=LLM_ID,
        version=1,
        model=None,
        general_prompt=f"key {CAL_KEY}",
        prompt_text=f"key {CAL_KEY}",
        tools=[{"cal_api_key": CAL_KEY}],
        last_modified=None,
    )
    assert CAL_KEY not in llm.model_dump_json()


def test_with_prompt_attaches_the_redacted_prompt_and_its_hash():
    agent = agent_version_from_raw(example("retell_get_agent.json"))
    llm = llm_from_raw(_llm_with_secrets())
    prompted = with_prompt(agent, llm)
    assert prompted.prompt == llm.prompt_text and CAL_KEY not in prompted.prompt
    assert prompted.prompt_hash == sha256(llm.prompt_text) == llm.prompt_hash
    assert prompted.model_copy(update={"prompt": None, "prompt_hash": None}) == agent

    # Stable across parses, blind to which key was pasted (rotating a key is not a prompt change) ...
    other_key = llm_from_raw(_llm_with_secrets(prompt_key="cal_live_" + "f" * 32))
    assert with_prompt(agent, llm_from_raw(_llm_with_secrets())).prompt_hash == prompted.prompt_hash
    assert with_prompt(agent, other_key).prompt_hash == prompted.prompt_hash
    # ... but any change to the wording changes it.
    edited = llm_from_raw({**_llm_with_secrets(), "general_prompt": "Du bist die Rezeption."})
    assert with_prompt(agent, edited).prompt_hash not in (None, prompted.prompt_hash)

    assert with_prompt(prompted, None) == agent


def test_with_prompt_refuses_an_llm_the_agent_does_not_use():
    agent = agent_version_from_raw(example("retell_get_agent.json"))
    other = llm_from_raw(llm_raw(llm_id="llm_other"))
    error = error_of(with_prompt, agent, other)
    assert (error.entity, error.record_id) == (AGENTS, AGENT_ID)
    assert error.message.startswith("response_engine.llm_id:")

    older = llm_from_raw(llm_raw(version=6))
    assert error_of(with_prompt, agent, older).message.startswith("response_engine.version:")


def test_llm_without_prompt_gives_no_hash():
    agent = agent_version_from_raw(example("retell_get_agent.json"))
    llm = llm_from_raw(llm_raw(general_prompt=None, states=None))
    assert llm.prompt_text == "" and llm.general_prompt is None
    prompted = with_prompt(agent, llm)
    assert (prompted.prompt, prompted.prompt_hash) == (None, None)


def test_agent_prompt_hash_cannot_disagree_with_its_prompt():
    fields = agent_version_from_raw(example("retell_get_agent.json")).model_dump()
    agent = AgentVersion(**{**fields, "prompt": f"Hallo {CAL_KEY}"})
    assert agent.prompt == f"Hallo cal_live_{REDACTED}" and agent.prompt_hash == sha256(agent.prompt)
    with pytest.raises(ValidationError):
        AgentVersion(**{**fields, "prompt": "Hallo", "prompt_hash": sha256("Tschüss")})


def test_agent_tag_variables_and_webhook_urls_are_redacted():
    summary = agent_summary_from_raw(
        {"agent_id": AGENT_ID, "tags": {"prod": {"version": 7.0, "dynamic_variables": {"crm_token": "t0p-s3cret"}}}}
    )
    assert summary.tags[0].dynamic_variables == {"crm_token": REDACTED} and summary.tags[0].version == 7
    agent = agent_version_from_raw(agent_raw(webhook_url="https://hooks.example/retell?secret=abc&tenant=x"))
    assert agent.webhook_url == f"https://hooks.example/retell?secret={REDACTED}&tenant=x"


# ---- errors ---------------------------------------------------------------------------------

PRIVATE = "Patientin Erika Mustermann"


def test_errors_name_entity_record_and_field_but_not_the_payload():
    raw = agent_raw(version=3.5, agent_name=PRIVATE, voice_id=CAL_KEY, language=42)
    error = error_of(agent_version_from_raw, raw)
    text = str(error)
    assert text.startswith(f"entity={AGENTS} record={AGENT_ID}: ")
    assert "version:" in text and "language:" in text
    assert PRIVATE not in text and CAL_KEY not in text and "42" not in text

    llm_error = error_of(llm_from_raw, llm_raw(general_prompt=7, general_tools=[{"cal_api_key": CAL_KEY}, "x"]))
    assert str(llm_error).startswith(f"entity={LLMS} record={LLM_ID}: ")
    assert "general_prompt:" in llm_error.message and "general_tools.1:" in llm_error.message
    assert CAL_KEY not in str(llm_error)

    nameless = error_of(agent_summary_from_raw, {"agent_name": PRIVATE})
    assert nameless.record_id is None and nameless.message.startswith("agent_id:") and PRIVATE not in str(nameless)


@pytest.mark.parametrize(
    "parser", [agent_version_from_raw, agent_summary_from_raw, llm_from_raw, phone_number_from_raw]
)
def test_non_objects_are_rejected(parser):
    error = error_of(parser, [PRIVATE])
    assert error.message == "expected an object, got list" and PRIVATE not in str(error)


# ---- list responses -------------------------------------------------------------------------


def test_unwrap_list_shapes():
    assert unwrap_list([{"a": 1}], entity=AGENTS) == ([{"a": 1}], False, None)
    assert unwrap_list({"items": [], "has_more": False, "pagination_key": None}, entity=AGENTS) == ([], False, None)
    assert unwrap_list({"items": [1], "has_more": True, "pagination_key": "agent_x"}, entity=AGENTS) == (
        [1],
        True,
        "agent_x",
    )
    assert unwrap_list({"items": [1]}, entity=AGENTS) == ([1], False, None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "expected a JSON array or an object with 'items', got NoneType"),
        ("oops", "expected a JSON array or an object with 'items', got str"),
        (
            {"error_message": PRIVATE},
            "expected a JSON array or an object with 'items', got an object with keys 'error_message'",
        ),
        ({"items": {"a": PRIVATE}}, "items: expected an array, got dict"),
        ({"items": [], "has_more": "yes"}, "has_more: expected a boolean, got str"),
        ({"items": [], "has_more": False, "pagination_key": 5}, "pagination_key: expected a string, got int"),
        ({"items": [], "has_more": True, "pagination_key": None}, "pagination_key: missing although has_more is true"),
        ({"items": [], "has_more": True, "pagination_key": ""}, "pagination_key: missing although has_more is true"),
    ],
)
def test_unwrap_list_rejects_other_shapes(body, message):
    error = error_of(unwrap_list, body, entity=PHONE_NUMBERS)
    assert (error.entity, error.record_id, error.message) == (PHONE_NUMBERS, None, message)


# ---- redaction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apiKey",
        "APIKEY",
        "cal_api_key",
        "X-Api-Key",
        "secret",
        "clientSecret",
        "token",
        "access_token",
        "Authorization",
        "password",
        "auth_password",
        "credentials",
    ],
)
def test_secret_field_names(name):
    assert is_secret_name(name)
    assert redact_secrets({name: "plain-value"}) == {name: REDACTED}


@pytest.mark.parametrize(
    "name", ["llm_token_usage", "max_tokens", "pagination_key", "key", "event_type_id", "auth_username"]
)
def test_ordinary_field_names_are_kept(name):
    assert not is_secret_name(name)
    assert redact_secrets({name: "value"}) == {name: "value"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"use api key {CAL_KEY} please", f"use api key cal_live_{REDACTED} please"),
        ("test key cal_test_sim_praxis_stadtpark.", f"test key cal_test_{REDACTED}."),
        ("old key cal_" + "a1" * 16, f"old key cal_{REDACTED}"),
        (f"retell {RETELL_KEY}", f"retell key_{REDACTED}"),
        ("Authorization: Bearer eyJhbGciOi.abc-def_ghi", f"Authorization: Bearer {REDACTED}"),
        ("https://x.example/h?apiKey=abc&page=2", f"https://x.example/h?apiKey={REDACTED}&page=2"),
        (
            "https://r.example/a.wav?X-Amz-Signature=ab12&X-Amz-Date=1",
            f"https://r.example/a.wav?X-Amz-Signature={REDACTED}&X-Amz-Date=1",
        ),
        ("password: hunter2, then", f"password: {REDACTED}, then"),
        (
            "set client_secret=abc123 and cal_api_key: 'xyz'",
            f"set client_secret={REDACTED} and cal_api_key: '{REDACTED}'",
        ),
        (
            "cal_video and key_points and the bearer of news stay",
            "cal_video and key_points and the bearer of news stay",
        ),
    ],
)
def test_key_shaped_text_is_masked(text, expected):
    assert redact_secrets(text) == expected
    assert redact_secrets(expected) == expected


def test_redact_secrets_copies_and_keeps_structure():
    original = {"tools": ({"cal_api_key": CAL_KEY, "n": 1, "ok": True},), "secret": None, "has_token": False}
    redacted = redact_secrets(original)
    assert redacted == {"tools": [{"cal_api_key": REDACTED, "n": 1, "ok": True}], "secret": None, "has_token": False}
    assert original["tools"][0]["cal_api_key"] == CAL_KEY
    assert redact_secrets(3.5) == 3.5 and redact_secrets(None) is None


_KEYS = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=40).map(
    lambda body: "cal_live_" + body
)
_TEXT = st.text(max_size=20)


def _embedded(keys: list[str]):
    """Strings with a key pasted into arbitrary text, or a key alone."""
    return st.builds(lambda before, key, after: before + key + after, _TEXT, st.sampled_from(keys), _TEXT)


def _nested(keys: list[str]):
    leaves = st.one_of(_embedded(keys), _TEXT, st.integers(), st.booleans(), st.none())
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.one_of(_TEXT, _embedded(keys)), children, max_size=4),
        ),
        max_leaves=20,
    )


@given(st.lists(_KEYS, min_size=1, max_size=3).flatmap(lambda keys: st.tuples(st.just(keys), _nested(keys))))
def test_redact_secrets_never_leaves_a_cal_key(case):
    keys, value = case
    redacted = redact_secrets(value)
    dumped = json.dumps(redacted, ensure_ascii=False)
    for key in keys:
        assert key not in dumped
    assert redact_secrets(redacted) == redacted

"""Response-shape drift: what ShapeLog notes, and that its known shapes keep up with the pinned SDK."""

import pytest

from askpro_pipelines.drift import KEY, MISSING, SHAPES, VALUE, ShapeLog, describe, values_at

CALL = {
    "call_id": "call_1",
    "call_type": "phone_call",
    "agent_id": "agent_1",
    "agent_version": 3,
    "call_status": "ended",
    "disconnection_reason": "user_hangup",
}


def _unknown(log):
    return [r for r in log.rows() if not r["known"]]


def test_known_shapes_give_no_drift():
    log = ShapeLog("retell")
    assert list(log.watch("/v3/list-calls", [CALL, {**CALL, "call_id": "call_2"}])) == [
        CALL,
        {**CALL, "call_id": "call_2"},
    ]
    rows = log.rows()
    assert rows and not _unknown(log)
    status = next(r for r in rows if (r["kind"], r["field"], r["value"]) == (VALUE, "call_status", "ended"))
    assert (status["records"], status["example_record_id"]) == (2, "call_1")


def test_an_unknown_key_and_call_status_are_named_with_an_example():
    log = ShapeLog("retell")
    drifted = {**CALL, "call_id": "call_9", "call_status": "on_hold", "handoff_summary": "…"}
    list(log.watch("/v3/list-calls", [CALL, drifted, {**drifted, "call_id": "call_10"}]))
    unknown = {(r["kind"], r["field"], r["value"]): r for r in _unknown(log)}
    assert set(unknown) == {(KEY, "handoff_summary", ""), (VALUE, "call_status", "on_hold")}
    texts = [describe(r) for r in unknown.values()]
    assert "retell /v3/list-calls: unknown key 'handoff_summary' (e.g. call_9, 2 record(s))" in texts
    assert "retell /v3/list-calls: unknown call_status 'on_hold' (e.g. call_9, 2 record(s))" in texts


def test_a_missing_expected_key_and_nested_tool_types():
    log = ShapeLog("retell")
    llm = {
        "llm_id": "llm_1",
        "version": 2,
        "general_prompt": "Hallo",
        "last_modification_timestamp": 1,
        "general_tools": [{"type": "custom"}, {"type": "book_appointment_cal"}],
        "states": [{"name": "s", "tools": [{"type": "calendar_magic"}]}],
    }
    list(log.watch("/get-retell-llm/{llm_id}", [llm]))
    unknown = {(r["kind"], r["field"], r["value"]) for r in _unknown(log)}
    # The old Cal.com tools are known (accounts in transition); a new tool type is not; general_tools
    # is expected only at the top level, so its absence is named.
    assert unknown == {(VALUE, "states[].tools[].type", "calendar_magic")}
    list(log.watch("/get-retell-llm/{llm_id}", [{k: v for k, v in llm.items() if k != "general_prompt"}]))
    assert (MISSING, "general_prompt", "") in {(r["kind"], r["field"], r["value"]) for r in _unknown(log)}


def test_booking_status_compares_across_casings():
    log = ShapeLog("calcom")
    v1 = {
        "id": 1,
        "uid": "b1",
        "status": "AWAITING_HOST",
        "startTime": "x",
        "endTime": "y",
        "eventTypeId": 1,
        "userId": 1,
        "attendees": [],
    }
    list(log.watch("/v1/bookings", [v1, {**v1, "uid": "b2", "status": "NO_SHOW_PENDING"}]))
    unknown = _unknown(log)
    assert [(r["field"], r["value"], r["example_record_id"]) for r in unknown] == [("status", "no_show_pending", "b2")]


def test_version_items_name_their_agent():
    log = ShapeLog("retell")
    list(
        log.watch(
            "/list-agent-versions/{agent_id}",
            [{"version": 1, "is_published": True, "last_modification_timestamp": 1, "flavour": "x"}],
            "agent_7",
        )
    )
    (row,) = _unknown(log)
    assert row["example_record_id"] == "agent_7 version 1"


def test_values_at_walks_lists_and_objects():
    record = {"a": {"b": "x"}, "l": [{"t": "1"}, {"t": "2"}, "junk"], "n": None}
    assert list(values_at(record, "a.b")) == ["x"]
    assert list(values_at(record, "l[].t")) == ["1", "2"]
    assert list(values_at(record, "n.x")) == [] and list(values_at(record, "missing[].t")) == []


def _sdk_fields(model):
    return {info.alias or name for name, info in model.model_fields.items()}


def test_the_known_retell_keys_cover_the_pinned_sdk():
    """The SDK's response types are the reference for Retell's keys: a field it has must not warn."""
    pytest.importorskip("retell")
    from retell.types import agent_list_response, agent_list_versions_response
    from retell.types.agent_response import AgentResponse
    from retell.types.llm_response import LlmResponse
    from retell.types.phone_call_response import PhoneCallResponse
    from retell.types.phone_number_response import PhoneNumberResponse
    from retell.types.web_call_response import WebCallResponse

    expected = {
        "/v2/list-agents": agent_list_response.Item,
        "/list-agent-versions/{agent_id}": agent_list_versions_response.Item,
        "/get-agent/{agent_id}": AgentResponse,
        "/get-retell-llm/{llm_id}": LlmResponse,
        "/v2/list-phone-numbers": PhoneNumberResponse,
    }
    for endpoint, model in expected.items():
        assert _sdk_fields(model) <= SHAPES[("retell", endpoint)].known, endpoint
    for endpoint in ("/v3/list-calls", "/v2/get-call/{call_id}"):
        assert _sdk_fields(PhoneCallResponse) | _sdk_fields(WebCallResponse) <= SHAPES[("retell", endpoint)].known


def test_the_known_enum_values_are_the_pinned_sdks():
    """The models' enum sets equal the SDK's literals (plus the deprecated Cal.com tools we still read)."""
    pytest.importorskip("retell")
    import typing

    from retell.types.llm_response import GeneralTool
    from retell.types.phone_call_response import PhoneCallResponse

    from askpro_pipelines.models.calls import CALL_STATUSES, DISCONNECTION_REASONS
    from askpro_pipelines.models.retell import TOOL_TYPES

    def literal(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return set(typing.get_args(args[0]) if args and typing.get_origin(args[0]) is typing.Literal else args)

    assert literal(PhoneCallResponse.model_fields["call_status"].annotation) == CALL_STATUSES
    assert literal(PhoneCallResponse.model_fields["disconnection_reason"].annotation) == DISCONNECTION_REASONS
    members = typing.get_args(GeneralTool)
    if members and not isinstance(members[0], type):  # Annotated[Union[...], ...]
        members = typing.get_args(members[0])
    tools = {literal(m.model_fields["type"].annotation).pop() for m in members}
    assert tools == TOOL_TYPES

"""The call-analysis rules on transcripts written for the purpose (tests/fixtures/transcripts/).

Each fixture is one call: its retell_calls row, the transcript as stored, Retell's
`transcript_with_tool_calls` as the API sends it (parsed here by the pipeline's own model, so
unknown roles and redaction are covered too) and the analysis a person expects.
"""

import json
from pathlib import Path

import pytest

from askpro_pipelines.analytics.call_rules import (
    analyse_call,
    availability_outcome,
    booking_outcome,
    caller_turns,
    language_of,
    tool_kind,
)
from askpro_pipelines.models.calls import call_from_raw, tool_calls_of

FIXTURES = Path(__file__).parent.parent / "fixtures" / "transcripts"
CASES = sorted(FIXTURES.glob("*.json"))


def test_the_fixtures_cover_the_cases_the_rules_must_handle():
    names = {path.stem for path in CASES}
    for needed in (
        "de_legacy_booked",
        "en_custom_booked",
        "de_legacy_untyped_no_slot",
        "en_custom_tool_error",
        "de_transfer",
        "en_reschedule",
        "de_cancel",
        "en_question",
        "no_transcript",
        "de_silent",
        "en_abandoned",
    ):
        assert needed in names
    languages = {json.loads(path.read_text("utf-8"))["expected"]["language"] for path in CASES}
    assert {"de", "en", "unknown"} <= languages


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_each_fixture_call_is_analysed_as_expected(path):
    case = json.loads(path.read_text("utf-8"))
    tool_calls = tool_calls_of(case["transcript_with_tool_calls"])
    got = analyse_call(case["call"], case["transcript"], tool_calls, case.get("configured_tools"))
    assert got == case["expected"], case["about"]


def test_tool_calls_keep_invocations_and_results_in_order_and_skip_other_roles():
    case = json.loads((FIXTURES / "de_configured_tool_names.json").read_text("utf-8"))
    kept = tool_calls_of(case["transcript_with_tool_calls"])
    assert [(e["role"], e["tool_call_id"]) for e in kept] == [
        ("tool_call_invocation", "t1"),
        ("tool_call_result", "t1"),
        ("tool_call_invocation", "t2"),
        ("tool_call_result", "t2"),
    ]
    assert tool_calls_of(None) is None and tool_calls_of([]) == []
    assert tool_calls_of(["not an object", {"role": "sms", "content": "x", "time_sec": 1.0}]) == []


def test_secrets_in_tool_arguments_and_results_are_redacted_by_the_call_model():
    key = "cal_live_0123456789abcdef0123456789abcdef"
    raw = {
        "call_id": "call_secret",
        "transcript_with_tool_calls": [
            {
                "role": "tool_call_invocation",
                "tool_call_id": "t1",
                "name": "termin_buchen",
                "arguments": json.dumps({"start": "2026-11-27T10:00", "api_key": "plain-looking-value"}),
            },
            {"role": "tool_call_result", "tool_call_id": "t1", "content": f"error: key {key} rejected"},
        ],
    }
    call = call_from_raw(raw)
    stored = json.dumps(call.tool_calls)
    assert key not in stored and "plain-looking-value" not in stored
    assert json.loads(call.tool_calls[0]["arguments"])["start"] == "2026-11-27T10:00"


def test_caller_turns_read_the_user_lines_of_a_stored_transcript():
    text = "Agent: Guten Tag!\nUser: Ich hätte gern\neinen Termin.\nAgent: Gern.\nUser: Danke."
    assert caller_turns(text) == ["Ich hätte gern einen Termin.", "Danke."]
    assert caller_turns(None) == [] and caller_turns("") == []


def test_language_is_unknown_when_the_words_do_not_tell():
    assert language_of(["Ja, bitte."]) == "de"
    assert language_of(["Yes, please."]) == "en"
    assert language_of(["Okay."]) == "unknown"


@pytest.mark.parametrize(
    ("invocation", "expected"),
    [
        ({"name": "check_availability_cal"}, ("availability", "legacy_cal")),
        ({"name": "book_appointment_cal"}, ("booking", "legacy_cal")),
        ({"name": "pruefen", "type": "check_availability_cal"}, ("availability", "legacy_cal")),
        ({"name": "verfuegbarkeit_pruefen", "type": "custom"}, ("availability", "custom")),
        ({"name": "termin_buchen"}, ("booking", "custom")),
        ({"name": "end_call", "type": "end_call"}, ("other", None)),
        ({"name": "transfer_call", "type": "transfer_call"}, ("transfer", None)),
        ({"name": "lookup_customer", "type": "custom"}, ("other", None)),
    ],
)
def test_tool_kind_by_type_then_configuration_then_name(invocation, expected):
    assert tool_kind(invocation) == expected


def test_tool_results_read_in_both_generations_shapes():
    assert availability_outcome({"content": json.dumps({"slots": []})}) == "none"
    assert availability_outcome({"content": "Keine freien Termine an diesem Tag."}) == "none"
    assert availability_outcome({"content": "Available slots: 2026-11-27T10:00"}) == "found"
    assert availability_outcome({"content": "{}", "successful": False}) == "error"
    assert availability_outcome(None) is None
    assert booking_outcome({"content": json.dumps({"booking": {"uid": "u1"}})}) == ("booked", "u1")
    assert booking_outcome({"content": "Booking successful."}) == ("booked", None)
    assert booking_outcome({"content": "Error: slot not available"}) == ("no_slot", None)
    assert booking_outcome({"content": "Internal error", "successful": False}) == ("error", None)
    assert booking_outcome(None) == ("error", None)

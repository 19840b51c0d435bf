"""The one redaction module: stored payloads are redacted from the parsed body, and one log filter
masks every known secret (API keys registered by the HTTP client, the alert webhook URL)."""

import json
import logging
import sys

from hypothesis import example, given, settings
from hypothesis import strategies as st

from askpro_pipelines.redaction import (
    _LOWER_TO_ASCII_UTF8,
    MASK,
    REDACTED,
    SecretLogFilter,
    install_log_redaction,
    json_bytes_may_hold_secret,
    json_text_may_hold_secret,
    redact_known,
    redact_secrets,
    redacted_json,
    register_secret,
)
from askpro_pipelines.resources.alerts import _register_secret_url
from askpro_pipelines.resources.http import ResilientClient


def test_a_secret_behind_json_escapes_is_found_in_the_parsed_body():
    text = '{"note":"key \\u0063al_live_0123456789abcdef0123456789abcdef","n":1}'
    parsed = json.loads(text)
    stored = redacted_json(text, parsed)
    assert "0123456789abcdef0123456789abcdef" not in stored
    assert json.loads(stored) == {"note": f"key cal_live_{REDACTED}", "n": 1}


def test_a_body_without_secrets_keeps_its_bytes():
    text = '{ "a" : "Grüße\\u00e9", "b": [1, 2.50], "c": NaN }'
    assert redacted_json(text, json.loads(text)) is text


# Text built from pieces of needles and secret names, separators, escapes and letters that lower-case
# to ASCII (the Kelvin sign K is 'k' once lower-cased), so the generator often lands close to a match.
_PIECES = st.sampled_from(
    [
        "k",
        "e",
        "y",
        "ke",
        "ey",
        "_",
        "-",
        " ",
        ".",
        "\n",
        '"',
        "\\",
        "/",
        "=",
        "?",
        "api",
        "Api",
        "API",
        "tok",
        "en",
        "sec",
        "ret",
        "pass",
        "w",
        "ord",
        "bearer ",
        "cal_",
        "live_",
        "key_",
        "auth",
        "sig",
        "cred",
        "ential",
        "\u212a",
        "\u0130",
        "ß",
        "é",
        "Grüße",
        "x",
        "0123456789abcdef0123456789",
    ]
)
_TEXT = st.lists(_PIECES, max_size=8).map("".join)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=1500, deadline=None)
@given(_JSON, st.booleans())
@example({"X-Api-K_ey": "v"}, True)
@example({"to\u212aen": "v"}, False)
@example({"auth\norization": "v"}, True)  # an escape's letter must not split a needle-free name
@example({"pass\tphrase": "v"}, False)
@example({"note": "a\nkey_0123456789abcdef0123456789"}, True)
def test_the_text_precheck_never_skips_a_value_redaction_would_change(value, ensure_ascii):
    """The receiver skips the walk when the text shows no trace of a secret: that must be exact."""
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    if not json_text_may_hold_secret(text):
        assert redact_secrets(json.loads(text)) == json.loads(text)


@settings(max_examples=1500, deadline=None)
@given(_JSON, st.booleans())
@example({"to\u212aen": "v"}, False)
@example({"\u0130": "b\u0130"}, False)
@example({"auth\norization": "v"}, True)
def test_the_bytes_precheck_answers_as_the_text_precheck(value, ensure_ascii):
    """The receiver asks the raw body; the answer must be the text's, escapes and Unicode included."""
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    assert json_bytes_may_hold_secret(text.encode("utf-8", "surrogatepass")) == json_text_may_hold_secret(text)


def test_only_two_characters_lower_case_into_ascii():
    """The bytes precheck sends exactly these to the text path; a Unicode update adding one must fail here."""
    found = [
        chr(code)
        for code in range(128, sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF and any(ord(c) < 128 for c in chr(code).lower())
    ]
    assert [c.encode() for c in found] == list(_LOWER_TO_ASCII_UTF8)


def test_the_text_precheck_lets_ordinary_bodies_skip_the_walk():
    call = {"event": "call_ended", "call": {"call_id": "c1", "transcript": "Agent: Guten Tag\nUser: Hallo"}}
    assert not json_text_may_hold_secret(json.dumps(call))
    assert json_text_may_hold_secret(json.dumps({"call": {"Api_Key": "x"}}))
    assert json_text_may_hold_secret(json.dumps({"url": "https://h.test/?sig=abc"}))
    assert json_text_may_hold_secret('{"n":"\\u006bey_0123456789abcdef0123456789"}')


def test_one_filter_masks_client_keys_and_the_alert_webhook_url(caplog):
    key = "cal_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    ResilientClient(base_url="http://127.0.0.1:9", tenant="t", api="calcom", secrets=[key]).close()
    hook = "https://hooks.example.test/services/T0/B0/alert-secret-1a2b"
    shown = _register_secret_url(hook)
    install_log_redaction()
    assert sum(isinstance(f, SecretLogFilter) for f in logging.getLogger("httpx").filters) == 1

    caplog.set_level(logging.INFO, logger="httpx")
    logging.getLogger("httpx").info("GET %s?apiKey=%s and %s then %s", "https://api.cal.com/v1/me", "x1", key, hook)
    (record,) = [r for r in caplog.records if r.name == "httpx"]
    message = record.getMessage()
    assert key not in message and "alert-secret-1a2b" not in message and "x1" not in message
    assert f"then {shown}" in message and MASK in message


def test_redact_known_covers_registered_and_given_secrets():
    register_secret("smtp-registered-pw")
    text = redact_known("login failed for pw smtp-registered-pw / other-pw at https://x.test/p?token=abc")
    assert text == "login failed for pw *** / other-pw at https://x.test/p?token=***"
    assert redact_known("other-pw", ["other-pw"]) == MASK

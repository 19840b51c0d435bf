"""Signature checks against the providers' published vectors, and every way a delivery can be forged."""

import json

import pytest

from askpro_pipelines.webhooks.signatures import (
    calcom_signature,
    retell_rejection,
    retell_signature,
    verify_calcom,
    verify_retell,
)
from tests.fixtures import api_example
from tests.fixtures import api_example_bytes as _body

CALCOM_VECTORS = api_example("calcom_webhook_signature_test_vectors.json")
RETELL_VECTORS = api_example("retell_webhook_signature_test_vectors.json")


@pytest.mark.parametrize("vector", CALCOM_VECTORS["vectors"], ids=lambda v: v["body_file"])
def test_calcom_vectors_verify(vector):
    body = _body(vector["body_file"])
    header = vector["headers"]["X-Cal-Signature-256"]
    assert calcom_signature(CALCOM_VECTORS["webhook_secret"], body) == header
    assert verify_calcom(body, header, CALCOM_VECTORS["webhook_secret"])


@pytest.mark.parametrize("vector", RETELL_VECTORS["vectors"], ids=lambda v: v["body_file"])
def test_retell_vectors_verify_near_their_timestamp(vector):
    body = _body(vector["body_file"])
    header = vector["headers"]["x-retell-signature"]
    ts = vector["timestamp_ms"]
    assert retell_signature(RETELL_VECTORS["api_key"], body, ts) == header
    for now in (ts, ts - 299_000, ts + 300_000):
        assert verify_retell(body, header, RETELL_VECTORS["api_key"], now_ms=now)


def test_retell_sdk_vector():
    """The vector from Retell's TypeScript SDK tests (README §6)."""
    header = retell_signature("test-api-key", b'{"event":"call_ended"}', 1700000000000)
    assert header == "v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e"


def _one_byte_changed(body: bytes) -> bytes:
    index = body.index(b'"uid"') if b'"uid"' in body else body.index(b'"call_id"')
    return body[: index + 2] + bytes([body[index + 2] ^ 0x01]) + body[index + 3 :]


@pytest.mark.parametrize("tamper", [_one_byte_changed, lambda b: b + b"\n", lambda b: b" " + b])
@pytest.mark.parametrize("vector", CALCOM_VECTORS["vectors"], ids=lambda v: v["body_file"])
def test_calcom_tampered_body_fails(vector, tamper):
    body = _body(vector["body_file"])
    assert not verify_calcom(tamper(body), vector["headers"]["X-Cal-Signature-256"], CALCOM_VECTORS["webhook_secret"])


def test_calcom_bad_headers_and_keys_fail():
    vector = CALCOM_VECTORS["vectors"][0]
    body = _body(vector["body_file"])
    header = vector["headers"]["X-Cal-Signature-256"]
    secret = CALCOM_VECTORS["webhook_secret"]
    assert not verify_calcom(body, header, secret + "x")
    assert not verify_calcom(body, header, "")
    assert not verify_calcom(body, None, secret)
    assert not verify_calcom(body, "", secret)
    assert not verify_calcom(body, "no-secret-provided", secret)
    assert not verify_calcom(body, "sha256=" + header, secret)
    assert not verify_calcom(body, header[:-1] + ("0" if header[-1] != "0" else "1"), secret)
    assert not verify_calcom(body, header[:32], secret)
    assert not verify_calcom(body, "ä" * 64, secret)  # non-ASCII header: no exception, just False


@pytest.mark.parametrize("tamper", [_one_byte_changed, lambda b: b + b"\n"])
@pytest.mark.parametrize("vector", RETELL_VECTORS["vectors"], ids=lambda v: v["body_file"])
def test_retell_tampered_body_fails(vector, tamper):
    body = _body(vector["body_file"])
    header = vector["headers"]["x-retell-signature"]
    assert not verify_retell(tamper(body), header, RETELL_VECTORS["api_key"], now_ms=vector["timestamp_ms"])


def test_umlauts_reencoded_fail_for_both_providers():
    """A framework that decoded the body as latin-1 and re-encoded it as UTF-8 breaks every signature."""
    calcom = CALCOM_VECTORS["vectors"][0]
    body = _body(calcom["body_file"])
    assert "ü".encode() in body
    reencoded = body.decode("latin-1").encode("utf-8")
    assert not verify_calcom(reencoded, calcom["headers"]["X-Cal-Signature-256"], CALCOM_VECTORS["webhook_secret"])

    retell = next(v for v in RETELL_VECTORS["vectors"] if not _body(v["body_file"]).isascii())
    body = _body(retell["body_file"])
    reencoded = body.decode("latin-1").encode("utf-8")
    header = retell["headers"]["x-retell-signature"]
    assert verify_retell(body, header, RETELL_VECTORS["api_key"], now_ms=retell["timestamp_ms"])
    assert not verify_retell(reencoded, header, RETELL_VECTORS["api_key"], now_ms=retell["timestamp_ms"])


def test_retell_wrong_key_expired_and_malformed_headers_fail():
    vector = RETELL_VECTORS["vectors"][1]
    body = _body(vector["body_file"])
    header = vector["headers"]["x-retell-signature"]
    key = RETELL_VECTORS["api_key"]
    ts = vector["timestamp_ms"]
    digest = header.split(",d=")[1]

    assert not verify_retell(body, header, key + "0", now_ms=ts)
    assert not verify_retell(body, header, "", now_ms=ts)
    # Expired and from the future, just outside the 5 minutes.
    assert retell_rejection(body, header, key, now_ms=ts + 300_001) == "signature timestamp outside the 300 s tolerance"
    assert not verify_retell(body, header, key, now_ms=ts - 300_001)
    # Without an explicit now the real clock applies, and the vectors are far from it.
    assert not verify_retell(body, header, key)
    # A replayed digest under a fresh timestamp does not verify.
    assert not verify_retell(body, f"v={ts + 1000},d={digest}", key, now_ms=ts)
    malformed = [
        None,
        "",
        digest,
        f"d={digest},v={ts}",
        f"v={ts},d={digest.upper()}",
        f"v={ts},d={digest} ",
        f" v={ts},d={digest}",
        f"v={ts},d={digest}\n",
        f"v={ts},d={digest},x=1",
        f"v=,d={digest}",
        f"v={ts},d={digest[:-1]}",
        f"v=١٧{ts},d={digest}",  # non-ASCII digits
        f"v={'9' * 5000},d={digest}",  # huge number: no int-conversion error
    ]
    for bad in malformed:
        assert not verify_retell(body, bad, key, now_ms=ts), bad
    assert retell_rejection(body, None, key, now_ms=ts) == "missing x-retell-signature header"
    assert retell_rejection(body, digest, key, now_ms=ts) == "malformed x-retell-signature header"


def test_retell_signature_covers_raw_bytes_with_umlauts():
    body = '{"event":"call_ended","call":{"call_id":"c1","transcript":"Grüße aus Köln"}}'.encode()
    header = retell_signature("key_x", body, 1_000)
    assert verify_retell(body, header, "key_x", now_ms=1_000)
    assert not verify_retell(body.decode().encode("utf-16"), header, "key_x", now_ms=1_000)
    escaped = json.dumps(json.loads(body), separators=(",", ":")).encode()  # ensure_ascii re-serialisation
    assert not verify_retell(escaped, header, "key_x", now_ms=1_000)

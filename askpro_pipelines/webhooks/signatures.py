"""Webhook signature checks for Cal.com and Retell, over the raw request bytes.

Both providers sign the exact bytes they send; re-serialised JSON (or a body decoded and encoded
again, which changes umlauts in German transcripts) no longer verifies. Comparisons are constant
time so a caller cannot learn the expected digest byte by byte.
"""

import hashlib
import hmac
import re
import time

# Cal.com puts this literal in X-Cal-Signature-256 when the subscription has no secret.
CALCOM_NO_SECRET = "no-secret-provided"
RETELL_TOLERANCE_MS = 300_000

_RETELL_HEADER = re.compile(r"v=([0-9]{1,20}),d=([0-9a-f]{64})")


def _header_bytes(header: str) -> bytes:
    # The receiver decodes headers as latin-1 (as HTTP has them); a non-ASCII header must still compare (and fail) in constant time.
    return header.encode("utf-8", "surrogateescape")


def calcom_signature(secret: str, body: bytes) -> str:
    """The X-Cal-Signature-256 value Cal.com sends: lower-case hex HMAC-SHA256 of the body, no prefix."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_calcom(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is Cal.com's signature of exactly these bytes under `secret`."""
    if not header or not secret or header == CALCOM_NO_SECRET:
        return False
    return hmac.compare_digest(calcom_signature(secret, body).encode("ascii"), _header_bytes(header))


def retell_signature(api_key: str, body: bytes, timestamp_ms: int) -> str:
    """The x-retell-signature value: `v=<ts>,d=<hex HMAC-SHA256(api_key, body + str(ts))>`."""
    digest = hmac.new(api_key.encode("utf-8"), body + str(timestamp_ms).encode("ascii"), hashlib.sha256).hexdigest()
    return f"v={timestamp_ms},d={digest}"


def retell_rejection(
    body: bytes,
    header: str | None,
    api_key: str,
    now_ms: int | None = None,
    tolerance_ms: int = RETELL_TOLERANCE_MS,
) -> str | None:
    """Why a Retell signature does not verify (safe to log: never the header or key), or None when it does."""
    if not header:
        return "missing x-retell-signature header"
    if not api_key:
        return "no API key to verify with"
    match = _RETELL_HEADER.fullmatch(header)
    if match is None:
        return "malformed x-retell-signature header"
    timestamp_ms = int(match.group(1))
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if abs(now - timestamp_ms) > tolerance_ms:
        return f"signature timestamp outside the {tolerance_ms // 1000} s tolerance"
    expected = retell_signature(api_key, body, timestamp_ms).encode("ascii")
    if not hmac.compare_digest(expected, _header_bytes(header)):
        return "signature mismatch"
    return None


def verify_retell(
    body: bytes,
    header: str | None,
    api_key: str,
    now_ms: int | None = None,
    tolerance_ms: int = RETELL_TOLERANCE_MS,
) -> bool:
    """Whether `header` is a fresh Retell signature of exactly these bytes under `api_key`.

    The header must match `v=<digits>,d=<64 lower-case hex>` as a whole (like the tightened
    Python SDK), and the timestamp must be within `tolerance_ms` of `now_ms` (default: the clock).
    """
    return retell_rejection(body, header, api_key, now_ms, tolerance_ms) is None

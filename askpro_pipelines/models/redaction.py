"""Mask secrets inside JSON-like values before they reach logs or the warehouse.

Retell LLM configs carry Cal.com API keys (the built-in Cal tools have a `cal_api_key` field) and
prompts are free text an operator may have pasted a key into. Known secrets (the tenant's own keys)
are handled by `resources.http.redact`; this module catches secrets nobody told us about, by the
name of the field that holds them and by the shape of well-known key formats inside any string.
"""

import functools
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***redacted***"

# A field is secret when its name, lower-cased with separators removed, ends with one of these:
# `cal_api_key`, `apiKey`, `X-Api-Key`, `access_token`, `clientSecret`, `auth_password` all match,
# while `llm_token_usage`, `max_tokens`, `pagination_key` and a filter's `key` do not.
_SECRET_NAME_SUFFIXES = (
    "apikey",
    "apikeys",
    "accesskey",
    "secretkey",
    "privatekey",
    "signingkey",
    "token",
    "secret",
    "secrets",
    "password",
    "passwd",
    "passphrase",
    "authorization",
    "credential",
    "credentials",
)

# Secret-looking text inside strings. Each pattern keeps a harmless prefix so a reader still sees
# what kind of secret was there; the masked text no longer matches, so redaction is idempotent.
_STRING_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Cal.com keys: cal_live_<hex> / cal_test_<...>; no word boundary, so a key glued to text is found too.
    (re.compile(r"(cal_(?:live|test)_)[A-Za-z0-9][A-Za-z0-9_\-]*"), r"\g<1>" + REDACTED),
    # Older Cal.com keys are cal_<32 hex>; 20+ characters keeps ordinary words such as "cal_video" out.
    (re.compile(r"(?<![A-Za-z0-9])(cal_)[A-Za-z0-9]{20,}"), r"\g<1>" + REDACTED),
    # Retell API keys: key_<hex>.
    (re.compile(r"(?<![A-Za-z0-9])(key_)[A-Za-z0-9]{20,}"), r"\g<1>" + REDACTED),
    # HTTP bearer credentials (RFC 6750 token68 characters); 8+ characters so "bearer of" survives.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\g<1>" + REDACTED),
    # Secrets in URL query strings (webhook and custom-tool URLs, signed recording URLs): any parameter
    # whose name ends like a credential, so `apiKey`, `access_token`, `client_secret`, `X-Amz-Signature`.
    (
        re.compile(
            r"(?i)([?&][A-Za-z0-9_.\-]*(?:key|token|secret|password|passwd|auth|signature|sig)=)[^&#\s\"'<>]+"
        ),
        r"\g<1>" + REDACTED,
    ),
    # "api_key: abc", "client_secret=abc", "password = abc" written into free text such as a prompt.
    (
        re.compile(
            r"(?i)(?<![A-Za-z0-9])((?:api[_\- ]?key|access[_\- ]?token|secret|password|passwd)\s*[:=]\s*[\"']?)"
            r"(?!\*\*\*redacted)[^\s\"',;&]+"
        ),
        r"\g<1>" + REDACTED,
    ),
)


# What each pattern needs to be present (in the lower-cased text) before it can match. Checking
# with `in` first skips most regex scans: redaction was the receiver's and the sync's biggest
# CPU cost (py-spy, benchmarks/RESULTS.md), and most strings contain none of these.
_GATES: tuple[tuple[str, ...], ...] = (
    ("cal_live_", "cal_test_"),
    ("cal_",),
    ("key_",),
    ("bearer",),
    ("=",),
    ("key", "token", "secret", "passw"),
)


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field of this name holds a credential, whatever its casing or separators."""
    squashed = re.sub(r"[^a-z0-9]", "", name.lower())
    return squashed.endswith(_SECRET_NAME_SUFFIXES)


# The fewest needles that cover every gate ("key" covers "key_"): most strings (names, ids, transcripts
# without secrets) hold none and return after these few substring scans. (One case-insensitive regex
# alternation instead was 6x slower on a 1 KB transcript.)
_ALL_NEEDLES = tuple(
    sorted({n for needs in _GATES for n in needs if not any(m != n and m in n for gate in _GATES for m in gate)})
)


def redact_text(text: str) -> str:
    """Mask key-shaped substrings (Cal.com and Retell keys, bearer tokens, key=value secrets)."""
    lowered = text.lower()
    for needle in _ALL_NEEDLES:
        if needle in lowered:
            break
    else:
        return text
    for (pattern, replacement), needs in zip(_STRING_PATTERNS, _GATES):
        if any(needle in lowered for needle in needs):
            text = pattern.sub(replacement, text)
    return text


def redact_secrets(value: Any) -> Any:
    """A deep copy of a JSON-like value with secrets masked, safe to store or log.

    Values under secret-looking field names become REDACTED (None and booleans are kept: they hide
    nothing and tell whether a secret is set); every other string, including dictionary keys, has
    key-shaped substrings masked. Tuples come back as lists; other scalars are returned unchanged.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        copy: dict[Any, Any] = {}
        for key, item in value.items():
            secret = isinstance(key, str) and is_secret_name(key) and item is not None and not isinstance(item, bool)
            copy[_redact_key(key) if isinstance(key, str) else key] = REDACTED if secret else redact_secrets(item)
        return copy
    if isinstance(value, list | tuple):
        return [redact_secrets(item) for item in value]
    return value


# Field names repeat across records; their redaction is cached like `is_secret_name`.
_redact_key = functools.lru_cache(maxsize=4096)(redact_text)

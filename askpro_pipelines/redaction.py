"""The one place secrets are hidden, for logs, errors, metadata, stored payloads and the receiver.

Two kinds of secret:

- **Unknown ones** (keys nobody told us about): found by the name of the field holding them and by
  the shape of well-known key formats inside any string (`redact_secrets`, `redact_text`). Retell
  LLM configs carry Cal.com keys (`cal_api_key`), prompts are free text a key may be pasted into.
- **Known ones** (a tenant's API keys, the alert webhook URL, the SMTP password): masked wherever
  they occur (`redact`, `redact_known`), and in query strings by parameter name (`redact_url`).
  Every known secret is registered here, and the one log filter (`SecretLogFilter`) masks all of
  them in the records of the HTTP libraries, which log request URLs at INFO.
"""

import functools
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, overload

REDACTED = "***redacted***"
MASK = "***"  # what a known secret becomes

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

_SECRET_NAME_SUFFIX_BYTES = tuple(suffix.encode("ascii") for suffix in _SECRET_NAME_SUFFIXES)

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
        re.compile(r"(?i)([?&][A-Za-z0-9_.\-]*(?:key|token|secret|password|passwd|auth|signature|sig)=)[^&#\s\"'<>]+"),
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
    for (pattern, replacement), needs in zip(_STRING_PATTERNS, _GATES, strict=True):
        if any(needle in lowered for needle in needs):
            text = pattern.sub(replacement, text)
    return text


@overload
def redact_secrets(value: str) -> str: ...
@overload
def redact_secrets(value: None) -> None: ...
@overload
def redact_secrets(value: Any) -> Any: ...
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


# JSON string escapes other than \u: each stands for one character that is never a letter, digit,
# '_' or '=' (a quote, backslash, slash or control character), i.e. never part of a needle or a name.
_SIMPLE_ESCAPE = re.compile(r"\\.")
_NOT_ALNUM_BYTES = bytes(b for b in range(128) if not (48 <= b <= 57 or 97 <= b <= 122))


def json_text_may_hold_secret(text: str) -> bool:
    """False only when `redact_secrets(json.loads(text))` surely changes nothing; cheap on the text.

    Walking a parsed Retell call (word-level transcript: thousands of small objects) cost ~0.3 ms,
    the receiver's largest CPU item. Both of redaction's triggers are visible in the text itself:
    every string and key it could change holds a needle of `redact_text` (checked in the whole text,
    lower-cased as `redact_text` does), and a secret field name is a key that, lower-cased with
    non-alphanumerics removed, ends with a secret suffix (checked in the whole text squashed the
    same way, where each key's squashed form is a substring). Simple escapes are blanked first
    (their character is never part of a needle or a name); a `\\u` escape can spell any letter,
    so a text holding one always takes the full walk. Neighbouring strings can only add matches:
    a False is exact, a True merely means "walk it".
    """
    if "\\u" in text:
        return True
    lowered = text.lower()
    if "\\" in lowered:
        lowered = _SIMPLE_ESCAPE.sub(" ", lowered)
    if any(needle in lowered for needle in _ALL_NEEDLES):
        return True
    # After lower(), as in is_secret_name (which also drops non-ASCII: 'ß' is no letter a-z).
    squashed = lowered.encode("ascii", "ignore").translate(None, _NOT_ALNUM_BYTES)
    return any(suffix in squashed for suffix in _SECRET_NAME_SUFFIX_BYTES)


# The only characters outside ASCII whose str.lower() holds an ASCII letter ('İ' -> 'i̇', Kelvin 'K' -> 'k'),
# as UTF-8 (tests/test_redaction.py checks the list against every code point). Bytes without them
# lower-case like their text, which lets the receiver look at the raw body without decoding it.
_LOWER_TO_ASCII_UTF8 = ("\u0130".encode(), "\u212a".encode())
_SIMPLE_ESCAPE_BYTES = re.compile(rb"\\.")
_NOT_ASCII_ALNUM_BYTES = _NOT_ALNUM_BYTES + bytes(range(128, 256))
_ALL_NEEDLE_BYTES = tuple(needle.encode("ascii") for needle in _ALL_NEEDLES)


def json_bytes_may_hold_secret(body: bytes) -> bool:
    """`json_text_may_hold_secret` of UTF-8 bytes, without decoding them: same answer, 5x cheaper.

    `str.lower()` on German text runs per character (~55 µs for a 4 KB transcript); `bytes.lower()`
    touches ASCII only, which is all a needle or a secret name can be made of, except for the two
    characters that lower-case into ASCII: a body holding one takes the text path.
    """
    if any(special in body for special in _LOWER_TO_ASCII_UTF8):
        return json_text_may_hold_secret(body.decode("utf-8", "surrogatepass"))
    if b"\\u" in body:
        return True
    lowered = body.lower()
    if b"\\" in lowered:
        lowered = _SIMPLE_ESCAPE_BYTES.sub(b" ", lowered)
    if any(needle in lowered for needle in _ALL_NEEDLE_BYTES):
        return True
    squashed = lowered.translate(None, _NOT_ASCII_ALNUM_BYTES)
    return any(suffix in squashed for suffix in _SECRET_NAME_SUFFIX_BYTES)


def redacted_json(text: str, parsed: Any, *, may_hold_secret: bool | None = None) -> str:
    """What to store of a JSON body already parsed: its own text when the parsed value holds no
    secret (the provider's bytes, escapes and all), else the redacted value re-serialised.

    The redaction runs on the parsed value, never on the text, so a secret cannot hide behind
    JSON escapes (`json_text_may_hold_secret` only skips the walk when the text proves it moot).
    Non-ASCII stays readable unless the body holds an unpaired surrogate, which only an escape
    can carry into a UTF-8 column. `may_hold_secret` is the precheck's answer when the caller
    already has it (the receiver asks `json_bytes_may_hold_secret` of the raw body).
    """
    if not (json_text_may_hold_secret(text) if may_hold_secret is None else may_hold_secret):
        return text
    redacted = redact_secrets(parsed)
    if redacted == parsed or json.dumps(redacted) == json.dumps(parsed):  # the second: NaN != NaN
        return text
    serialised = json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))
    try:
        serialised.encode("utf-8")
    except UnicodeEncodeError:
        serialised = json.dumps(redacted, separators=(",", ":"))
    return serialised


def redact_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    """`redact_secrets` for an object (a JSON object's copy is always a dict)."""
    redacted: dict[str, Any] = redact_secrets(value)
    return redacted


# Field names repeat across records; their redaction is cached like `is_secret_name`.
_redact_key = functools.lru_cache(maxsize=4096)(redact_text)


# ---- known secrets ---------------------------------------------------------------------------

SENSITIVE_QUERY_PARAMS = frozenset({"apikey", "api_key", "key", "token", "secret"})

# `?name=value` / `&name=value` for the sensitive names anywhere in a text, so it works on bare
# URLs and on whole log messages that merely contain one.
_SENSITIVE_QUERY_RE = re.compile(
    r"(?i)([?&](?:" + "|".join(re.escape(name) for name in sorted(SENSITIVE_QUERY_PARAMS)) + r")=)[^&#\s\"'<>]*"
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret with MASK, longest first (so a secret
    that contains another is masked whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_url(url: object) -> str:
    """Mask the values of apiKey/api_key/key/token/secret query parameters (any case).

    Works on text rather than a parsed URL so the rest of the URL is left byte-for-byte intact.
    """
    return _SENSITIVE_QUERY_RE.sub(rf"\g<1>{MASK}", str(url))


class _Registry:
    """Known secrets of this process and what each is shown as; replaced whole on change (never
    mutated), so logging threads read it without the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.replacements: dict[str, str] = {}
        self.ordered: tuple[tuple[str, str], ...] = ()

    def add(self, secret: str, shown: str) -> None:
        if not secret:
            return
        with self._lock:
            if self.replacements.get(secret) != shown:
                self.replacements = {**self.replacements, secret: shown}
                self.ordered = tuple(sorted(self.replacements.items(), key=lambda item: len(item[0]), reverse=True))


_registry = _Registry()


def register_secret(secret: str, shown: str = MASK) -> None:
    """Make the log filter and `redact_known` mask `secret` (as `shown`) from now on."""
    _registry.add(secret, shown)


def redact_known(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask secret query values, every registered secret, and `secrets` in `text` (errors, metadata)."""
    text = redact_url(text)
    for secret, shown in _registry.ordered:
        if secret in text:
            text = text.replace(secret, shown)
    return redact(text, secrets)


class SecretLogFilter(logging.Filter):
    """Rewrites log records so they carry no known secret and no secret query value."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's problem, not ours to hide
            return True
        masked = redact_known(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_log_filter = SecretLogFilter()

# Logger filters do not apply to records propagated from child loggers, and httpcore logs through
# children, so each one is covered explicitly.
FILTERED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def install_log_redaction() -> None:
    """Attach the one secret filter to the HTTP libraries' loggers (once per logger)."""
    for name in FILTERED_LOGGERS:
        target = logging.getLogger(name)
        if _log_filter not in target.filters:
            target.addFilter(_log_filter)

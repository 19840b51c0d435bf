"""JSON decoding for API bodies and JSON columns: orjson where it is exact, the standard library otherwise.

A large sync decodes ~60 MB of API JSON and re-reads JSON columns; orjson does that about 3x faster.
It differs from the standard library in what it accepts: it refuses NaN/Infinity and non-UTF-8 text,
and turns an integer beyond 64 bits into a float. Those inputs go to the standard library, so
nothing is decoded differently than before, only faster.
"""

import json
from typing import Any

import orjson

# 19+ digits in a row could be an integer beyond 64 bits (orjson would make it a float). Found by
# mapping digits to NUL (which valid JSON text never holds raw) and a substring search: a regex scan
# for the same run took 5x longer than orjson's whole decode.
_DIGITS_TO_NUL = bytes.maketrans(b"0123456789", b"\0" * 10)
_LONG_RUN = b"\0" * 19


def _may_hold_big_integers(content: bytes) -> bool:
    return _LONG_RUN in content.translate(_DIGITS_TO_NUL)


def loads_json(content: bytes | str) -> Any:
    """The decoded value; ValueError (json.JSONDecodeError) when it is not JSON."""
    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if not _may_hold_big_integers(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(content)

"""JSON decoding for API bodies and JSON columns: orjson where it is exact, the standard library otherwise.

A large sync decodes ~60 MB of API JSON and re-reads JSON columns; orjson does that about 3x faster.
It differs from the standard library in what it accepts: it refuses NaN/Infinity and non-UTF-8 text,
and turns an integer beyond 64 bits into a float. Those inputs go to the standard library, so
nothing is decoded differently than before, only faster.
"""

import json
import re
from typing import Any

import orjson

# 19+ digits in a row could be an integer beyond 64 bits (orjson would make it a float).
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}")
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def loads_json(content: bytes | str) -> Any:
    """The decoded value; ValueError (json.JSONDecodeError) when it is not JSON."""
    long_digits = _LONG_DIGITS_BYTES if isinstance(content, bytes) else _LONG_DIGITS_TEXT
    if long_digits.search(content) is None:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    return json.loads(content)

"""Value converters shared by the raw-shape models, for use as pydantic `PlainValidator`s.

The raw models validate in strict mode, so every value a provider sends in a looser shape than
pydantic's own types (versions typed as floats, ids as ints or strings, epoch milliseconds,
padded strings) is converted here, once. Failures raise `PydanticCustomError`, so `validate_record`
can report them with their field path; messages never echo text from the payload.

Retell config records and Retell calls report a bad number differently, and both wordings are
relied on: the `*_showing_number` converters name the rejected number (numbers hold no personal
data), the `*_hiding_number` ones only say what kind of value was wrong.
"""

import datetime
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


# ---- whole numbers --------------------------------------------------------------------------


def whole_number(value: Any) -> int | None:
    """An int, or a float with no fractional part (Retell's schema types some ints as floats).

    None for anything else, booleans included: strict mode would otherwise accept True as 1.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def number_repr(value: Any) -> str:
    """Numbers are safe to show in errors; anything else is named by type only."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return f"a {type(value).__name__}"


def as_version_showing_number(value: Any) -> int:
    """A non-negative whole version; the error names the rejected number (Retell config records)."""
    number = whole_number(value)
    if number is None or number < 0:
        raise PydanticCustomError(
            "version",
            "Input should be a non-negative whole number, got {value}",
            {"value": number_repr(value)},
        )
    return number


def count_hiding_number(kind: str, unit: str) -> Callable[[Any], int]:
    """A validator for a non-negative whole number of `unit`; errors say what was wrong, never the value.

    `kind` becomes the pydantic error type, so each use keeps its own name (version, duration_ms, ...).
    """

    def validate(value: Any) -> int:
        number = whole_number(value)
        if number is not None and number >= 0:
            return number
        if number is not None:
            problem = "a negative number"
        elif isinstance(value, float):
            problem = "a fraction or a non-finite number"
        else:
            problem = f"a {type(value).__name__}"
        raise PydanticCustomError(
            kind,
            "Input should be a non-negative whole number of {unit}, got {problem}",
            {"unit": unit, "problem": problem},
        )

    return validate


# ---- instants -------------------------------------------------------------------------------


def utc_from_ms_showing_number(value: Any) -> datetime.datetime:
    """Epoch milliseconds as a tz-aware UTC datetime; the error names the rejected number."""
    number = whole_number(value)
    try:
        if number is not None and number >= 0:
            return _EPOCH + datetime.timedelta(milliseconds=number)
    except OverflowError:
        pass
    raise PydanticCustomError(
        "timestamp_ms",
        "Input should be milliseconds since the epoch, got {value}",
        {"value": number_repr(value)},
    )


_as_millis = count_hiding_number("timestamp_ms", "milliseconds since the epoch")


def utc_from_ms_hiding_number(value: Any) -> datetime.datetime:
    """Epoch milliseconds as a tz-aware UTC datetime; the error says what was wrong, never the value."""
    millis = _as_millis(value)
    try:
        return _EPOCH + datetime.timedelta(milliseconds=millis)
    except OverflowError:
        raise PydanticCustomError(
            "timestamp_ms", "Input should be milliseconds since the epoch, out of range"
        ) from None


def aware_utc(value: datetime.datetime | None) -> datetime.datetime | None:
    """The instant in UTC, refusing naive datetimes.

    The warehouse would read a naive datetime in the server's zone; only instants are allowed.
    """
    if value is None:
        return None
    if value.utcoffset() is None:
        raise ValueError("must be timezone-aware")
    return value.astimezone(datetime.UTC)


# ---- strings --------------------------------------------------------------------------------


def stripped_string(kind: str, message: str) -> Callable[[Any], str]:
    """A validator for a string that is not blank, returned stripped; `kind` and `message` name the error.

    Stripping makes " abc" and "abc" the same key; an int is refused, so a numeric id sent in the
    place of a string one (a booking id for a uid) fails by name instead of being converted.
    """

    def validate(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise PydanticCustomError(kind, message)
        return value.strip()

    return validate


# Retell ids are always strings.
as_string_id = stripped_string("id_type", "Input should be a non-empty string id")


def as_int_or_string_id(value: Any) -> str:
    """A Cal.com id: ints and strings both occur (some deployments use UUIDs), stored as stripped text."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise PydanticCustomError("id_type", "Input should be a non-empty integer or string id")
    return str(value).strip()


def text_or_none(value: str | None) -> str | None:
    """Empty strings carry nothing; store None so "" and null compare equal across API versions."""
    return (value.strip() or None) if isinstance(value, str) else None


# ---- annotated types ------------------------------------------------------------------------

StringId = Annotated[str, PlainValidator(as_string_id)]
IntOrStringId = Annotated[str, PlainValidator(as_int_or_string_id)]
VersionShowingNumber = Annotated[int, PlainValidator(as_version_showing_number)]
VersionHidingNumber = Annotated[int, PlainValidator(count_hiding_number("version", "versions"))]
MillisShowingNumber = Annotated[datetime.datetime, PlainValidator(utc_from_ms_showing_number)]
MillisHidingNumber = Annotated[datetime.datetime, PlainValidator(utc_from_ms_hiding_number)]

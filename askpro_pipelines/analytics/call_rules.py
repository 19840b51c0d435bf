"""What a call was about, from its transcript and tool calls: pure, deterministic rules.

`analyse_call` turns one `retell_calls` row, its transcript, its tool calls and Retell's own
post-call analysis into the rule-based part of a `call_analysis` row (the README's "Call
analysis" section states the rules for users):

- **intent** (book | reschedule | cancel | question | other): a booking or availability tool call
  means `book`; otherwise German and English keywords in the caller's turns, checked in the order
  cancel, reschedule, book, question. Outbound calls are `other` (the agent called).
- **tools**: which tool calls check availability or book, by the invocation's `type` where Retell
  sends it, else by the agent's configured tool of that name where known, else by name. The
  generation is `legacy_cal` for Retell's built-in Cal.com tools (`check_availability_cal`,
  `book_appointment_cal`, deprecated) and `custom` for the operator's functions.
- **booking result**: the last booking tool call's result (`booked`, `no_slot` when the slot was
  gone, `error` when it failed); without one, an availability check that found nothing is
  `no_slot` and one that failed is `error`.
- **language** (de | en | unknown) from marker words in the caller's turns.
- **silent**: an inbound call that connected and has a transcript in which the caller said nothing.
- **abandoned**: an inbound call the caller hung up (`user_hangup`) after speaking, without
  stating a concern (intent `other`) and before any tool ran.
- **transferred**: Retell ended it with `call_transfer`/`transfer_bridged`, or a transfer tool ran.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

LEGACY_CAL = "legacy_cal"
CUSTOM = "custom"
LEGACY_AVAILABILITY_TYPE = "check_availability_cal"
LEGACY_BOOKING_TYPE = "book_appointment_cal"
TRANSFER_TYPES = frozenset({"transfer_call", "bridge_transfer"})
TRANSFER_REASONS = frozenset({"call_transfer", "transfer_bridged"})

# Names of tools used by either generation: Retell's defaults for the built-in tools, and the
# patterns custom functions are named by (German or English).
_AVAILABILITY_NAME = re.compile(r"verf(ue|ü)gbar|availab|slots?\b|freie?_?termin|check_?slot", re.IGNORECASE)
_BOOKING_NAME = re.compile(r"buch|book|termin_?anlegen|create_?booking", re.IGNORECASE)
_TRANSFER_NAME = re.compile(r"transfer|weiterleit|verbind", re.IGNORECASE)

# Caller keywords, lower case, matched as word prefixes.
_CANCEL = re.compile(r"\b(absagen|abzusagen|stornier|cancel|call off)", re.IGNORECASE)
_RESCHEDULE = re.compile(
    r"\b(verschieben|verlegen|umbuchen|umlegen|reschedul|move my appointment|change my appointment)", re.IGNORECASE
)
_BOOK = re.compile(
    r"\b(termin\w*\b.*\b(hätte|haette|bräuchte|braeuchte|brauche|buchen|vereinbaren|möchte|moechte|gern)"
    r"|(hätte|haette|bräuchte|braeuchte|brauche|möchte|moechte)\b.*\btermin"
    r"|book|appointment)",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"\b(wie lange|wann|geöffnet|geoeffnet|öffnungszeit|oeffnungszeit|verordnung|rezept|frage|rechnung|kosten"
    r"|how long|when|opening hours|open\b|prescription|question|invoice|bill\b|cost)",
    re.IGNORECASE,
)
_GERMAN = frozenset(
    "hallo ich ja nein danke bitte termin und der die das mein meinen meine einen eine ist sie haben guten tag ach "
    "egal hören mich hier noch heute morgen möchte hätte wie lange geöffnet vielen auf wiederhören tschüss "
    "leider nicht mit jemandem sprechen zu einer frage gern passt".split()
)
_ENGLISH = frozenset(
    "hello hi i yes no thanks thank please appointment and the my is you have good morning oh never mind hear "
    "me this here today tomorrow would like how long open works for that goodbye bye afraid need can talk to "
    "someone about question an a".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_CALLER_LINE = re.compile(r"^\s*(user|caller)\s*:\s?(.*)$", re.IGNORECASE)
_NO_SLOT_TEXT = re.compile(
    r"no (availability|available|free|open)|not available|keine? (freien? )?(termine?|verfügbarkeit)|ausgebucht"
    r"|slot (is )?(gone|taken|unavailable)|nicht (mehr )?verfügbar",
    re.IGNORECASE,
)
_UID_KEYS = ("uid", "booking_uid", "bookingUid", "booking_id_cal")


def caller_turns(transcript: str | None) -> list[str]:
    """The caller's turns of a stored transcript ("User: …" lines; a line without a speaker
    continues the turn before it)."""
    if not transcript:
        return []
    turns: list[str] = []
    speaking = False
    for line in transcript.splitlines():
        match = _CALLER_LINE.match(line)
        if match:
            turns.append(match.group(2).strip())
            speaking = True
        elif re.match(r"^\s*\w[\w ]{0,20}:", line):
            speaking = False
        elif speaking and turns:
            turns[-1] = f"{turns[-1]} {line.strip()}".strip()
    return [turn for turn in turns if turn]


def language_of(turns: Sequence[str]) -> str:
    """de | en | unknown, by which language's marker words the caller used more."""
    words = [w.lower() for turn in turns for w in _WORD.findall(turn)]
    german = sum(1 for w in words if w in _GERMAN) + sum(1 for w in words if any(c in w for c in "äöüß"))
    english = sum(1 for w in words if w in _ENGLISH)
    if german == english:
        return "unknown"
    return "de" if german > english else "en"


def intent_from_words(turns: Sequence[str]) -> str:
    text = " \n ".join(turns)
    for intent, pattern in (("cancel", _CANCEL), ("reschedule", _RESCHEDULE), ("book", _BOOK), ("question", _QUESTION)):
        if pattern.search(text):
            return intent
    return "other"


def tool_kind(invocation: Mapping[str, Any], configured: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(availability | booking | transfer | other, generation or None) of one tool invocation."""
    name = str(invocation.get("name") or "")
    tool_type = invocation.get("type") or (configured or {}).get(name)
    if tool_type == LEGACY_AVAILABILITY_TYPE or (not tool_type and name == LEGACY_AVAILABILITY_TYPE):
        return "availability", LEGACY_CAL
    if tool_type == LEGACY_BOOKING_TYPE or (not tool_type and name == LEGACY_BOOKING_TYPE):
        return "booking", LEGACY_CAL
    if tool_type in TRANSFER_TYPES or (not tool_type and _TRANSFER_NAME.search(name)):
        return "transfer", None
    if tool_type not in (None, "", CUSTOM):
        return "other", None  # end_call, press_digit, send_sms, ...
    if _AVAILABILITY_NAME.search(name):
        return "availability", CUSTOM
    if _BOOKING_NAME.search(name):
        return "booking", CUSTOM
    return "other", None


def _parsed(content: Any) -> Any:
    if not isinstance(content, str):
        return content
    try:
        return json.loads(content)
    except ValueError:
        return content


def _uid_in(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key in _UID_KEYS:
            if isinstance(value.get(key), str | int) and str(value[key]).strip():
                return str(value[key]).strip()
        for nested in ("booking", "data"):
            found = _uid_in(value.get(nested))
            if found:
                return found
    return None


def _failed(result: Mapping[str, Any], parsed: Any) -> bool:
    if result.get("successful") is False:
        return True
    if isinstance(parsed, Mapping):
        status = str(parsed.get("status") or "").lower()
        return bool(parsed.get("error")) or status in ("error", "failed", "failure")
    return isinstance(parsed, str) and bool(re.match(r"\s*(error|fehler|failed)", parsed, re.IGNORECASE))


def availability_outcome(result: Mapping[str, Any] | None) -> str | None:
    """found | none | error | None (no result) of an availability check."""
    if result is None:
        return None
    parsed = _parsed(result.get("content"))
    if _failed(result, parsed):
        return "error"
    if isinstance(parsed, Mapping):
        slots = parsed.get("slots", parsed.get("available_slots", parsed.get("data")))
        if isinstance(slots, list | Mapping):
            return "found" if slots else "none"
    if isinstance(parsed, list):
        return "found" if parsed else "none"
    if isinstance(parsed, str) and _NO_SLOT_TEXT.search(parsed):
        return "none"
    return "found"


def booking_outcome(result: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """(booked | no_slot | error, uid the result names) of a booking tool's result; no result is an error."""
    if result is None:
        return "error", None
    parsed = _parsed(result.get("content"))
    text = parsed if isinstance(parsed, str) else json.dumps(parsed, ensure_ascii=False)
    if isinstance(parsed, Mapping) and str(parsed.get("status") or "").lower() in ("slot_unavailable", "no_slot"):
        return "no_slot", None
    if _NO_SLOT_TEXT.search(text) and not isinstance(parsed, Mapping):
        return "no_slot", None
    if _failed(result, parsed):
        return "error", None
    return "booked", _uid_in(parsed)


def analyse_call(
    call: Mapping[str, Any],
    transcript: str | None,
    tool_calls: Sequence[Mapping[str, Any]] | None,
    configured_tools: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The rule-based columns of a call_analysis row (see the module docstring)."""
    results = {r.get("tool_call_id"): r for r in tool_calls or [] if r.get("role") == "tool_call_result"}
    generation: str | None = None
    availability: list[str | None] = []
    booking: list[tuple[str, str | None]] = []
    transfer_tool = False
    for entry in tool_calls or []:
        if entry.get("role") != "tool_call_invocation":
            continue
        kind, tool_generation = tool_kind(entry, configured_tools)
        result = results.get(entry.get("tool_call_id"))
        if kind == "availability":
            availability.append(availability_outcome(result))
        elif kind == "booking":
            booking.append(booking_outcome(result))
        elif kind == "transfer":
            transfer_tool = result is None or result.get("successful") is not False
        if tool_generation and generation is None:
            generation = tool_generation
    booking_result: str | None = None
    reported_uid: str | None = None
    if booking:
        booking_result, reported_uid = booking[-1]
        reported_uid = next((uid for outcome, uid in reversed(booking) if outcome == "booked" and uid), None)
    elif availability:
        last = availability[-1]
        booking_result = {"none": "no_slot", "error": "error"}.get(last or "")

    inbound = call.get("direction") in (None, "inbound")
    connected = call.get("call_status") not in ("not_connected", "registered")
    turns = caller_turns(transcript)
    if not inbound:
        intent = "other"
    elif booking or availability:
        intent = "book"
    else:
        intent = intent_from_words(turns)
    silent = inbound and connected and transcript is not None and not turns
    any_tool = bool(booking or availability or transfer_tool)
    reason = call.get("disconnection_reason")
    abandoned = inbound and connected and bool(turns) and reason == "user_hangup" and intent == "other" and not any_tool
    return {
        "language": language_of(turns) if turns else "unknown",
        "intent": intent,
        "booking_tool_generation": generation,
        "availability_checked": bool(availability),
        "booking_tool_called": bool(booking),
        "booking_result": booking_result,
        "booked_uid": (reported_uid or call.get("booking_uid")) if booking_result == "booked" else None,
        "transferred": reason in TRANSFER_REASONS or transfer_tool,
        "silent": silent,
        "abandoned": abandoned,
    }

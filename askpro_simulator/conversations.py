"""What a simulated call was about: its turns, its tool calls, Retell's analysis and the ground truth.

Each call follows one scenario (a booking, a question, a cancellation, a transfer, a silent caller,
...), spoken in German or English, and calls its agent's booking tools by the agent's tool
generation: Retell's built-in Cal.com tools (`check_availability_cal` / `book_appointment_cal`,
deprecated) or the operator's `custom` functions (retell_routes.booking_tools). The ground truth
(`CallTruth`) is what an analysis of the call must find; tests compute their expectations from it.

Tool calls follow retell-sdk's `TranscriptWithToolCall` items: an invocation
`{role: "tool_call_invocation", tool_call_id, name, arguments (JSON text), type?}` and its result
`{role: "tool_call_result", tool_call_id, content (text), successful?}`. Invocations on legacy-tool
agents carry no `type` on every third call (older calls lack it), so names must tell too.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

LEGACY_TOOL_NAMES = {"availability": "check_availability_cal", "booking": "book_appointment_cal"}
CUSTOM_TOOL_NAMES = {"availability": "verfuegbarkeit_pruefen", "booking": "termin_buchen"}
TRANSFER_TOOL_NAME = "transfer_call"

# Inbound calls that booked nothing: what else they were about (weights).
OTHER_SCENARIOS = {
    "hours": 3,
    "prescription": 2,
    "cancel": 2,
    "reschedule": 2,
    "no_slot": 2,
    "tool_error": 1,
    "transfer": 1,
    "silent": 1,
    "abandoned": 1,
}
INTENTS = {
    "booking": "book",
    "phantom": "book",
    "no_slot": "book",
    "tool_error": "book",
    "reschedule": "reschedule",
    "cancel": "cancel",
    "hours": "question",
    "prescription": "question",
    "transfer": "question",
}
_BASE62 = string.digits + string.ascii_letters


@dataclass(frozen=True)
class CallTruth:
    """What the call was, as an analysis must find it (booking_uid on SimCall is the booking made)."""

    scenario: str
    intent: str  # book | reschedule | cancel | question | other
    language: str  # de | en | unknown (the caller said nothing)
    tool_generation: str | None  # legacy_cal | custom; None when no availability or booking tool ran
    availability_checked: bool
    booking_tool_called: bool
    booking_result: str | None  # booked | no_slot | error
    reported_uid: str | None  # the uid the booking tool answered with (a phantom's exists nowhere)
    transferred: bool
    silent: bool
    abandoned: bool


@dataclass
class Conversation:
    turns: list[tuple[str, str]]
    tool_events: list[tuple[int, dict[str, Any]]]  # (number of turns before it, tool entry)
    analysis: dict[str, Any]
    node: str
    truth: CallTruth
    disconnection: str | None = None  # set by the scenario, else drawn by the generator


@dataclass
class CallContext:
    """What a call's conversation is drawn from."""

    rng: random.Random
    scenario: str
    language: str
    legacy_tools: bool
    company: str
    name: str
    call_id: str
    inbound: bool
    booking_title: str = ""
    booking_time: str = ""  # HH:MM local
    booking_date: str = ""
    booking_uid: str | None = None
    organizer: str = ""
    tool_events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def pick_scenario(rng: random.Random, *, status: str, inbound: bool, booked: bool, phantom_share: float) -> str:
    if status != "ended":
        return status
    if not inbound:
        return "voicemail" if rng.random() < 0.3 else "reminder"
    if booked:
        return "booking"
    if phantom_share and rng.random() < phantom_share:
        return "phantom"
    return rng.choices(list(OTHER_SCENARIOS), weights=list(OTHER_SCENARIOS.values()))[0]


class _Tools:
    """Tool entries of one call, numbered like Retell's tool_call_ids."""

    def __init__(self, ctx: CallContext):
        self.ctx = ctx
        self.count = 0
        # older calls on legacy agents lack the invocation's `type`
        self.typed = not ctx.legacy_tools or ctx.rng.random() < 0.67

    def call(self, at: int, kind: str, arguments: dict[str, Any], content: str, successful: bool = True) -> None:
        ctx = self.ctx
        self.count += 1
        tool_call_id = f"tc_{ctx.call_id[-8:]}_{self.count}"
        if kind == "transfer":
            name, tool_type = TRANSFER_TOOL_NAME, "transfer_call"
        else:
            names = LEGACY_TOOL_NAMES if ctx.legacy_tools else CUSTOM_TOOL_NAMES
            name = names[kind]
            tool_type = name if ctx.legacy_tools else "custom"
        invocation: dict[str, Any] = {
            "role": "tool_call_invocation",
            "tool_call_id": tool_call_id,
            "name": name,
            "arguments": json.dumps(arguments, ensure_ascii=False),
        }
        if self.typed:
            invocation["type"] = tool_type
        result = {"role": "tool_call_result", "tool_call_id": tool_call_id, "content": content, "successful": successful}
        ctx.tool_events += [(at, invocation), (at, result)]


def _fake_uid(rng: random.Random) -> str:
    return "".join(rng.choice(_BASE62) for _ in range(22))


def _availability(tools: _Tools, at: int, date: str, times: list[str]) -> None:
    ctx = tools.ctx
    if ctx.legacy_tools:
        content = (
            "Available slots: " + ", ".join(f"{date}T{t}" for t in times) if times else "No availability found."
        )
    else:
        content = json.dumps({"slots": [f"{date}T{t}" for t in times]})
    tools.call(at, "availability", {"date": date}, content)


def _booked(tools: _Tools, at: int, date: str, time: str, uid: str) -> None:
    ctx = tools.ctx
    arguments = {"start": f"{date}T{time}", "name": ctx.name}
    if ctx.legacy_tools:
        content = "Booking successful."  # the built-in tool reports no uid
    else:
        content = json.dumps({"status": "booked", "uid": uid})
    tools.call(at, "booking", arguments, content)


# ---- scripts per scenario and language --------------------------------------------------------


def _lines(ctx: CallContext) -> dict[str, Any]:
    en = ctx.language == "en"
    company, name, title, hhmm = ctx.company, ctx.name, ctx.booking_title, ctx.booking_time
    if en:
        return {
            "greeting": f"{company}, good day! You are speaking with the digital reception. How can I help you?",
            "booking": [
                ("user", f"Hello, this is {name}. I would like to book an appointment for {title} today."),
                ("agent", f"Of course. {ctx.organizer} is free today at {hhmm}. Does that suit you?"),
                ("user", "Yes, that works for me."),
                ("agent", "I have booked the appointment. You will get a confirmation by e-mail shortly."),
                ("user", "Thank you, goodbye!"),
            ],
            "hours": [("user", "Hello, how long are you open today?"), ("agent", "We are open until six today.")],
            "prescription": [
                ("user", f"Hi, {name} here. Is my prescription ready yet?"),
                ("agent", "I will pass that on to the team. They will call you back."),
            ],
            "cancel": [
                ("user", "Hello, I have to cancel my appointment next week, I am afraid."),
                ("agent", "No problem. I have noted your cancellation."),
            ],
            "reschedule": [
                ("user", "Hello, I need to reschedule my appointment on Thursday to another day."),
                ("agent", "I have noted that you want to move it; the team will call you with a new time."),
            ],
            "no_slot": [("user", "Hello, I need an appointment today if possible.")],
            "no_slot_reply": "I am sorry, there is nothing free today. Shall the team call you back tomorrow?",
            "tool_error": [("user", f"Hello, this is {name}. I would like to book an appointment for tomorrow.")],
            "tool_error_reply": "I am sorry, the booking did not go through because of a technical problem.",
            "transfer": [("user", "Hello, I have a question about my invoice, can I talk to someone?")],
            "transfer_reply": "One moment please, I will put you through to the team.",
            "silent": ["Hello? Are you still there?", "I cannot hear you. I will end the call now. Goodbye!"],
            "abandoned": [("user", "Hello?"), ("agent", "Yes, hello, how can I help you?"), ("user", "Oh, never mind.")],
            "reminder": ("user", "Oh right, thanks. I will be there on time."),
            "error": ("user", "Hello? Can you hear me?"),
            "bye": ("user", "Thanks, goodbye!"),
        }
    return {
        "greeting": f"{company}, guten Tag! Sie sprechen mit der digitalen Rezeption. Wie kann ich Ihnen helfen?",
        "booking": [
            ("user", f"Guten Tag, hier ist {name}. Ich hätte gern heute noch einen Termin für {title}."),
            ("agent", f"Gern. Heute um {hhmm} Uhr hätte {ctx.organizer} noch etwas frei. Passt Ihnen das?"),
            ("user", "Ja, das passt mir gut."),
            ("agent", "Ich habe den Termin für Sie gebucht. Sie bekommen gleich eine Bestätigung per E-Mail."),
            ("user", "Vielen Dank, auf Wiederhören!"),
        ],
        "hours": [
            ("user", "Guten Tag, wie lange haben Sie heute geöffnet?"),
            ("agent", "Heute sind wir bis 18:00 Uhr für Sie da."),
        ],
        "prescription": [
            ("user", f"Hallo, {name} hier. Ist meine Verordnung schon fertig?"),
            ("agent", "Ich gebe das an das Praxisteam weiter. Sie werden zurückgerufen, sobald sie bereitliegt."),
        ],
        "cancel": [
            ("user", "Guten Tag, ich muss meinen Termin nächste Woche leider absagen."),
            ("agent", "Das ist kein Problem. Ich habe Ihre Absage notiert und gebe sie an die Praxis weiter."),
        ],
        "reschedule": [
            ("user", "Guten Tag, ich möchte meinen Termin am Donnerstag auf einen anderen Tag verschieben."),
            ("agent", "Ich habe notiert, dass Sie den Termin verlegen möchten; die Praxis meldet sich mit einem neuen."),
        ],
        "no_slot": [("user", "Hallo, ich bräuchte möglichst heute noch einen Termin.")],
        "no_slot_reply": "Heute ist leider nichts mehr frei. Soll die Praxis Sie morgen früh zurückrufen?",
        "tool_error": [("user", f"Guten Tag, hier ist {name}. Ich möchte einen Termin für morgen buchen.")],
        "tool_error_reply": "Das tut mir leid, die Buchung ist wegen eines technischen Problems nicht durchgegangen.",
        "transfer": [("user", "Guten Tag, ich habe eine Frage zu meiner Rechnung. Kann ich mit jemandem sprechen?")],
        "transfer_reply": "Einen Moment bitte, ich verbinde Sie mit dem Praxisteam.",
        "silent": ["Hallo? Sind Sie noch da?", "Ich kann Sie leider nicht hören. Ich beende das Gespräch. Auf Wiederhören!"],
        "abandoned": [("user", "Hallo?"), ("agent", "Ja, hallo, wie kann ich Ihnen helfen?"), ("user", "Ach, egal.")],
        "reminder": ("user", "Ah ja, danke. Ich komme pünktlich."),
        "error": ("user", "Hallo? Hören Sie mich?"),
        "bye": ("user", "Danke für Ihre Hilfe. Tschüss!"),
    }


def conversation(ctx: CallContext) -> Conversation:
    """Turns, tool calls, Retell's call_analysis and the ground truth of one call."""
    rng, scenario, lines = ctx.rng, ctx.scenario, _lines(ctx)
    tools = _Tools(ctx)
    greeting = lines["greeting"]
    sentiment = rng.choices(["Positive", "Neutral", "Negative"], weights=[6, 3, 1])[0]
    custom: dict[str, Any] = {"anliegen": "Sonstiges", "termin_gebucht": False}
    turns: list[tuple[str, str]] = [("agent", greeting)]
    successful, node, disconnection = True, "Auskunft", None
    result: str | None = None
    reported: str | None = None
    summary = ""
    if scenario in ("booking", "phantom"):
        script = lines["booking"]
        turns.append(script[0])
        _availability(tools, len(turns), ctx.booking_date, [ctx.booking_time])
        turns += script[1:3]
        uid = ctx.booking_uid if scenario == "booking" and ctx.booking_uid else _fake_uid(rng)
        _booked(tools, len(turns), ctx.booking_date, ctx.booking_time, uid)
        turns += script[3:]
        result = "booked"
        reported = None if ctx.legacy_tools else uid
        summary = f"{ctx.name}: Termin ({ctx.booking_title}) um {ctx.booking_time} Uhr gebucht."
        custom = {"terminwunsch": f"{ctx.booking_date} {ctx.booking_time}", "anliegen": "Terminbuchung"}
        custom["termin_gebucht"] = True
        node = "Terminbuchung"
        sentiment = "Positive" if rng.random() < 0.8 else "Neutral"
    elif scenario in ("hours", "prescription", "cancel", "reschedule"):
        turns += lines[scenario] + [lines["bye"]]
        summary = {
            "hours": "Anrufer fragte nach den heutigen Öffnungszeiten.",
            "prescription": f"{ctx.name} fragte nach einer Verordnung; Rückruf zugesagt.",
            "cancel": f"{ctx.name} möchte einen Termin in der nächsten Woche absagen.",
            "reschedule": f"{ctx.name} möchte einen Termin verschieben.",
        }[scenario]
        node = {"hours": "Auskunft", "prescription": "Rezeptanfrage"}.get(scenario, "Terminänderung")
        custom["anliegen"] = node
    elif scenario == "no_slot":
        turns += lines["no_slot"]
        _availability(tools, len(turns), ctx.booking_date, [])
        turns += [("agent", lines["no_slot_reply"]), lines["bye"]]
        result, successful, node = "no_slot", False, "Rückrufwunsch"
        summary = "Kein freier Termin am selben Tag; Rückrufwunsch notiert."
        custom["anliegen"] = "Terminbuchung"
        sentiment = rng.choice(["Neutral", "Negative"])
    elif scenario == "tool_error":
        turns += lines["tool_error"]
        _availability(tools, len(turns), ctx.booking_date, ["10:00"])
        turns.append(("agent", "10:00?"))
        error = json.dumps({"error": "Cal.com answered 500 Internal Server Error"})
        tools.call(len(turns), "booking", {"start": f"{ctx.booking_date}T10:00"}, error, successful=False)
        turns += [("agent", lines["tool_error_reply"]), lines["bye"]]
        result, successful, node = "error", False, "Terminbuchung"
        summary = "Die Buchung schlug wegen eines technischen Fehlers fehl."
        sentiment = "Negative"
    elif scenario == "transfer":
        turns += lines["transfer"]
        turns.append(("agent", lines["transfer_reply"]))
        tools.call(len(turns), "transfer", {}, "Call transferred.")
        disconnection, node = "call_transfer", "Weiterleitung"
        summary = "Frage zur Rechnung; an das Praxisteam weitergeleitet."
    elif scenario == "silent":
        turns += [("agent", text) for text in lines["silent"]]
        disconnection, successful, node, sentiment = "inactivity", False, "Begrüßung", "Unknown"
        summary = "Der Anrufer sagte nichts."
    elif scenario == "abandoned":
        turns += lines["abandoned"]
        disconnection, successful, node, sentiment = "user_hangup", False, "Begrüßung", "Neutral"
        summary = "Der Anrufer legte auf, bevor er sein Anliegen nannte."
    elif scenario == "reminder":
        turns = [("agent", f"{ctx.company}: Erinnerung an Ihren Termin morgen."), lines["reminder"]]
        summary, node = f"Terminerinnerung an {ctx.name}; Termin bestätigt.", "Erinnerung"
    elif scenario == "voicemail":
        turns = [("agent", f"{ctx.company}: Wir möchten Sie an Ihren Termin morgen erinnern.")]
        summary, successful, node, sentiment = f"Terminerinnerung an {ctx.name}; Mailbox erreicht.", False, "Erinnerung", "Neutral"
    elif scenario == "error":
        turns.append(lines["error"])
        summary, successful, node, sentiment = "Technischer Fehler.", False, "Begrüßung", "Unknown"
    else:  # not_connected
        turns, summary, successful, node, sentiment, custom = [], "Der Anruf kam nicht zustande.", False, "Begrüßung", "Unknown", {}
    analysis = {
        "call_summary": summary,
        "call_successful": successful,
        "user_sentiment": sentiment,
        "in_voicemail": scenario == "voicemail",
        "custom_analysis_data": custom,
    }
    caller_spoke = any(role == "user" for role, _ in turns)
    booking_kinds = {e["name"] for _, e in ctx.tool_events if e["role"] == "tool_call_invocation"}
    booking_kinds.discard(TRANSFER_TOOL_NAME)
    truth = CallTruth(
        scenario=scenario,
        intent=INTENTS.get(scenario, "other") if ctx.inbound else "other",
        language=ctx.language if caller_spoke else "unknown",
        tool_generation=("legacy_cal" if ctx.legacy_tools else "custom") if booking_kinds else None,
        availability_checked=any(n in booking_kinds for n in ("check_availability_cal", "verfuegbarkeit_pruefen")),
        booking_tool_called=any(n in booking_kinds for n in ("book_appointment_cal", "termin_buchen")),
        booking_result=result,
        reported_uid=reported,
        transferred=scenario == "transfer",
        silent=ctx.inbound and scenario == "silent",
        abandoned=ctx.inbound and scenario == "abandoned",
    )
    return Conversation(turns, list(ctx.tool_events), analysis, node, truth, disconnection)

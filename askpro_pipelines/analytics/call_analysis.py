"""One tenant-day of `call_analysis` rows, and the figures its materialization reports.

The rules per call are in call_rules.py. Here each call also gets its branch (the number it
dialled) and its Cal.com booking: a call is matched to a booking by the rule `booking_outcomes`
uses (outcomes.link_calls_to_bookings): the uid the call reports (its booking tool's result, else
the uid the agent wrote into the call) when that booking is synced, else a booking whose attendee
phone is the caller's number, created between the call's start and 15 minutes after its end.
A call we count as booked is *confirmed* when it has a matched booking.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from askpro_pipelines.analytics.call_rules import analyse_call
from askpro_pipelines.outcomes import e164_or_none, link_calls_to_bookings
from askpro_pipelines.redaction import redact_text

CALL_COLUMNS = [
    "call_id",
    "direction",
    "agent_id",
    "agent_version",
    "from_number",
    "to_number",
    "call_status",
    "start_utc",
    "end_utc",
    "duration_ms",
    "disconnection_reason",
    "call_successful",
    "user_sentiment",
    "call_summary",
    "booking_uid",
]
INTENTS = ("book", "reschedule", "cancel", "question", "other")
AGREEMENT_THRESHOLD = 0.95  # the share of booked calls with a matching Cal.com booking below which the check warns


Analysed = list[tuple[Mapping[str, Any], dict[str, Any]]]  # (retell_calls row, its rule columns)


def analyse_calls(calls: Sequence[Mapping[str, Any]], transcripts: Mapping[str, Mapping[str, Any]]) -> Analysed:
    """Each call with its rule columns; `transcripts`: call id → {"transcript", "tool_calls"}."""
    analysed = []
    for call in calls:
        stored = transcripts.get(call["call_id"], {})
        analysed.append((call, analyse_call(call, stored.get("transcript"), stored.get("tool_calls"))))
    return analysed


def reported_uids(analysed: Analysed) -> list[str]:
    """The booking uids the calls report (tool results, else written into the call)."""
    uids = [rules["booked_uid"] or call.get("booking_uid") for call, rules in analysed]
    return sorted({uid for uid in uids if uid})


def _our_number(call: Mapping[str, Any]) -> Any:
    """The tenant's number in the call: the one dialled (inbound) or calling out (outbound)."""
    return call.get("from_number") if call.get("direction") == "outbound" else call.get("to_number")


def analysis_rows(
    analysed: Analysed, bookings: Sequence[Mapping[str, Any]], branch_by_number: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The call_analysis rows of one tenant-day (without tenant/day, which the writer adds).

    `bookings`: every synced booking a call of the day may have made (created in the day's window
    plus those with a uid the calls report).
    """
    links = link_calls_to_bookings(
        [{**call, "booking_uid": rules["booked_uid"] or call.get("booking_uid")} for call, rules in analysed],
        bookings,
    )
    rows = []
    for call, rules in analysed:
        matched = links.get(call["call_id"])
        summary = call.get("call_summary")
        rows.append(
            {
                "call_id": call["call_id"],
                "direction": call.get("direction"),
                "agent_id": call.get("agent_id"),
                "agent_version": call.get("agent_version"),
                "branch_id": branch_by_number.get(e164_or_none(_our_number(call)) or ""),
                **rules,
                "calcom_booking_uid": matched,
                "booking_confirmed": (matched is not None) if rules["booking_result"] == "booked" else None,
                "disconnection_reason": call.get("disconnection_reason"),
                "duration_ms": call.get("duration_ms"),
                "call_successful": call.get("call_successful"),
                "user_sentiment": call.get("user_sentiment"),
                "call_summary": redact_text(summary) if summary else summary,
            }
        )
    return rows


def figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, int | float]:
    """One day's figures: calls by intent, tools, results, generation and language, transfers,
    silent and abandoned calls, and the agreement of "booked" with Cal.com (absent without booked calls)."""
    count = Counter[str]()
    for row in rows:
        count["calls"] += 1
        count[f"intent_{row['intent']}"] += 1
        count["availability_checked"] += bool(row["availability_checked"])
        count["booking_tool_called"] += bool(row["booking_tool_called"])
        if row["booking_result"]:
            count[f"result_{row['booking_result']}"] += 1
        if row["booking_tool_generation"]:
            count[f"generation_{row['booking_tool_generation']}"] += 1
        count[f"language_{row['language']}"] += 1
        for flag in ("transferred", "silent", "abandoned"):
            count[flag] += bool(row[flag])
        count["booked_confirmed"] += row["booking_confirmed"] is True
    out: dict[str, int | float] = {
        name: count[name]
        for name in (
            "calls",
            *(f"intent_{i}" for i in INTENTS),
            "availability_checked",
            "booking_tool_called",
            "result_booked",
            "result_no_slot",
            "result_error",
            "generation_legacy_cal",
            "generation_custom",
            "language_de",
            "language_en",
            "language_unknown",
            "transferred",
            "silent",
            "abandoned",
            "booked_confirmed",
        )
    }
    if count["result_booked"]:
        out["booked_agreement"] = round(count["booked_confirmed"] / count["result_booked"], 4)
    return out


def unconfirmed_bookings(tenant: str, day: Any, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Calls we count as booked without a matching Cal.com booking, named by tenant, entity and id."""
    return [
        {
            "tenant": tenant,
            "entity": "retell_calls",
            "call_id": row["call_id"],
            "day": str(day),
            "booked_uid": row.get("booked_uid") or "-",
        }
        for row in rows
        if row["booking_result"] == "booked" and not row["booking_confirmed"]
    ]

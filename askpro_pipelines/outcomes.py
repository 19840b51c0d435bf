"""Booking outcomes per tenant, branch and day: did the phone agent turn calls into bookings?

How a call is linked to a booking (first rule that matches wins):

1. **By uid.** The agent wrote the Cal.com booking uid into the call (`booking_uid`, read from
   `collected_dynamic_variables`, then `metadata`, then `retell_llm_dynamic_variables`), and a
   synced booking of the tenant has that uid (on any day: calls book future appointments).
2. **By caller and time.** A booking of the tenant whose attendee phone is the caller's number
   (both normalised to E.164) and which was created between the call's start and
   `LINK_WINDOW` after its end. Each booking links to at most one call (the earliest).

Branches: a call belongs to the branch that owns the dialled number (`to_number`) in the tenants
file; a booking to the branch whose `calcom_event_type_id` is its event type. What matches no
branch is counted under branch `-`.

Per (tenant, day, branch): `inbound_calls` started that local day, `calls_with_booking` among
them, `bookings_created` that local day, `cancellations` of appointments on that day, and
`booking_success_rate` = calls_with_booking / inbound_calls (null without calls).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from askpro_pipelines.phone_chain import InvalidPhoneNumber, normalize_phone_number
from askpro_pipelines.tenants import Tenant

LINK_WINDOW = dt.timedelta(minutes=15)
NO_BRANCH = "-"


def e164_or_none(number: str | None) -> str | None:
    """The number in E.164, or None when it is empty or does not parse (calls and bookings carry
    whatever the caller typed or the phone system sent)."""
    if not number:
        return None
    try:
        return normalize_phone_number(number)
    except InvalidPhoneNumber:
        return None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; every stored instant is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def link_calls_to_bookings(calls: Iterable[Mapping[str, Any]], bookings: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """call_id → booking uid, by uid written into the call, else by caller number and time window."""
    bookings = list(bookings)
    by_uid = {b["uid"]: b for b in bookings}
    by_phone: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for booking in bookings:
        phone = e164_or_none(booking.get("attendee_phone"))
        if phone and booking.get("created_at"):
            by_phone[phone].append({**booking, "created_at": _utc(booking["created_at"])})
    links: dict[str, str] = {}
    taken: set[str] = set()
    latest = dt.datetime.max.replace(tzinfo=dt.UTC)
    for call in sorted(calls, key=lambda c: (_utc(c.get("start_utc")) or latest, c["call_id"])):
        uid = call.get("booking_uid")
        if uid and uid in by_uid:
            links[call["call_id"]] = uid
            taken.add(uid)
            continue
        caller, start = e164_or_none(call.get("from_number")), _utc(call.get("start_utc"))
        if not caller or start is None:
            continue
        end = _utc(call.get("end_utc")) or start
        for booking in sorted(by_phone.get(caller, []), key=lambda b: b["created_at"]):
            if booking["uid"] not in taken and start <= booking["created_at"] <= end + LINK_WINDOW:
                links[call["call_id"]] = booking["uid"]
                taken.add(booking["uid"])
                break
    return links


def outcome_rows(
    tenant: Tenant,
    calls_of_day: Sequence[Mapping[str, Any]],
    bookings_created_that_day: Sequence[Mapping[str, Any]],
    appointments_of_day: Sequence[Mapping[str, Any]],
    linkable_bookings: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The outcome rows of one tenant and day (one per branch with any activity)."""
    branch_by_number = {n: b.id for b in tenant.branches for n in b.phone_numbers}
    branch_by_event_type = {str(b.calcom_event_type_id): b.id for b in tenant.branches}
    links = link_calls_to_bookings(calls_of_day, linkable_bookings)

    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: {"inbound_calls": 0, "calls_with_booking": 0, "bookings_created": 0, "cancellations": 0}
    )
    for each in tenant.branches:
        counts[each.id]  # every branch gets a row, even on a quiet day
    for call in calls_of_day:
        if call.get("direction") not in (None, "inbound"):
            continue
        branch = branch_by_number.get(e164_or_none(call.get("to_number")) or "", NO_BRANCH)
        counts[branch]["inbound_calls"] += 1
        if call["call_id"] in links:
            counts[branch]["calls_with_booking"] += 1
    for booking in bookings_created_that_day:
        counts[branch_by_event_type.get(str(booking.get("event_type_id")), NO_BRANCH)]["bookings_created"] += 1
    for booking in appointments_of_day:
        if booking.get("status") == "cancelled":
            counts[branch_by_event_type.get(str(booking.get("event_type_id")), NO_BRANCH)]["cancellations"] += 1

    rows = []
    for branch_id, values in sorted(counts.items()):
        calls = values["inbound_calls"]
        rate = round(values["calls_with_booking"] / calls, 4) if calls else None
        rows.append({"branch_id": branch_id, **values, "booking_success_rate": rate})
    return rows

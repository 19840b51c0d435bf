"""What the call_analysis asset reads for one tenant-day: calls, transcripts with tool calls,
the bookings a call may have made and which branch each dialled number belongs to."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from askpro_pipelines.analytics.call_analysis import CALL_COLUMNS
from askpro_pipelines.outcomes import LINK_WINDOW, e164_or_none
from askpro_pipelines.partitions import day_window
from askpro_pipelines.tenants import Tenant
from askpro_pipelines.warehouse.store import Warehouse

BOOKING_COLUMNS = ["uid", "attendee_phone", "created_at"]


@dataclass
class CallDay:
    calls: list[dict[str, Any]]
    transcripts: dict[str, dict[str, Any]]  # call id → {"transcript", "tool_calls"}
    bookings: list[dict[str, Any]]
    branch_by_number: dict[str, str]


def read_call_day(wh: Warehouse, tenant: Tenant, day: dt.date) -> CallDay:
    """One tenant-day's inputs. Bookings: created from the day's start to 15 minutes after its
    end (a call's booking is made during it or just after), plus those whose uid a call reports
    (booking_uid; the tool results' uids are among them when the agent wrote them into the call)."""
    calls = wh.read_slice("retell_calls", tenant.slug, CALL_COLUMNS, day=day)
    transcripts = {
        r["call_id"]: r
        for r in wh.read_slice("retell_call_transcripts", tenant.slug, ["call_id", "transcript", "tool_calls"], day=day)
    }
    start, end = day_window(day, tenant.timezone)
    bookings = wh.read_range("calcom_bookings", tenant.slug, "created_at", start, end + LINK_WINDOW, BOOKING_COLUMNS)
    return CallDay(calls, transcripts, bookings, branch_numbers(wh, tenant))


def more_bookings(wh: Warehouse, tenant: Tenant, uids: list[str]) -> list[dict[str, Any]]:
    """Synced bookings with these uids (calls book appointments on later days: any day's)."""
    return wh.read_in("calcom_bookings", tenant.slug, "uid", uids, BOOKING_COLUMNS) if uids else []


def branch_numbers(wh: Warehouse, tenant: Tenant) -> dict[str, str]:
    """E.164 number → branch: phone_assignments where it has the number, else the tenants file
    (the first branch, by id, of a number listed on two)."""
    found: dict[str, str] = {}
    for branch in sorted(tenant.branches, key=lambda b: b.id, reverse=True):
        for number in branch.phone_numbers:
            if (e164 := e164_or_none(number)) is not None:
                found[e164] = branch.id
    assigned = sorted(
        wh.read_slice("phone_assignments", tenant.slug, ["phone_number", "branch_id"]),
        key=lambda r: (r["phone_number"], r["branch_id"] or ""),
        reverse=True,
    )
    for row in assigned:
        if row["branch_id"] and (e164 := e164_or_none(row["phone_number"])) is not None:
            found[e164] = row["branch_id"]
    return found

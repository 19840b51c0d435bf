"""Booking success per tenant and day: of the inbound calls that tried to book, how many booked?

The definitions (the README's "Booking success" says the same):

- **calls**: the day's inbound calls in `call_analysis` (direction `inbound`, or none given).
- **tried to book**: the caller's intent was `book` or `reschedule`, or the agent called an
  availability or booking tool, or the call is matched to a Cal.com booking.
- **from a call**: a synced Cal.com booking whose uid is the `calcom_booking_uid` of one of those
  calls. It is looked up by uid on any day (calls book appointments on later days); each booking
  counts once per row.
- **cancelled** / **rescheduled**: such a booking as synced now was moved (it is marked
  `rescheduled` or has a `rescheduled_to_uid`, or a synced booking names it as
  `rescheduled_from_uid`: API v1 tells only the new booking) / has status `cancelled` and was not
  moved; the two never overlap.
- **success_rate** = bookings_from_calls / calls_tried_to_book (null when none tried);
  **median_call_seconds** over calls that lasted longer than 0 ms; **transfer_share** and
  **hangup_share** (`user_hangup`) over all calls (null without calls).

Rows: one `tenant` row (`*`), one `branch` row per branch of the tenants file and per other
branch seen (`-`: no branch claims the number), one `agent_version` row per
`<agent_id>@<version>` the calls ran with (`-` when the agent is unknown).

`rate_drops` is the rule of the `booking_success_rate_steady` check.
"""

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # Imported where used: pandas costs ~0.4 s, and every run worker and code server loads this
    # module while defining the assets, most of them without computing booking success.
    import pandas as pd

NO_GROUP = "-"
TENANT_KEY = "*"
TRIED_INTENTS = ("book", "reschedule")
HANGUP = "user_hangup"

CALL_COLUMNS = [
    "call_id",
    "direction",
    "agent_id",
    "agent_version",
    "branch_id",
    "intent",
    "availability_checked",
    "booking_tool_called",
    "calcom_booking_uid",
    "disconnection_reason",
    "transferred",
    "duration_ms",
]
BOOKING_COLUMNS = ["uid", "status", "rescheduled", "rescheduled_to_uid", "rescheduled_from_uid"]

# The check: a branch's day is "well below" its trailing level when its rate is at least
# RATE_DROP (20 percentage points) under the pooled rate of the TRAILING_DAYS days before,
# with enough calls that tried to book on both sides for the rates to mean something.
TRAILING_DAYS = 14
RATE_DROP = 0.20
MIN_TRIED_DAY = 5
MIN_TRIED_TRAILING = 20


def _agent_key(agent_id: Any, version: Any) -> str:
    if not isinstance(agent_id, str) or not agent_id:
        return NO_GROUP
    if version is None or (isinstance(version, float) and math.isnan(version)):
        return f"{agent_id}@{NO_GROUP}"
    return f"{agent_id}@{int(version)}"


def _optional(value: Any, digits: int) -> float | None:
    """A rounded float, or None for pandas' NaN (no calls, nothing tried)."""
    import pandas as pd

    if value is None or pd.isna(value):
        return None
    return round(float(value), digits)


def call_frame(calls: Sequence[Mapping[str, Any]], bookings: Sequence[Mapping[str, Any]]) -> "pd.DataFrame":
    """One line per inbound call with its day, what it counts towards, and its three group keys."""
    import pandas as pd

    columns = ["day", *CALL_COLUMNS]
    frame = pd.DataFrame([{c: call.get(c) for c in columns} for call in calls], columns=columns)
    frame = frame[frame["direction"].isna() | (frame["direction"] == "inbound")].copy()
    found = {b["uid"]: b for b in bookings}
    replaced = {b["rescheduled_from_uid"] for b in bookings if b.get("rescheduled_from_uid")}
    uid = frame["calcom_booking_uid"].where(frame["calcom_booking_uid"].isin(list(found)))

    def state(u: Any) -> str | None:
        if not isinstance(u, str):
            return None
        booking = found[u]
        if booking.get("rescheduled") or booking.get("rescheduled_to_uid") or u in replaced:
            return "rescheduled"
        return "cancelled" if booking.get("status") == "cancelled" else "kept"

    states = uid.map(state)
    seconds = pd.to_numeric(frame["duration_ms"], errors="coerce") / 1000.0
    return pd.DataFrame(
        {
            "day": frame["day"],
            "tenant_key": TENANT_KEY,
            "branch_key": frame["branch_id"].where(frame["branch_id"].notna(), NO_GROUP).astype(str),
            "agent_key": [_agent_key(a, v) for a, v in zip(frame["agent_id"], frame["agent_version"], strict=True)],
            "agent_id": frame["agent_id"],
            "agent_version": frame["agent_version"],
            "call_id": frame["call_id"],
            "tried": (
                frame["intent"].isin(TRIED_INTENTS)
                | frame["availability_checked"].fillna(False).astype(bool)
                | frame["booking_tool_called"].fillna(False).astype(bool)
                | frame["calcom_booking_uid"].notna()
            ),
            "booked_uid": uid,
            "cancelled_uid": uid.where(states == "cancelled"),
            "rescheduled_uid": uid.where(states == "rescheduled"),
            "connected_seconds": seconds.where(seconds > 0),
            "transferred": frame["transferred"].fillna(False).astype(bool),
            "hung_up": frame["disconnection_reason"] == HANGUP,
        },
        index=frame.index,
    )


def _aggregate(frame: "pd.DataFrame", key: str) -> "pd.DataFrame":
    return frame.groupby(["day", key], sort=True).agg(
        calls=("call_id", "size"),
        calls_tried_to_book=("tried", "sum"),
        bookings_from_calls=("booked_uid", "nunique"),
        bookings_from_calls_cancelled=("cancelled_uid", "nunique"),
        bookings_from_calls_rescheduled=("rescheduled_uid", "nunique"),
        median_call_seconds=("connected_seconds", "median"),
        transfer_share=("transferred", "mean"),
        hangup_share=("hung_up", "mean"),
    )


def _row(grouping: str, group_key: str, figures: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = {
        name: int(figures[name]) if figures is not None else 0
        for name in (
            "calls",
            "calls_tried_to_book",
            "bookings_from_calls",
            "bookings_from_calls_cancelled",
            "bookings_from_calls_rescheduled",
        )
    }
    tried = counts["calls_tried_to_book"]
    agent_id, _, version = group_key.partition("@")
    return {
        "grouping": grouping,
        "group_key": group_key,
        "branch_id": group_key if grouping == "branch" and group_key != NO_GROUP else None,
        "agent_id": agent_id if grouping == "agent_version" and group_key != NO_GROUP else None,
        "agent_version": int(version) if grouping == "agent_version" and version.isdigit() else None,
        **counts,
        "success_rate": round(counts["bookings_from_calls"] / tried, 4) if tried else None,
        "median_call_seconds": _optional(figures and figures["median_call_seconds"], 3),
        "transfer_share": _optional(figures and figures["transfer_share"], 4),
        "hangup_share": _optional(figures and figures["hangup_share"], 4),
    }


def success_rows(
    calls: Sequence[Mapping[str, Any]], bookings: Sequence[Mapping[str, Any]], branch_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The booking_success rows of one tenant and day.

    `calls` are the day's call_analysis rows, `bookings` the Cal.com bookings their
    `calcom_booking_uid`s name (any day) and those that replaced them (`rescheduled_from_uid`),
    `branch_ids` the tenant's branches (each gets a row).
    """
    return success_rows_by_day([{**call, "day": _THE_DAY} for call in calls], bookings, branch_ids, [_THE_DAY])[
        _THE_DAY
    ]


_THE_DAY = "day"  # the one day of `success_rows`: any value that groups


def success_rows_by_day(
    calls: Sequence[Mapping[str, Any]],
    bookings: Sequence[Mapping[str, Any]],
    branch_ids: Sequence[str],
    days: Sequence[Any],
) -> dict[Any, list[dict[str, Any]]]:
    """The booking_success rows of one tenant for each of `days`, in one pass over all their calls.

    As `success_rows` for each day, but `calls` carry their `day`: a range run groups once by day and
    key instead of once per day (pandas' fixed cost per groupby was most of a 30-day range's time).
    """
    frame = call_frame(calls, bookings)
    by_day: dict[Any, list[dict[str, Any]]] = {day: [] for day in days}
    for grouping, key, always in (
        ("tenant", "tenant_key", [TENANT_KEY]),
        ("branch", "branch_key", list(branch_ids)),
        ("agent_version", "agent_key", []),
    ):
        figures: dict[Any, dict[str, dict[str, Any]]] = {day: {} for day in days}
        if not frame.empty:
            for index, values in _aggregate(frame, key).to_dict("index").items():
                day, group = cast(tuple[Any, Any], index)
                figures.setdefault(day, {})[str(group)] = {str(name): value for name, value in values.items()}
        for day in days:
            for group_key in sorted(set(always) | set(figures[day])):
                by_day[day].append(_row(grouping, group_key, figures[day].get(group_key)))
    return by_day


def rate_drops(branch_rows: Sequence[Mapping[str, Any]], day: dt.date) -> list[dict[str, Any]]:
    """Branches whose success rate on `day` is RATE_DROP or more below their trailing level.

    `branch_rows` are one tenant's booking_success branch rows of `day` and the TRAILING_DAYS
    days before it; the trailing level is the pooled rate of those days (sum of bookings over
    sum of tried calls), so a quiet day weighs little.
    """
    import pandas as pd

    columns = ["day", "group_key", "calls_tried_to_book", "bookings_from_calls"]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in branch_rows], columns=columns)
    first = day - dt.timedelta(days=TRAILING_DAYS)
    today = frame[frame["day"] == day].groupby("group_key")[columns[2:]].sum()
    before = frame[(frame["day"] >= first) & (frame["day"] < day)].groupby("group_key")[columns[2:]].sum()
    joined = today.merge(before, left_index=True, right_index=True, suffixes=("", "_before"))
    problems = []
    for branch, figures in joined.to_dict("index").items():
        tried_now, tried_then = int(figures["calls_tried_to_book"]), int(figures["calls_tried_to_book_before"])
        if tried_now < MIN_TRIED_DAY or tried_then < MIN_TRIED_TRAILING:
            continue
        rate_now = int(figures["bookings_from_calls"]) / tried_now
        rate_then = int(figures["bookings_from_calls_before"]) / tried_then
        if rate_then - rate_now >= RATE_DROP - 1e-9:
            problems.append(
                {
                    "branch": str(branch),
                    "day": day.isoformat(),
                    "rate": round(rate_now, 4),
                    "trailing_rate": round(rate_then, 4),
                    "tried": tried_now,
                    "trailing_tried": tried_then,
                }
            )
    return problems

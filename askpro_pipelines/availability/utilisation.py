"""Utilisation per staff member and branch: booked minutes over available minutes of a day.

Available minutes come from the staff member's default schedule in the warehouse (weekly rows,
replaced on a date by that date's overrides; an all-day override is a day off), counted on the
schedule's own wall clock turned into instants, so a day with a daylight-saving change counts the
hour it really has. Booked minutes are the accepted and pending bookings the staff member hosts.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

BLOCKING_STATUSES = frozenset({"accepted", "pending"})


def _instant(day: dt.date, hhmm: str, zone: ZoneInfo) -> dt.datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    if hours == 24:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
    return dt.datetime.combine(day, dt.time(hours, minutes), zone)


def _minutes(day: dt.date, start: str, end: str, zone: ZoneInfo) -> int:
    begin = _instant(day, start, zone)
    finish = _instant(day + dt.timedelta(days=1), "00:00", zone) if end == "00:00" else _instant(day, end, zone)
    return max(0, int((finish.astimezone(dt.UTC) - begin.astimezone(dt.UTC)).total_seconds() // 60))


def available_minutes(hours: list[Mapping[str, Any]], overrides: list[Mapping[str, Any]], day: dt.date) -> int:
    """Working minutes of one schedule on a day: that date's overrides if any, else its weekday's rows."""
    todays = [o for o in overrides if o["date"] == day]
    if todays:
        return sum(
            _minutes(day, o["start_time"], o["end_time"], ZoneInfo(o["time_zone"]))
            for o in todays
            if not o["is_day_off"]
        )
    rows = [h for h in hours if h["weekday"] == day.isoweekday()]
    return sum(_minutes(day, h["start_time"], h["end_time"], ZoneInfo(h["time_zone"])) for h in rows)


def booked_minutes(bookings: Iterable[Any], zone: ZoneInfo) -> dict[tuple[str, dt.date], int]:
    """(staff id, local day) -> minutes of the accepted and pending bookings they host."""
    booked: dict[tuple[str, dt.date], int] = defaultdict(int)
    for booking in bookings:
        if booking.status in BLOCKING_STATUSES and booking.organizer_staff_id:
            day = booking.start_utc.astimezone(zone).date()
            booked[(booking.organizer_staff_id, day)] += int(
                (booking.end_utc - booking.start_utc).total_seconds() // 60
            )
    return booked


def ratio(booked: int, available: int) -> float | None:
    return round(booked / available, 4) if available else None


def staff_rows(
    days: list[dt.date],
    hours: Sequence[Mapping[str, Any]],
    overrides: Sequence[Mapping[str, Any]],
    booked: Mapping[tuple[str, dt.date], int],
    refreshed_at: dt.datetime,
) -> list[dict[str, Any]]:
    """One staff_utilisation row per staff member with a default schedule, per day."""
    default_hours: dict[str, list[Any]] = defaultdict(list)
    schedule_of: dict[str, str] = {}
    for row in hours:
        if row["is_default_schedule"]:
            default_hours[row["staff_id"]].append(row)
            schedule_of[row["staff_id"]] = row["schedule_id"]
    rows = []
    for staff_id, own_hours in sorted(default_hours.items()):
        own_overrides = [
            o for o in overrides if o["staff_id"] == staff_id and o["schedule_id"] == schedule_of[staff_id]
        ]
        for day in days:
            available = available_minutes(own_hours, own_overrides, day)
            minutes = booked.get((staff_id, day), 0)
            rows.append(
                {
                    "day": day,
                    "staff_id": staff_id,
                    "available_minutes": available,
                    "booked_minutes": minutes,
                    "utilisation": ratio(minutes, available),
                    "refreshed_at": refreshed_at,
                }
            )
    return rows

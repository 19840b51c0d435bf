"""Cal.com API v2 bookings (`cal-api-version: 2024-08-13`): the booking shape, filters, sorts and handlers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from askpro_simulator.accounts import SIM_NOW, iso_ms
from askpro_simulator.calcom_v1 import booking_responses, v1_booking
from askpro_simulator.records import SimBooking
from askpro_simulator.responses import (
    ApiBase,
    ApiError,
    Ctx,
    Listing,
    Payload,
    V2_PREFIX,
    V2_TAKE_MAX,
    activity_days,
    dump_json,
    v2_one,
)
from askpro_simulator.world import TenantWorld

V2_BOOKINGS_VERSION = "2024-08-13"
V2_BOOKINGS_TAKE_DEFAULT = 100


def v2_booking_record(tenant: TenantWorld, booking: SimBooking) -> dict:
    """BookingOutput_2024_08_13; optional reason and reschedule fields only when set."""
    organizer = tenant.user(booking.organizer_id)
    record: dict[str, Any] = {
        "id": booking.id,
        "uid": booking.uid,
        "title": booking.title,
        "description": booking.description,
        "hosts": [
            {
                "id": organizer.id,
                "name": organizer.name,
                "email": organizer.email,
                "displayEmail": organizer.email,
                "username": organizer.username,
                "timeZone": organizer.time_zone,
            }
        ],
        "status": booking.status,
    }
    optional = {
        "cancellationReason": booking.cancellation_reason,
        "cancelledByEmail": booking.cancelled_by_email,
        "reschedulingReason": booking.rescheduling_reason,
        "rescheduledByEmail": booking.rescheduled_by_email,
        "rescheduledFromUid": booking.rescheduled_from_uid,
        "rescheduledToUid": booking.rescheduled_to_uid,
    }
    record |= {name: value for name, value in optional.items() if value is not None}
    attendees = []
    for attendee in booking.attendees:
        item = {
            "name": attendee.name,
            "email": attendee.email,
            "displayEmail": attendee.email,
            "timeZone": attendee.time_zone,
            "language": attendee.locale,
            "absent": False,
        }
        if attendee.phone_number:
            item["phoneNumber"] = attendee.phone_number
        attendees.append(item)
    return record | {
        "start": iso_ms(booking.start),
        "end": iso_ms(booking.end),
        "duration": booking.duration_minutes,
        "eventTypeId": booking.event_type_id,
        "eventType": {"id": booking.event_type_id, "slug": booking.event_type_slug},
        "location": booking.location or "",
        "absentHost": False,
        "createdAt": iso_ms(booking.created_at),
        "updatedAt": iso_ms(booking.updated_at),
        "metadata": dict(booking.metadata),
        "icsUid": f"{booking.uid}@Cal.com",
        "attendees": attendees,
        "guests": [a.email for a in booking.attendees[1:]],
        "bookingFieldsResponses": booking_responses(booking),
    }


_V2_LIST_VIEWS: dict[str, Callable[[SimBooking], bool]] = {
    "upcoming": lambda b: b.end >= SIM_NOW and b.status not in ("cancelled", "rejected"),
    "unconfirmed": lambda b: b.end >= SIM_NOW and b.status == "pending",
    "past": lambda b: b.end <= SIM_NOW and b.status not in ("cancelled", "rejected"),
    "cancelled": lambda b: b.status in ("cancelled", "rejected"),
    "recurring": lambda b: False,  # the simulator makes no recurring bookings
}
"""GET /v2/bookings `status` values are list views, judged against the simulator's fixed clock."""
_V2_BOOKING_TIME_FILTERS: dict[str, tuple[Callable[[SimBooking], datetime], Callable[[datetime, datetime], bool]]] = {
    "afterStart": (lambda b: b.start, lambda value, bound: value >= bound),
    "beforeEnd": (lambda b: b.end, lambda value, bound: value <= bound),
    "afterCreatedAt": (lambda b: b.created_at, lambda value, bound: value >= bound),
    "beforeCreatedAt": (lambda b: b.created_at, lambda value, bound: value <= bound),
    "afterUpdatedAt": (lambda b: b.updated_at, lambda value, bound: value >= bound),
    "beforeUpdatedAt": (lambda b: b.updated_at, lambda value, bound: value <= bound),
}
"""GET /v2/bookings time filters (all inclusive): query name -> (field, comparison)."""
_V2_BOOKING_SORTS = (
    ("sortStart", "start"),
    ("sortEnd", "end"),
    ("sortCreated", "created_at"),
    ("sortUpdatedAt", "updated_at"),
)
"""GET /v2/bookings sort parameters -> SimBooking field; the first one given wins."""

# The envelope a v2 client gets without the bookings version header (data is an object, not a list).
_V2_OLD_BOOKINGS_PREFIX = b'{"status":"success","data":{"bookings":'
_V2_OLD_BOOKINGS_SUFFIX = b',"recurringInfo":[],"nextCursor":null}}'


class CalcomV2BookingsApi(ApiBase):
    """GET /v2/bookings and /v2/bookings/{uid}."""

    def _v2_booking_filters(self, ctx: Ctx) -> tuple[Callable[[SimBooking], bool], list[date]]:
        """GetBookingsInput_2024_08_13 filters as one predicate, and the local days to walk."""
        activity = ctx.tenant.activity
        bounds = {name: self._iso_param(ctx, name) for name in _V2_BOOKING_TIME_FILTERS}
        tests = [
            (lambda b, read=read, compare=compare, bound=bound: compare(read(b), bound))
            for name, (read, compare) in _V2_BOOKING_TIME_FILTERS.items()
            if (bound := bounds[name]) is not None
        ]
        views = [v for raw in ctx.query.getlist("status") for v in raw.split(",") if v]
        if set(views) - set(_V2_LIST_VIEWS):
            raise ApiError(400, f"status must be a comma list of {', '.join(_V2_LIST_VIEWS)}")
        if views:
            tests.append(lambda b: any(_V2_LIST_VIEWS[v](b) for v in views))
        emails = {e.lower() for raw in ctx.query.getlist("attendeeEmail") for e in raw.split(",") if e}
        if emails:
            tests.append(lambda b: any(a.email.lower() in emails for a in b.attendees))
        if ctx.query.get("bookingUid"):
            tests.append(lambda b: b.uid == ctx.query["bookingUid"])
        raw_ids = [v for n in ("eventTypeId", "eventTypeIds") for raw in ctx.query.getlist(n) for v in raw.split(",")]
        if raw_ids:
            if not all(v.strip().isdigit() for v in raw_ids):
                raise ApiError(400, "eventTypeId(s) must be integers")
            wanted = {int(v) for v in raw_ids}
            tests.append(lambda b: b.event_type_id in wanted)
        lower_bounds = [activity.local_date(bounds[n]) for n in ("afterCreatedAt", "afterUpdatedAt") if bounds[n]]
        days = activity_days(
            activity,
            activity.local_date(bounds["afterStart"]) if bounds["afterStart"] else None,
            activity.local_date(bounds["beforeEnd"]) if bounds["beforeEnd"] else None,
            generated_from=max(lower_bounds) if lower_bounds else None,
        )
        return (lambda b: all(test(b) for test in tests)), days

    def v2_bookings(self, ctx: Ctx) -> Payload:
        """GET /v2/bookings: filters, sort*, skip/take (default 100) and the `pagination` block.

        Without cal-api-version 2024-08-13 the caller gets an older envelope (data.bookings with
        v1-style records), the way a client that forgot the header breaks on the real API.
        """
        take = self._int_param(ctx, "take", V2_BOOKINGS_TAKE_DEFAULT, 1, V2_TAKE_MAX)
        skip = self._int_param(ctx, "skip", 0, 0)
        keep, days = self._v2_booking_filters(ctx)
        attribute, descending = "start", False
        for param, name in _V2_BOOKING_SORTS:
            value = ctx.query.get(param)
            if value:
                if value not in ("asc", "desc"):
                    raise ApiError(400, f"{param} must be asc or desc")
                attribute, descending = name, value == "desc"
                break
        current = ctx.headers.get("cal-api-version") == V2_BOOKINGS_VERSION
        kind = "v2_booking" if current else "v1_booking"
        rows = ctx.views.rows(kind, days, keep)
        rows.sort(key=lambda row: (getattr(row[0], attribute), row[0].id), reverse=descending)
        page = rows[skip : skip + take]
        listing = Listing.of_rows(kind, page)
        if not current:
            return Payload(kind, _V2_OLD_BOOKINGS_PREFIX, _V2_OLD_BOOKINGS_SUFFIX, listing=listing)
        total = len(rows)
        pagination = {
            "totalItems": total,
            "remainingItems": max(0, total - (skip + take)),
            "returnedItems": len(page),
            "itemsPerPage": take,
            "currentPage": skip // take + 1,
            "totalPages": -(-total // take),
            "hasNextPage": skip + take < total,
            "hasPreviousPage": skip > 0,
        }
        return Payload(kind, V2_PREFIX, b',"pagination":' + dump_json(pagination) + b"}", listing=listing)

    def v2_booking(self, ctx: Ctx, booking_uid: str) -> Payload:
        booking = ctx.tenant.activity.booking(booking_uid)
        if booking is None:
            raise ApiError(404, f"Booking with uid={booking_uid} was not found in the database")
        if ctx.headers.get("cal-api-version") == V2_BOOKINGS_VERSION:
            return v2_one("v2_booking", v2_booking_record(ctx.tenant, booking))
        return v2_one("v1_booking", v1_booking(ctx.tenant, booking))

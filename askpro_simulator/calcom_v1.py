"""Cal.com API v1 (`?apiKey=`): its record shapes, the tenant's v1 listings and the v1 handlers."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from askpro_simulator.accounts import SIM_NOW, SimEventType, SimSchedule, SimUser, iso_ms
from askpro_simulator.records import SimBooking
from askpro_simulator.responses import (
    ApiBase,
    ApiError,
    Ctx,
    Listing,
    Payload,
    V1_TAKE_DEFAULT,
    activity_days,
    hhmmss,
    host_user_id,
    v1_list,
    v1_one,
)
from askpro_simulator.world import TenantWorld


def v1_location(et: SimEventType) -> dict:
    if et.location_kind == "address":
        return {"type": "inPerson", "address": et.location_value, "displayLocationPublicly": True}
    if et.location_kind == "phone":
        return {"type": "userPhone", "hostPhoneNumber": et.location_value}
    return {"type": "integrations:daily"}


def _v1_event_type(tenant: TenantWorld, et: SimEventType) -> dict:
    owner = tenant.user(et.owner_id) if et.owner_id is not None else None
    record = {
        "id": et.id,
        "title": et.title,
        "slug": et.slug,
        "length": et.length,
        "hidden": et.hidden,
        "position": et.position,
        "userId": et.owner_id,
        "teamId": et.team_id,
        # v1 fills a personal type's missing schedule with the owner's default (reference §2.4).
        "scheduleId": et.schedule_id if et.schedule_id is not None or owner is None else owner.default_schedule_id,
        "eventName": None,
        "timeZone": None,
        "periodType": "ROLLING" if et.period_days else "UNLIMITED",
        "periodStartDate": None,
        "periodEndDate": None,
        "periodDays": et.period_days,
        "periodCountCalendarDays": True if et.period_days else None,
        "requiresConfirmation": et.requires_confirmation,
        "recurringEvent": None,
        "disableGuests": True,
        "hideCalendarNotes": False,
        "minimumBookingNotice": et.minimum_booking_notice,
        "beforeEventBuffer": et.before_event_buffer,
        "afterEventBuffer": et.after_event_buffer,
        "schedulingType": {"roundRobin": "ROUND_ROBIN", "collective": "COLLECTIVE"}.get(et.scheduling_type or ""),
        "price": 0,
        "currency": "eur",
        "slotInterval": et.slot_interval,
        "parentId": None,
        "successRedirectUrl": None,
        "description": et.description,
        "locations": [v1_location(et)],
        "metadata": {"multipleDuration": et.length_options} if et.length_options else {},
        "seatsPerTimeSlot": None,
        "seatsShowAttendees": False,
        "seatsShowAvailabilityCount": True,
        "bookingFields": None,
        "bookingLimits": None,
        "onlyShowFirstAvailableSlot": False,
        "durationLimits": None,
        "customInputs": [],
        "hashedLink": None,
        "team": {"slug": tenant.team.slug} if et.is_team else None,
        "hosts": [
            {"userId": host_user_id(tenant, h.user_id), "isFixed": h.mandatory, "scheduleId": h.schedule_id}
            for h in et.hosts
        ],
        "owner": {"username": owner.username, "id": owner.id, "timeZone": owner.time_zone} if owner else None,
        "children": [],
    }
    if owner is not None:
        record["link"] = f"https://cal.com/{owner.username}/{et.slug}"
    return record


def _v1_user(user: SimUser) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "emailVerified": user.email_verified,
        "bio": user.bio,
        "timeZone": user.time_zone,
        "weekStart": user.week_start,
        "endTime": 1440,
        "bufferTime": 0,
        "appTheme": None,
        "theme": None,
        "defaultScheduleId": user.default_schedule_id,
        "locale": "de",
        "timeFormat": 24,
        "hideBranding": False,
        "brandColor": user.brand_color,
        "darkBrandColor": "#fafafa",
        "allowDynamicBooking": True,
        "createdDate": user.created_date,
        "verified": False,
        "invitedTo": None,
        "role": "USER",
    }


def _v1_team(tenant: TenantWorld) -> dict:
    team = tenant.team
    return {
        "id": team.id,
        "name": team.name,
        "slug": team.slug,
        "bio": None,
        "hideBranding": False,
        "hideBookATeamMember": False,
        "isPrivate": False,
        "createdAt": team.created_at,
        "metadata": {},
        "theme": None,
        "brandColor": team.brand_color,
        "darkBrandColor": "#fafafa",
        "parentId": team.parent_id,
        "timeZone": team.time_zone,
        "weekStart": team.week_start,
        "timeFormat": 24,
        "isOrganization": False,
    }


def _v1_membership(tenant: TenantWorld, user: SimUser) -> dict:
    return {
        "id": user.membership_id,
        "teamId": tenant.team.id,
        "userId": user.id,
        "accepted": True,
        "role": user.team_role,
        "disableImpersonation": False,
        "createdAt": user.membership_created_at,
        "updatedAt": user.membership_created_at,
    }


def _v1_schedule(schedule: SimSchedule) -> dict:
    rows = [
        {
            "id": row.id,
            "eventTypeId": None,
            "date": None,
            "days": row.days,
            "startTime": hhmmss(row.start_time),
            "endTime": hhmmss(row.end_time),
        }
        for row in schedule.availability
    ]
    rows += [
        {
            "id": override.id,
            "eventTypeId": None,
            "date": f"{override.date}T00:00:00.000Z",
            "days": [],
            "startTime": hhmmss(override.start_time),
            "endTime": hhmmss(override.end_time),
        }
        for override in schedule.overrides
    ]
    return {
        "id": schedule.id,
        "userId": schedule.user_id,
        "name": schedule.name,
        "timeZone": schedule.time_zone,
        "availability": rows,
    }


def v1_booking(tenant: TenantWorld, booking: SimBooking) -> dict:
    """schemaBookingReadPublic: upper-case status, no updatedAt, `responses` with the location."""
    organizer = tenant.user(booking.organizer_id)
    return {
        "id": booking.id,
        "userId": organizer.id,
        "description": booking.description,
        "eventTypeId": booking.event_type_id,
        "uid": booking.uid,
        "title": booking.title,
        "startTime": iso_ms(booking.start),
        "endTime": iso_ms(booking.end),
        "attendees": [
            {"id": a.id, "email": a.email, "name": a.name, "timeZone": a.time_zone, "locale": a.locale}
            for a in booking.attendees
        ],
        "user": {"email": organizer.email, "name": organizer.name, "timeZone": organizer.time_zone, "locale": "de"},
        "payment": [],
        "metadata": dict(booking.metadata),
        "status": booking.status.upper(),
        "responses": booking_responses(booking, with_location=True),
        "fromReschedule": booking.rescheduled_from_uid,
        "cancelledBy": booking.cancelled_by_email,
        "rescheduledBy": booking.rescheduled_by_email,
        "createdAt": iso_ms(booking.created_at),
    }


def booking_responses(booking: SimBooking, with_location: bool = False) -> dict[str, Any]:
    """Booking-form answers keyed by field slug: v2 `bookingFieldsResponses`, or with the
    location answer v1 `responses`."""
    attendee = booking.attendee
    responses: dict[str, Any] = {"name": attendee.name, "email": attendee.email}
    if attendee.phone_number:
        responses["attendeePhoneNumber"] = attendee.phone_number
    if with_location:
        responses["location"] = {"value": booking.location_type, "optionValue": ""}
    if booking.description:
        responses["notes"] = booking.description
    if len(booking.attendees) > 1:
        responses["guests"] = [a.email for a in booking.attendees[1:]]
    return responses


class CalcomV1Views:
    """The tenant's v1 listings, rendered on first use."""

    @cached_property
    def v1_event_types(self) -> Listing:
        return Listing("v1_event_type", [_v1_event_type(self.tenant, et) for et in self.personal])

    @cached_property
    def v1_team_event_types(self) -> Listing:
        return Listing("v1_event_type", [_v1_event_type(self.tenant, et) for et in self.team])

    @cached_property
    def v1_event_type_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v1_event_types.records + self.v1_team_event_types.records}

    @cached_property
    def v1_users(self) -> Listing:
        return Listing("v1_user", [_v1_user(u) for u in self.users])

    @cached_property
    def v1_user_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v1_users.records}

    @cached_property
    def v1_teams(self) -> Listing:
        return Listing("v1_team", [_v1_team(self.tenant)])

    @cached_property
    def v1_memberships(self) -> Listing:
        return Listing("v1_membership", [_v1_membership(self.tenant, u) for u in self.users])

    @cached_property
    def v1_schedules(self) -> Listing:
        return Listing("v1_schedule", [_v1_schedule(s) for s in self.schedules])

    @cached_property
    def v1_schedule_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v1_schedules.records}


class CalcomV1Api(ApiBase):
    """GET /v1/... handlers."""

    def v1_event_types(self, ctx: Ctx) -> Payload:
        return v1_list("event_types", ctx.views.v1_event_types)

    def v1_event_type(self, ctx: Ctx, event_type_id: str) -> Payload:
        event_type = self._path_int(event_type_id, "id")
        self._check_owner(ctx, "event_type", event_type, f"event type {event_type}", not_found="Event type not found")
        return v1_one("event_type", "v1_event_type", ctx.views.v1_event_type_by_id[event_type])

    def v1_teams(self, ctx: Ctx) -> Payload:
        return v1_list("teams", ctx.views.v1_teams)

    def v1_team_event_types(self, ctx: Ctx, team_id: str) -> Payload:
        self._check_owner(ctx, "team", self._path_int(team_id, "teamId"), f"team {team_id}", not_found="Team not found")
        return v1_list("event_types", ctx.views.v1_team_event_types)

    def v1_users(self, ctx: Ctx) -> Payload:
        """Always paginated: take (default 10) and page (default 1); `total` counts before paging."""
        take = self._int_param(ctx, "take", V1_TAKE_DEFAULT, 1)
        page = self._int_param(ctx, "page", 1, 1)
        listing = ctx.views.v1_users
        emails = {e for raw in ctx.query.getlist("email") for e in raw.split(",") if e}
        if emails:
            listing = listing.filtered(lambda r: r["email"] in emails)
        start = (page - 1) * take
        total = b',"total":' + str(len(listing)).encode() + b"}"
        return v1_list("users", listing.page(start, start + take), suffix=total)

    def v1_user(self, ctx: Ctx, user_id: str) -> Payload:
        user = self._path_int(user_id, "id")
        self._check_owner(ctx, "user", user, f"user {user}", not_found="User not found")
        return v1_one("user", "v1_user", ctx.views.v1_user_by_id[user])

    def v1_schedules(self, ctx: Ctx) -> Payload:
        listing = ctx.views.v1_schedules
        user_ids = {int(v) for raw in ctx.query.getlist("userId") for v in raw.split(",") if v.isdigit()}
        if user_ids:
            listing = listing.filtered(lambda r: r["userId"] in user_ids)
        return v1_list("schedules", listing)

    def v1_schedule(self, ctx: Ctx, schedule_id: str) -> Payload:
        schedule = self._path_int(schedule_id, "id")
        self._check_owner(ctx, "schedule", schedule, f"schedule {schedule}", not_found="Schedule not found")
        return v1_one("schedule", "v1_schedule", ctx.views.v1_schedule_by_id[schedule])

    def v1_memberships(self, ctx: Ctx) -> Payload:
        """The org-admin view: every membership of the tenant's team; include=team adds the team."""
        listing = ctx.views.v1_memberships
        for name in ("userId", "teamId"):
            wanted = {int(v) for raw in ctx.query.getlist(name) for v in raw.split(",") if v.isdigit()}
            if wanted:
                listing = listing.filtered(lambda r, name=name, wanted=wanted: r[name] in wanted)
        if ctx.query.get("include") == "team":
            team = ctx.views.v1_teams.records[0]
            listing = Listing(listing.kind, [r | {"team": team} for r in listing.records])
        return v1_list("memberships", listing)

    def v1_bookings(self, ctx: Ctx) -> Payload:
        """dateFrom (startTime >=), dateTo (endTime <=), attendeeEmail, status=upcoming, order and
        sortBy; paginated only when both take and page are given, else every match."""
        activity = ctx.tenant.activity
        tests: list[Callable[[SimBooking], bool]] = []
        first = last = None
        status = ctx.query.get("status")
        if status == "upcoming":  # overrides the date filters
            tests.append(lambda b: b.start >= SIM_NOW)
            first = activity.local_date(SIM_NOW)
        elif status:
            raise ApiError(400, "status: Invalid enum value. Expected 'upcoming'")
        else:
            date_from, date_to = self._iso_param(ctx, "dateFrom"), self._iso_param(ctx, "dateTo")
            if date_from:
                tests.append(lambda b: b.start >= date_from)
                first = activity.local_date(date_from)
            if date_to:
                tests.append(lambda b: b.end <= date_to)
                last = activity.local_date(date_to)
        emails = {e.lower() for raw in ctx.query.getlist("attendeeEmail") for e in raw.split(",") if e}
        if emails:
            tests.append(lambda b: any(a.email.lower() in emails for a in b.attendees))
        order = ctx.query.get("order") or "asc"
        sort_by = ctx.query.get("sortBy")
        if order not in ("asc", "desc") or sort_by not in (None, "", "createdAt", "updatedAt"):
            raise ApiError(400, "order must be asc or desc; sortBy createdAt or updatedAt")
        attribute = {"createdAt": "created_at", "updatedAt": "updated_at"}.get(sort_by or "", "id")
        rows = ctx.views.rows("v1_booking", activity_days(activity, first, last), lambda b: all(t(b) for t in tests))
        rows.sort(key=lambda row: (getattr(row[0], attribute), row[0].id), reverse=order == "desc")
        if "take" in ctx.query and "page" in ctx.query:
            take = self._int_param(ctx, "take", V1_TAKE_DEFAULT, 1)
            page = self._int_param(ctx, "page", 1, 1)
            rows = rows[(page - 1) * take : page * take]
        return v1_list("bookings", Listing.of_rows("v1_booking", rows))

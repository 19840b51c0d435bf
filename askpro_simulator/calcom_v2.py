"""Cal.com API v2 (Bearer, `cal-api-version`): its record shapes, the tenant's v2 listings and handlers."""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any

from askpro_simulator.accounts import SimEventType, SimSchedule, SimUser, WEEKDAY_NAMES
from askpro_simulator.calcom_v1 import v1_location
from askpro_simulator.responses import ApiBase, Ctx, Listing, Payload, host_user_id, v2_list, v2_one
from askpro_simulator.world import TenantWorld

V2_EVENT_TYPES_VERSION = "2024-06-14"
V2_SCHEDULES_VERSIONS = ("2024-06-11", "2024-06-14")


def _v2_location(et: SimEventType) -> dict:
    if et.location_kind == "address":
        return {"type": "address", "address": et.location_value, "public": True}
    if et.location_kind == "phone":
        return {"type": "phone", "phone": et.location_value, "public": False}
    return {"type": "integration", "integration": "cal-video"}


def _v2_booking_fields(et: SimEventType) -> list[dict]:
    booking_fields = [
        {"type": "name", "slug": "name", "isDefault": True, "required": True, "hidden": False},
        {"type": "email", "slug": "email", "isDefault": True, "required": True, "hidden": False},
    ]
    if et.ask_phone_number:
        booking_fields.append(
            {"type": "phone", "slug": "attendeePhoneNumber", "isDefault": True, "required": True, "hidden": False}
        )
    return booking_fields


def _v2_user_summary(user: SimUser) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "avatarUrl": None,
        "weekStart": user.week_start,
        "brandColor": user.brand_color,
        "darkBrandColor": "#fafafa",
        "metadata": {},
    }


def _v2_event_type(tenant: TenantWorld, et: SimEventType) -> dict:
    """EventTypeOutput_2024_06_14, or the team variant for a team event type."""
    record: dict[str, Any] = {"id": et.id, "lengthInMinutes": et.length}
    if et.length_options:
        record["lengthInMinutesOptions"] = et.length_options
    record |= {
        "title": et.title,
        "slug": et.slug,
        "description": et.description,
        "locations": [_v2_location(et)],
        "bookingFields": _v2_booking_fields(et),
        "disableGuests": True,
        "slotInterval": et.slot_interval,
        "minimumBookingNotice": et.minimum_booking_notice,
        "beforeEventBuffer": et.before_event_buffer,
        "afterEventBuffer": et.after_event_buffer,
        "recurrence": None,
        "metadata": {},
        "price": 0,
        "currency": "eur",
        "lockTimeZoneToggleOnBookingPage": False,
        "seatsPerTimeSlot": None,
        "forwardParamsSuccessRedirect": True,
        "successRedirectUrl": None,
        "isInstantEvent": False,
    }
    if not et.is_team:
        owner = tenant.user(et.owner_id)
        return record | {
            "seatsShowAvailabilityCount": False,
            "scheduleId": et.schedule_id,
            "hidden": et.hidden,
            "bookingRequiresAuthentication": False,
            "ownerId": owner.id,
            "users": [_v2_user_summary(owner)],
        }
    team = tenant.team
    hosts = []
    for host in et.hosts:
        user = tenant.user(host.user_id)
        hosts.append(
            {
                "userId": host_user_id(tenant, host.user_id),
                "mandatory": host.mandatory,
                "priority": host.priority,
                "name": user.name,
                "username": user.username,
                "avatarUrl": None,
            }
        )
    return record | {
        "scheduleId": et.schedule_id,
        "hidden": et.hidden,
        "teamId": team.id,
        "ownerId": None,
        "parentEventTypeId": None,
        "hosts": hosts,
        "assignAllTeamMembers": False,
        "schedulingType": et.scheduling_type,
        "team": {
            "id": team.id,
            "slug": team.slug,
            "name": team.name,
            "weekStart": team.week_start,
            "brandColor": team.brand_color,
            "darkBrandColor": "#fafafa",
        },
        "rescheduleWithSameRoundRobinHost": et.scheduling_type == "roundRobin",
    }


def _v2_event_type_old(tenant: TenantWorld, et: SimEventType) -> dict:
    """The pre-2024-06-14 shape a v2 client gets without the version header (`length`, not `lengthInMinutes`)."""
    users = [tenant.user(et.owner_id)] if et.owner_id is not None else [tenant.user(h.user_id) for h in et.hosts]
    return {
        "id": et.id,
        "title": et.title,
        "slug": et.slug,
        "length": et.length,
        "hidden": et.hidden,
        "position": et.position,
        "userId": et.owner_id,
        "teamId": et.team_id,
        "scheduleId": et.schedule_id,
        "description": et.description,
        "locations": [v1_location(et)],
        "metadata": {"multipleDuration": et.length_options} if et.length_options else {},
        "schedulingType": {"roundRobin": "ROUND_ROBIN", "collective": "COLLECTIVE"}.get(et.scheduling_type or ""),
        "minimumBookingNotice": et.minimum_booking_notice,
        "beforeEventBuffer": et.before_event_buffer,
        "afterEventBuffer": et.after_event_buffer,
        "slotInterval": et.slot_interval,
        "requiresConfirmation": et.requires_confirmation,
        "price": 0,
        "currency": "eur",
        "users": [{"id": u.id, "username": u.username, "name": u.name, "avatarUrl": None} for u in users],
    }


def _v2_org_user(tenant: TenantWorld, user: SimUser) -> dict:
    """GetUserOutput plus the organization `profile`."""
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "emailVerified": user.email_verified,
        "bio": user.bio,
        "avatarUrl": None,
        "timeZone": user.time_zone,
        "weekStart": user.week_start,
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
        "metadata": {},
        "profile": {
            "id": user.profile_id,
            "organizationId": tenant.organization.id,
            "userId": user.id,
            "username": user.username,
        },
    }


def _v2_me(tenant: TenantWorld) -> dict:
    user = tenant.admin
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "name": user.name,
        "avatarUrl": None,
        "bio": user.bio,
        "timeFormat": 24,
        "defaultScheduleId": user.default_schedule_id,
        "weekStart": user.week_start,
        "timeZone": user.time_zone,
        "organizationId": tenant.organization.id,
        "organization": {"isPlatform": False, "id": tenant.organization.id},
    }


def _v2_team(tenant: TenantWorld) -> dict:
    team = tenant.team
    return {
        "id": team.id,
        "parentId": team.parent_id,
        "name": team.name,
        "slug": team.slug,
        "logoUrl": None,
        "calVideoLogo": None,
        "appLogo": None,
        "appIconLogo": None,
        "bio": None,
        "hideBranding": False,
        "isOrganization": False,
        "isPrivate": False,
        "hideBookATeamMember": False,
        "metadata": {},
        "theme": None,
        "brandColor": team.brand_color,
        "darkBrandColor": "#fafafa",
        "bannerUrl": None,
        "timeFormat": 24,
        "timeZone": team.time_zone,
        "weekStart": team.week_start,
    }


def _v2_team_membership(tenant: TenantWorld, user: SimUser) -> dict:
    summary: dict[str, Any] = {"avatarUrl": None, "username": user.username, "name": user.name, "email": user.email}
    if user.bio is not None:
        summary["bio"] = user.bio
    return {
        "id": user.membership_id,
        "userId": user.id,
        "teamId": tenant.team.id,
        "accepted": True,
        "role": user.team_role,
        "disableImpersonation": False,
        "user": summary,
    }


def _v2_schedule(schedule: SimSchedule) -> dict:
    """ScheduleOutput_2024_06_11: English weekday names, "HH:mm" times."""
    return {
        "id": schedule.id,
        "ownerId": schedule.user_id,
        "name": schedule.name,
        "timeZone": schedule.time_zone,
        "availability": [
            {"days": [WEEKDAY_NAMES[d] for d in row.days], "startTime": row.start_time, "endTime": row.end_time}
            for row in schedule.availability
        ],
        "isDefault": schedule.is_default,
        "overrides": [
            {"date": o.date, "startTime": o.start_time, "endTime": o.end_time} for o in schedule.overrides
        ],
    }


def _v2_schedule_old(schedule: SimSchedule, is_last: bool) -> dict:
    """The 2024-04-15 shape a v2 client gets without the schedules version header."""

    def clock(hhmm: str) -> str:
        return f"1970-01-01T{hhmm}:00.000Z"

    def minutes(hhmm: str) -> int:
        hours, mins = hhmm.split(":")
        return int(hours) * 60 + int(mins)

    per_day: list[list[dict]] = [[] for _ in range(7)]
    for row in schedule.availability:
        for day in row.days:
            per_day[day].append({"start": clock(row.start_time), "end": clock(row.end_time)})
    return {
        "id": schedule.id,
        "name": schedule.name,
        "isManaged": False,
        "workingHours": [
            {
                "days": row.days,
                "startTime": minutes(row.start_time),
                "endTime": minutes(row.end_time),
                "userId": schedule.user_id,
            }
            for row in schedule.availability
        ],
        "schedule": [
            {
                "id": row.id,
                "userId": schedule.user_id,
                "eventTypeId": None,
                "days": row.days,
                "startTime": clock(row.start_time),
                "endTime": clock(row.end_time),
                "date": None,
                "scheduleId": schedule.id,
            }
            for row in schedule.availability
        ],
        "availability": per_day,
        "timeZone": schedule.time_zone,
        "dateOverrides": [
            {"ranges": [{"start": f"{o.date}T{o.start_time}:00.000Z", "end": f"{o.date}T{o.end_time}:00.000Z"}]}
            for o in schedule.overrides
        ],
        "isDefault": schedule.is_default,
        "isLastSchedule": is_last,
        "readOnly": False,
    }


class CalcomV2Views:
    """The tenant's v2 listings, rendered on first use."""

    @cached_property
    def v2_me(self) -> dict:
        return _v2_me(self.tenant)

    @cached_property
    def v2_event_types(self) -> Listing:
        return Listing("v2_event_type", [_v2_event_type(self.tenant, et) for et in self.personal])

    @cached_property
    def v2_event_types_old(self) -> Listing:
        return Listing("v2_event_type_old", [_v2_event_type_old(self.tenant, et) for et in self.personal])

    @cached_property
    def v2_team_event_types(self) -> Listing:
        return Listing("v2_event_type", [_v2_event_type(self.tenant, et) for et in self.team])

    @cached_property
    def v2_event_type_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v2_event_types.records + self.v2_team_event_types.records}

    @cached_property
    def v2_event_type_old_by_id(self) -> dict[int, dict]:
        return {et.id: _v2_event_type_old(self.tenant, et) for et in self.tenant.event_types}

    @cached_property
    def v2_teams(self) -> Listing:
        return Listing("v2_team", [_v2_team(self.tenant)])

    @cached_property
    def v2_team_memberships(self) -> Listing:
        return Listing("v2_membership", [_v2_team_membership(self.tenant, u) for u in self.users])

    @cached_property
    def v2_org_users(self) -> Listing:
        return Listing("v2_user", [_v2_org_user(self.tenant, u) for u in self.users])

    @cached_property
    def v2_org_schedules(self) -> Listing:
        return Listing("v2_schedule", [_v2_schedule(s) for s in self.schedules])

    @cached_property
    def v2_schedule_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v2_org_schedules.records}

    @cached_property
    def v2_my_schedules(self) -> Listing:
        return Listing("v2_schedule", [_v2_schedule(s) for s in self.admin_schedules])

    @cached_property
    def v2_my_schedules_old(self) -> Listing:
        only_one = len(self.admin_schedules) == 1
        return Listing("v2_schedule_old", [_v2_schedule_old(s, only_one) for s in self.admin_schedules])

    @cached_property
    def v2_schedule_old_by_id(self) -> dict[int, dict]:
        per_user = Counter(s.user_id for s in self.schedules)
        return {s.id: _v2_schedule_old(s, per_user[s.user_id] == 1) for s in self.schedules}


class CalcomV2Api(ApiBase):
    """GET /v2/... handlers."""

    def v2_me(self, ctx: Ctx) -> Payload:
        return v2_one("v2_me", ctx.views.v2_me)

    def v2_event_types(self, ctx: Ctx) -> Payload:
        if ctx.headers.get("cal-api-version") == V2_EVENT_TYPES_VERSION:
            return v2_list(ctx.views.v2_event_types)
        return v2_list(ctx.views.v2_event_types_old)

    def v2_event_type(self, ctx: Ctx, event_type_id: str) -> Payload:
        event_type = self._path_int(event_type_id, "eventTypeId")
        self._check_owner(ctx, "event_type", event_type, f"event type with id={event_type}")
        if ctx.headers.get("cal-api-version") == V2_EVENT_TYPES_VERSION:
            return v2_one("v2_event_type", ctx.views.v2_event_type_by_id[event_type])
        return v2_one("v2_event_type_old", ctx.views.v2_event_type_old_by_id[event_type])

    def v2_teams(self, ctx: Ctx) -> Payload:
        return v2_list(ctx.views.v2_teams)

    def v2_team_event_types(self, ctx: Ctx, team_id: str) -> Payload:
        self._check_owner(ctx, "team", self._path_int(team_id, "teamId"), f"team {team_id}")
        listing = ctx.views.v2_team_event_types
        slug = ctx.query.get("eventSlug")
        if slug:
            listing = listing.filtered(lambda r: r["slug"] == slug)
        return v2_list(listing)

    def v2_team_memberships(self, ctx: Ctx, team_id: str) -> Payload:
        self._check_owner(ctx, "team", self._path_int(team_id, "teamId"), f"team {team_id}")
        skip, take = self._skip_take(ctx)
        return v2_list(ctx.views.v2_team_memberships.page(skip, skip + take))

    def v2_org_users(self, ctx: Ctx, org_id: str) -> Payload:
        self._check_owner(ctx, "org", self._path_int(org_id, "orgId"), f"organization {org_id}")
        skip, take = self._skip_take(ctx)
        listing = ctx.views.v2_org_users
        emails = {e for raw in ctx.query.getlist("emails") for e in raw.split(",") if e}
        if emails:
            listing = listing.filtered(lambda r: r["email"] in emails)
        return v2_list(listing.page(skip, skip + take))

    def v2_org_schedules(self, ctx: Ctx, org_id: str) -> Payload:
        self._check_owner(ctx, "org", self._path_int(org_id, "orgId"), f"organization {org_id}")
        skip, take = self._skip_take(ctx)
        return v2_list(ctx.views.v2_org_schedules.page(skip, skip + take))

    @staticmethod
    def _new_schedule_shape(ctx: Ctx) -> bool:
        return ctx.headers.get("cal-api-version") in V2_SCHEDULES_VERSIONS

    def v2_schedules(self, ctx: Ctx) -> Payload:
        if self._new_schedule_shape(ctx):
            return v2_list(ctx.views.v2_my_schedules)
        return v2_list(ctx.views.v2_my_schedules_old)

    def v2_default_schedule(self, ctx: Ctx) -> Payload:
        return self.v2_schedule(ctx, str(ctx.views.admin_default_schedule_id))

    def v2_schedule(self, ctx: Ctx, schedule_id: str) -> Payload:
        schedule = self._path_int(schedule_id, "scheduleId")
        self._check_owner(ctx, "schedule", schedule, f"schedule with id={schedule}")
        if self._new_schedule_shape(ctx):
            return v2_one("v2_schedule", ctx.views.v2_schedule_by_id[schedule])
        return v2_one("v2_schedule_old", ctx.views.v2_schedule_old_by_id[schedule])

"""Cal.com (v1, v2) and Retell served over real HTTP on loopback, with injectable faults.

Responses are rendered from the world on first use into pre-encoded JSON records, so a page of
a large world is a slice and a join. Bookings and calls are rendered per tenant and local day,
once per revision of that day (tests can mutate bookings), so a listing over a range is a walk
over cached days. Bodies are byte-identical for the same config; only the rate-limit counters
in the headers depend on how many requests came before.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import http.client
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from askpro_pipelines.simulator.activity import (
    ACTIVITY_FIRST_DAY,
    ACTIVITY_LAST_DAY,
    SimBooking,
    SimCall,
    TenantActivity,
    retell_call_object,
)
from askpro_pipelines.simulator import retell_routes, retell_writes, slots
from askpro_pipelines.simulator.world import (
    SIM_NOW,
    WEEKDAY_NAMES,
    SimAgent,
    SimAgentVersion,
    SimEventType,
    SimPhoneNumber,
    SimSchedule,
    SimulatorConfig,
    SimUser,
    TenantWorld,
    World,
    build_world,
    iso_ms,
)

ERROR_TIMESTAMP = iso_ms(SIM_NOW)
"""Cal.com v2 error bodies carry a timestamp; a fixed one keeps error bodies reproducible."""

V2_EVENT_TYPES_VERSION = "2024-06-14"
V2_SCHEDULES_VERSIONS = ("2024-06-11", "2024-06-14")

# Rate-limit headers: limits from the reference (v1 code: 30/min; v2 docs: 120/min). Remaining
# counts down per request and key and wraps each "window"; Reset is a deterministic fake clock
# anchored in the past, so a client that waits for the reset never waits in a test.
V1_RATE_LIMIT = 30
V2_RATE_LIMIT = 120
RATE_LIMIT_CLOCK_START = 1_700_000_000
RATE_LIMIT_WINDOW_S = 60

V2_TAKE_DEFAULT = V2_TAKE_MAX = 250
V2_BOOKINGS_VERSION = "2024-08-13"
V2_BOOKINGS_TAKE_DEFAULT = 100
V1_TAKE_DEFAULT = 10
RETELL_LIST_CALLS_LIMIT = 50
RETELL_LIST_AGENTS_LIMIT = 50
RETELL_LEGACY_LIST_AGENTS_LIMIT = 1000
RETELL_PHONE_NUMBERS_LIMIT = 50
RETELL_MAX_LIMIT = 1000

Api = Literal["v1", "v2", "retell"]


# ---- faults -----------------------------------------------------------------------------------


@dataclass
class Fault:
    """A misbehaviour the next matching requests get; matched in the order faults were added.

    `drift` answers normally but with `changes` merged into the first record of the response
    (new keys, changed enum values): a provider changing its shapes under its users.
    """

    kind: Literal["status", "slow", "malformed", "drift"]
    path_prefix: str = ""
    tenant: str | None = None
    status: int = 503
    count: int = 1
    retry_after: float | None = None
    retry_after_header: str = "Retry-After"
    delay_s: float = 0.0
    changes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("status", "slow", "malformed", "drift"):
            raise ValueError(f"fault kind must be status, slow, malformed or drift, not {self.kind!r}")
        if (self.kind == "drift") != bool(self.changes):
            raise ValueError("a drift fault needs changes, and only a drift fault takes them")
        if self.count == 0 or self.count < -1:
            raise ValueError("fault count must be positive, or -1 for forever")
        if self.retry_after_header.lower() not in ("retry-after", "retry-after-ms"):
            raise ValueError("retry_after_header must be 'Retry-After' or 'retry-after-ms'")
        if not 400 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP error status, not {self.status}")
        if self.delay_s < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("delay_s and retry_after must not be negative")

    def retry_headers(self) -> dict[str, str]:
        """The retry header; a 429 always carries one (1 s unless retry_after says otherwise)."""
        seconds = self.retry_after
        if seconds is None:
            if self.status != 429:
                return {}
            seconds = 1.0
        if self.retry_after_header.lower() == "retry-after-ms":
            return {"retry-after-ms": str(round(seconds * 1000))}
        return {"Retry-After": str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"}


# ---- rendering: world -> API shapes -----------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Listing:
    """Records of one list response, each also pre-encoded, so pages are cheap to serve."""

    def __init__(self, kind: str, records: list[dict]):
        self.kind = kind
        self.records = records
        self.encoded = [_dumps(r) for r in records]

    def __len__(self) -> int:
        return len(self.records)

    def _derived(self, records: list[dict], encoded: list[bytes]) -> _Listing:
        """A view on some of these records that reuses their encodings."""
        derived = _Listing.__new__(_Listing)
        derived.kind, derived.records, derived.encoded = self.kind, records, encoded
        return derived

    def page(self, start: int, stop: int | None) -> _Listing:
        return self._derived(self.records[start:stop], self.encoded[start:stop])

    def filtered(self, keep: Callable[[dict], bool]) -> _Listing:
        chosen = [i for i, record in enumerate(self.records) if keep(record)]
        return self._derived([self.records[i] for i in chosen], [self.encoded[i] for i in chosen])

    def reversed(self) -> _Listing:
        return self._derived(self.records[::-1], self.encoded[::-1])

    @classmethod
    def of_rows(cls, kind: str, rows: list[tuple[Any, dict, bytes]]) -> _Listing:
        """A listing of (item, record, encoding) rows that reuses their encodings."""
        listing = cls.__new__(cls)
        listing.kind, listing.records, listing.encoded = kind, [r[1] for r in rows], [r[2] for r in rows]
        return listing


def _hhmmss(hhmm: str) -> str:
    return f"{hhmm}:00"


def _v1_location(et: SimEventType) -> dict:
    if et.location_kind == "address":
        return {"type": "inPerson", "address": et.location_value, "displayLocationPublicly": True}
    if et.location_kind == "phone":
        return {"type": "userPhone", "hostPhoneNumber": et.location_value}
    return {"type": "integrations:daily"}


def _v2_location(et: SimEventType) -> dict:
    if et.location_kind == "address":
        return {"type": "address", "address": et.location_value, "public": True}
    if et.location_kind == "phone":
        return {"type": "phone", "phone": et.location_value, "public": False}
    return {"type": "integration", "integration": "cal-video"}


def _host_user_id(tenant: TenantWorld, user_id: int) -> int | str:
    return tenant.user(user_id).uuid if tenant.spec.uuid_host_ids else user_id


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
        "locations": [_v1_location(et)],
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
            {"userId": _host_user_id(tenant, h.user_id), "isFixed": h.mandatory, "scheduleId": h.schedule_id}
            for h in et.hosts
        ],
        "owner": {"username": owner.username, "id": owner.id, "timeZone": owner.time_zone} if owner else None,
        "children": [],
    }
    if owner is not None:
        record["link"] = f"https://cal.com/{owner.username}/{et.slug}"
    return record


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
                "userId": _host_user_id(tenant, host.user_id),
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
        "locations": [_v1_location(et)],
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


def _v1_schedule(schedule: SimSchedule) -> dict:
    rows = [
        {
            "id": row.id,
            "eventTypeId": None,
            "date": None,
            "days": row.days,
            "startTime": _hhmmss(row.start_time),
            "endTime": _hhmmss(row.end_time),
        }
        for row in schedule.availability
    ]
    rows += [
        {
            "id": override.id,
            "eventTypeId": None,
            "date": f"{override.date}T00:00:00.000Z",
            "days": [],
            "startTime": _hhmmss(override.start_time),
            "endTime": _hhmmss(override.end_time),
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


_POST_CALL_ANALYSIS = [
    {"type": "system-presets", "name": "call_summary"},
    {
        "type": "string",
        "name": "terminwunsch",
        "description": "Gewünschter Termin des Anrufers (Datum/Uhrzeit) im Format YYYY-MM-DD HH:MM, falls genannt.",
    },
    {
        "type": "enum",
        "name": "anliegen",
        "description": "Hauptanliegen des Anrufs",
        "choices": ["Terminbuchung", "Terminabsage", "Rezeptfrage", "Sonstiges"],
    },
    {"type": "boolean", "name": "termin_gebucht", "description": "Wurde im Gespräch ein Termin gebucht?"},
]


def _agent_index(tenant: TenantWorld, agent: SimAgent) -> int:
    return next(i for i, a in enumerate(tenant.agents) if a.agent_id == agent.agent_id)


def _retell_agent(tenant: TenantWorld, agent: SimAgent, version: SimAgentVersion) -> dict:
    engine_version = retell_routes.engine_version(version.version, _agent_index(tenant, agent))
    return {
        "agent_id": agent.agent_id,
        "agent_name": agent.agent_name,
        "version": version.version,
        "is_published": version.is_published,
        "version_title": version.version_title,
        "base_version": version.version - 1 if version.version > 0 else None,
        "response_engine": {"type": "retell-llm", "llm_id": agent.llm_id, "version": engine_version},
        "voice_id": agent.voice_id,
        "voice_model": "eleven_multilingual_v2",
        "voice_temperature": 1,
        "voice_speed": 1,
        "volume": 1,
        "language": "de-DE",
        "timezone": tenant.spec.time_zone,
        "webhook_url": agent.webhook_url,
        "webhook_events": ["call_started", "call_ended", "call_analyzed"],
        "webhook_timeout_ms": 10000,
        "interruption_sensitivity": 0.9,
        "responsiveness": 1,
        "enable_backchannel": True,
        "backchannel_words": ["ja", "genau", "mhm"],
        "boosted_keywords": sorted({et.title for et in tenant.event_types[:3]}),
        "end_call_after_silence_ms": 30000,
        "max_call_duration_ms": 900000,
        "begin_message_delay_ms": 400,
        "ring_duration_ms": 30000,
        "stt_mode": "accurate",
        "vocab_specialization": "medical",
        "denoising_mode": "noise-cancellation",
        "data_storage_setting": "everything_except_pii",
        "opt_in_signed_url": True,
        "post_call_analysis_model": "gpt-4.1-mini",
        "post_call_analysis_data": _POST_CALL_ANALYSIS,
        "pronunciation_dictionary": [{"word": "KG", "alphabet": "ipa", "phoneme": "kaːˈɡeː"}],
        "last_modification_timestamp": version.last_modification_timestamp,
    }


def _retell_agent_summary(agent: SimAgent) -> dict:
    return {
        "agent_id": agent.agent_id,
        "agent_name": agent.agent_name,
        "channel": "voice",
        "is_suspended": False,
        "tags": agent.tags,
        "user_modified_timestamp": agent.latest.last_modification_timestamp,
    }


def _retell_llm(tenant: TenantWorld, agent: SimAgent, version: SimAgentVersion) -> dict:
    booked = tenant.event_types[0].id if tenant.event_types else None
    cal_tools = []
    if booked is not None:
        cal_tools = retell_routes.booking_tools(
            event_type_id=booked,
            time_zone=tenant.spec.time_zone,
            calcom_key=tenant.spec.calcom_key,
            cal_tools=retell_routes.uses_cal_tools(tenant.spec.retell_generation, _agent_index(tenant, agent)),
            slug=tenant.slug,
        )
    return {
        "llm_id": agent.llm_id,
        "version": version.version,
        "is_published": version.is_published,
        "model": "gpt-4.1",
        "model_temperature": 0.2,
        "model_high_priority": False,
        "tool_call_strict_mode": True,
        "start_speaker": "agent",
        "begin_message": f"{tenant.company_name}, guten Tag! Sie sprechen mit der digitalen Rezeption.",
        "general_prompt": (
            f"Du bist die freundliche telefonische Rezeption von {tenant.company_name}. "
            f"Sprich Deutsch und siezt die Anrufer. Zeitzone {tenant.spec.time_zone}."
        ),
        "general_tools": [
            {
                "type": "end_call",
                "name": "end_call",
                "description": "Beende das Gespräch, wenn der Anrufer sich verabschiedet.",
            }
        ]
        + cal_tools,
        "states": None,
        "starting_state": None,
        "default_dynamic_variables": {"praxis_name": tenant.company_name},
        "knowledge_base_ids": [],
        "last_modification_timestamp": version.last_modification_timestamp,
    } | version.llm_changes


def _retell_phone_number(tenant: TenantWorld, number: SimPhoneNumber) -> dict:
    def bindings(items):
        return [{"agent_id": b.agent_id, "agent_version": b.agent_version, "weight": b.weight} for b in items]

    return {
        "phone_number": number.phone_number,
        "phone_number_pretty": number.phone_number_pretty,
        "phone_number_type": "custom",
        "nickname": number.nickname,
        "inbound_agents": bindings(number.inbound_agents),
        "outbound_agents": bindings(number.outbound_agents),
        "inbound_webhook_url": None,
        "allowed_inbound_country_list": ["DE", "AT", "CH"],
        "allowed_outbound_country_list": ["DE"],
        "sip_outbound_trunk_config": {
            "termination_uri": "sip.example-carrier.de",
            "auth_username": tenant.slug,
            "transport": "TLS",
        },
        "last_modification_timestamp": number.last_modification_timestamp,
    }


def _retell_phone_number_legacy(tenant: TenantWorld, number: SimPhoneNumber) -> dict:
    """The pre-2026 shape: the weighted arrays plus the deprecated single-agent fields."""

    def first(items):
        if not items:
            return None, None
        version = items[0].agent_version
        return items[0].agent_id, version if isinstance(version, int) else None

    inbound_id, inbound_version = first(number.inbound_agents)
    outbound_id, outbound_version = first(number.outbound_agents)
    return _retell_phone_number(tenant, number) | {
        "inbound_agent_id": inbound_id,
        "inbound_agent_version": inbound_version,
        "outbound_agent_id": outbound_id,
        "outbound_agent_version": outbound_version,
        "area_code": None,
    }


def _booking_responses(booking: SimBooking, with_location: bool = False) -> dict[str, Any]:
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


def _v2_booking(tenant: TenantWorld, booking: SimBooking) -> dict:
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
        "bookingFieldsResponses": _booking_responses(booking),
    }


def _v1_booking(tenant: TenantWorld, booking: SimBooking) -> dict:
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
        "responses": _booking_responses(booking, with_location=True),
        "fromReschedule": booking.rescheduled_from_uid,
        "cancelledBy": booking.cancelled_by_email,
        "rescheduledBy": booking.rescheduled_by_email,
        "createdAt": iso_ms(booking.created_at),
    }


# kind -> (renderer, which of a day's items it renders)
_DAY_RENDERERS: dict[str, tuple[Callable[[TenantWorld, Any], dict], str]] = {
    "v2_booking": (_v2_booking, "bookings"),
    "v1_booking": (_v1_booking, "bookings"),
    "retell_call": (lambda _tenant, call: retell_call_object(call, transcript=False), "calls"),
    "retell_call_full": (lambda _tenant, call: retell_call_object(call), "calls"),
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


def _activity_days(
    activity: TenantActivity, first: date | None, last: date | None, generated_from: date | None = None
) -> list[date]:
    """Local days that can hold matches: [first, last] clipped to the activity year.

    `generated_from` is a lower bound that only holds for generated data (created <= updated <=
    start): days before it are walked only if a test mutation touched them.
    """
    first = max(first or ACTIVITY_FIRST_DAY, ACTIVITY_FIRST_DAY)
    last = min(last or ACTIVITY_LAST_DAY, ACTIVITY_LAST_DAY)
    low = max(first, generated_from) if generated_from else first
    touched = activity.touched_days if low > first else frozenset()
    days, day = [], first
    while day <= last:
        if day >= low or day in touched:
            days.append(day)
        day += timedelta(days=1)
    return days


def _encode_call_cursor(call: SimCall) -> str:
    raw = json.dumps({"start_timestamp": call.start_timestamp, "call_id": call.call_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_call_cursor(key: str) -> tuple[int, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))
        return int(raw["start_timestamp"]), str(raw["call_id"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise _ApiError(400, f"Invalid pagination_key: {key}") from None


def _page_after(rows: list[tuple[Any, dict, bytes]], after: tuple[int, str], descending: bool) -> int:
    """Index of the first call row beyond the cursor in the listing's order."""
    for index, (call, _, _) in enumerate(rows):
        position = (call.start_timestamp, call.call_id)
        if (position < after) if descending else (position > after):
            return index
    return len(rows)


_NUMBER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
    "co": lambda a, b: b in a,
}
_CALL_NUMBERS: dict[str, Callable[[SimCall], Any]] = {
    "start_timestamp": lambda c: c.start_timestamp,
    "end_timestamp": lambda c: c.end_timestamp,
    "duration_ms": lambda c: c.duration_ms,
    "combined_cost": lambda c: c.call_cost["combined_cost"],
    "e2e_latency_p50": lambda c: c.latency.get("e2e", {}).get("p50"),
}
_CALL_VALUES: dict[str, Callable[[SimCall], Any]] = {
    "call_id": lambda c: c.call_id,
    "call_status": lambda c: c.call_status,
    "call_type": lambda c: "phone_call",
    "direction": lambda c: c.direction,
    "disconnection_reason": lambda c: c.disconnection_reason,
    "user_sentiment": lambda c: c.call_analysis.get("user_sentiment"),
    "from_number": lambda c: c.from_number,
    "to_number": lambda c: c.to_number,
    "call_successful": lambda c: c.call_analysis.get("call_successful"),
    "in_voicemail": lambda c: c.call_analysis.get("in_voicemail"),
    "agent_id": lambda c: c.agent_id,
    "version": lambda c: c.agent_version,
}


def _bad_filter(name: str, why: str) -> _ApiError:
    return _ApiError(400, f"filter_criteria.{name}: {why}")


def _v3_number_filter(name: str, spec: Any) -> tuple[Callable[[SimCall], bool], int | None, int | None]:
    """A typed number or range filter, and the (lo, hi) it puts on the value."""
    if not isinstance(spec, dict):
        raise _bad_filter(name, "expected {op, type, value}")
    op, value, read = spec.get("op"), spec.get("value"), _CALL_NUMBERS[name]
    if op == "bt":
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
            raise _bad_filter(name, "op bt needs value [lo, hi]")
        lo, hi = value
        return (lambda c: (v := read(c)) is not None and lo <= v <= hi), lo, hi
    if op not in _NUMBER_OPS or not isinstance(value, int | float) or isinstance(value, bool):
        raise _bad_filter(name, "op must be eq, ne, gt, ge, lt, le or bt with a number value")
    compare = _NUMBER_OPS[op]
    lo = value if op in ("eq", "gt", "ge") else None
    hi = value if op in ("eq", "lt", "le") else None
    return (lambda c: (v := read(c)) is not None and compare(v, value)), lo, hi


def _v3_call_filters(criteria: dict) -> tuple[list[Callable[[SimCall], bool]], int | None, int | None]:
    """POST /v3/list-calls filter_criteria as predicates, plus the start_timestamp bounds."""
    tests: list[Callable[[SimCall], bool]] = []
    lo = hi = None
    for name, spec in criteria.items():
        if name in _CALL_NUMBERS:
            test, low, high = _v3_number_filter(name, spec)
            tests.append(test)
            if name == "start_timestamp":
                lo, hi = low, high
        elif name == "agent":
            if not isinstance(spec, list) or not all(isinstance(a, dict) and a.get("agent_id") for a in spec):
                raise _bad_filter(name, "expected [{agent_id, version?}]")
            wanted = [(a["agent_id"], set(a.get("version") or [])) for a in spec]
            tests.append(
                lambda c, wanted=wanted: any(c.agent_id == i and (not v or c.agent_version in v) for i, v in wanted)
            )
        elif name in _CALL_VALUES and name not in ("agent_id", "version"):
            if not isinstance(spec, dict):
                raise _bad_filter(name, "expected {op, type, value}")
            read, op, value = _CALL_VALUES[name], spec.get("op"), spec.get("value")
            if spec.get("type") == "string" and op in _STRING_OPS and isinstance(value, str):
                compare = _STRING_OPS[op]
                tests.append(lambda c, read=read, compare=compare, value=value: compare(read(c), value))
            elif op == "in" and isinstance(value, list):
                tests.append(lambda c, read=read, value=value: read(c) in value)
            elif op in ("eq", "ne") and not isinstance(value, list | dict):
                tests.append(lambda c, read=read, op=op, value=value: (read(c) == value) == (op == "eq"))
            else:
                raise _bad_filter(name, "unsupported op, type or value")
        else:
            raise _bad_filter(name, "not supported by the simulator")
    return tests, lo, hi


def _legacy_call_filters(criteria: dict) -> tuple[list[Callable[[SimCall], bool]], int | None, int | None]:
    """POST /v2/list-calls filter_criteria: value arrays, {lower_threshold, upper_threshold} ranges
    (both inclusive) and {key: [values]} for metadata and dynamic_variables."""
    tests: list[Callable[[SimCall], bool]] = []
    lo = hi = None
    for name, spec in criteria.items():
        if name in _CALL_NUMBERS:
            if not isinstance(spec, dict) or set(spec) - {"lower_threshold", "upper_threshold"}:
                raise _bad_filter(name, "expected {lower_threshold, upper_threshold}")
            low, high, read = spec.get("lower_threshold"), spec.get("upper_threshold"), _CALL_NUMBERS[name]
            tests.append(
                lambda c, read=read, low=low, high=high: (v := read(c)) is not None
                and (low is None or v >= low)
                and (high is None or v <= high)
            )
            if name == "start_timestamp":
                lo, hi = low, high
        elif name in _CALL_VALUES:
            if not isinstance(spec, list):
                raise _bad_filter(name, "expected an array of values")
            tests.append(lambda c, read=_CALL_VALUES[name], spec=spec: read(c) in spec)
        elif name in ("metadata", "dynamic_variables"):
            if not isinstance(spec, dict) or not all(isinstance(v, list) for v in spec.values()):
                raise _bad_filter(name, "expected {key: [values]}")
            attribute = "metadata" if name == "metadata" else "retell_llm_dynamic_variables"
            tests.append(
                lambda c, attribute=attribute, spec=spec: all(
                    getattr(c, attribute).get(key) in values for key, values in spec.items()
                )
            )
        else:
            raise _bad_filter(name, "not supported by the simulator")
    return tests, lo, hi


def _ms_to_local_date(activity: TenantActivity, value: float | None) -> date | None:
    if value is None:
        return None
    try:
        return activity.local_date(datetime.fromtimestamp(value / 1000, UTC))
    except (OverflowError, OSError, ValueError):
        raise _ApiError(400, f"timestamp out of range: {value}") from None


class _TenantViews:
    """Every response body of one tenant, each rendered on first use and then reused.

    Lazy so a huge world starts at once and a v1-only client never pays for v2 renderings;
    every view is only touched from the server's event-loop thread.
    """

    def __init__(self, tenant: TenantWorld):
        self.tenant = tenant
        self.personal = tenant.personal_event_types
        self.team = tenant.team_event_types
        self.users = sorted(tenant.users, key=lambda u: u.id)
        self.schedules = sorted(tenant.schedules, key=lambda s: s.id)
        self.admin_schedules = [s for s in self.schedules if s.user_id == tenant.admin.id]
        self.admin_default_schedule_id = tenant.admin.default_schedule_id
        self.retell_agents = {a.agent_id: a for a in tenant.agents}
        self._day_rows: dict[tuple[str, date], tuple[int, list[tuple[Any, dict, bytes]]]] = {}

    # ---- bookings and calls, per local day

    def day_rows(self, kind: str, day: date) -> list[tuple[Any, dict, bytes]]:
        """(item, record, encoding) of a day's bookings or calls in one shape, per day revision."""
        revision, bookings, calls = self.tenant.activity.snapshot(day)
        cached = self._day_rows.get((kind, day))
        if cached is not None and cached[0] == revision:
            return cached[1]
        render, source = _DAY_RENDERERS[kind]
        rows = []
        for item in bookings if source == "bookings" else calls:
            record = render(self.tenant, item)
            rows.append((item, record, _dumps(record)))
        self._day_rows[(kind, day)] = (revision, rows)
        return rows

    def rows(self, kind: str, days: list[date], keep: Callable[[Any], bool]) -> list[tuple[Any, dict, bytes]]:
        return [row for day in days for row in self.day_rows(kind, day) if keep(row[0])]

    # ---- Cal.com v1

    @cached_property
    def v1_event_types(self) -> _Listing:
        return _Listing("v1_event_type", [_v1_event_type(self.tenant, et) for et in self.personal])

    @cached_property
    def v1_team_event_types(self) -> _Listing:
        return _Listing("v1_event_type", [_v1_event_type(self.tenant, et) for et in self.team])

    @cached_property
    def v1_event_type_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v1_event_types.records + self.v1_team_event_types.records}

    @cached_property
    def v1_users(self) -> _Listing:
        return _Listing("v1_user", [_v1_user(u) for u in self.users])

    @cached_property
    def v1_user_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v1_users.records}

    @cached_property
    def v1_teams(self) -> _Listing:
        return _Listing("v1_team", [_v1_team(self.tenant)])

    @cached_property
    def v1_memberships(self) -> _Listing:
        return _Listing("v1_membership", [_v1_membership(self.tenant, u) for u in self.users])

    @cached_property
    def v1_schedules(self) -> _Listing:
        return _Listing("v1_schedule", [_v1_schedule(s) for s in self.schedules])

    @cached_property
    def v1_schedule_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v1_schedules.records}

    # ---- Cal.com v2

    @cached_property
    def v2_me(self) -> dict:
        return _v2_me(self.tenant)

    @cached_property
    def v2_event_types(self) -> _Listing:
        return _Listing("v2_event_type", [_v2_event_type(self.tenant, et) for et in self.personal])

    @cached_property
    def v2_event_types_old(self) -> _Listing:
        return _Listing("v2_event_type_old", [_v2_event_type_old(self.tenant, et) for et in self.personal])

    @cached_property
    def v2_team_event_types(self) -> _Listing:
        return _Listing("v2_event_type", [_v2_event_type(self.tenant, et) for et in self.team])

    @cached_property
    def v2_event_type_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v2_event_types.records + self.v2_team_event_types.records}

    @cached_property
    def v2_event_type_old_by_id(self) -> dict[int, dict]:
        return {et.id: _v2_event_type_old(self.tenant, et) for et in self.tenant.event_types}

    @cached_property
    def v2_teams(self) -> _Listing:
        return _Listing("v2_team", [_v2_team(self.tenant)])

    @cached_property
    def v2_team_memberships(self) -> _Listing:
        return _Listing("v2_membership", [_v2_team_membership(self.tenant, u) for u in self.users])

    @cached_property
    def v2_org_users(self) -> _Listing:
        return _Listing("v2_user", [_v2_org_user(self.tenant, u) for u in self.users])

    @cached_property
    def v2_org_schedules(self) -> _Listing:
        return _Listing("v2_schedule", [_v2_schedule(s) for s in self.schedules])

    @cached_property
    def v2_schedule_by_id(self) -> dict[int, dict]:
        return {r["id"]: r for r in self.v2_org_schedules.records}

    @cached_property
    def v2_my_schedules(self) -> _Listing:
        return _Listing("v2_schedule", [_v2_schedule(s) for s in self.admin_schedules])

    @cached_property
    def v2_my_schedules_old(self) -> _Listing:
        only_one = len(self.admin_schedules) == 1
        return _Listing("v2_schedule_old", [_v2_schedule_old(s, only_one) for s in self.admin_schedules])

    @cached_property
    def v2_schedule_old_by_id(self) -> dict[int, dict]:
        per_user = Counter(s.user_id for s in self.schedules)
        return {s.id: _v2_schedule_old(s, per_user[s.user_id] == 1) for s in self.schedules}

    # ---- Retell

    @cached_property
    def retell_agent_summaries(self) -> _Listing:
        newest_first = sorted(self.tenant.agents, key=lambda a: (-a.latest.last_modification_timestamp, a.agent_id))
        return _Listing("retell_agent_summary", [_retell_agent_summary(a) for a in newest_first])

    @cached_property
    def retell_agent_versions(self) -> dict[str, _Listing]:
        """Per agent, every version newest first (like GET /get-agent-versions)."""
        return {
            a.agent_id: _Listing("retell_agent", [_retell_agent(self.tenant, a, v) for v in reversed(a.versions)])
            for a in self.tenant.agents
        }

    @cached_property
    def retell_agents_legacy(self) -> _Listing:
        records = [r for a in self.tenant.agents for r in self.retell_agent_versions[a.agent_id].records]
        return _Listing("retell_agent", records)

    @cached_property
    def retell_llms(self) -> dict[str, dict[int, dict]]:
        return {a.llm_id: {v.version: _retell_llm(self.tenant, a, v) for v in a.versions} for a in self.tenant.agents}

    @cached_property
    def retell_phone_numbers(self) -> _Listing:
        newest_first = sorted(self.tenant.phone_numbers, key=lambda p: (-p.last_modification_timestamp, p.phone_number))
        return _Listing("retell_phone_number", [_retell_phone_number(self.tenant, p) for p in newest_first])

    @cached_property
    def retell_phone_numbers_legacy(self) -> _Listing:
        return _Listing(
            "retell_phone_number", [_retell_phone_number_legacy(self.tenant, p) for p in self.tenant.phone_numbers]
        )

    @cached_property
    def retell_phone_number_by_number(self) -> dict[str, dict]:
        return {r["phone_number"]: r for r in self.retell_phone_numbers.records}


# ---- malformed records ------------------------------------------------------------------------


def _corrupt(kind: str, record: dict) -> dict:
    """A copy of the record that no careful client may accept (wrong types, missing keys)."""
    bad = copy.deepcopy(record)
    if kind in ("v1_event_type", "v2_event_type_old"):
        bad.pop("id", None)
        bad["length"] = "abc"
    elif kind == "v2_event_type":
        bad.pop("id", None)
        bad["lengthInMinutes"] = "abc"
    elif kind == "v1_schedule" and bad["availability"]:
        bad["availability"][0]["startTime"] = "25:99:00"
    elif kind == "v2_schedule" and bad["availability"]:
        bad["availability"][0]["startTime"] = "25:99"
    elif kind in ("v1_user", "v2_user", "v2_me"):
        bad.pop("id", None)
        bad["email"] = "not-an-email"
    elif kind in ("v1_membership", "v2_membership"):
        bad.pop("id", None)
        bad["userId"] = "abc"
    elif kind in ("v1_team", "v2_team"):
        bad.pop("id", None)
        bad["slug"] = None
    elif kind == "retell_agent_summary":
        bad.pop("agent_id", None)
        bad["user_modified_timestamp"] = "abc"
    elif kind == "retell_agent_version":
        bad["version"] = "abc"
    elif kind == "retell_agent":
        bad.pop("response_engine", None)
        bad["version"] = "abc"
    elif kind == "retell_phone_number":
        bad["phone_number"] = "030 1234"
        bad["last_modification_timestamp"] = "abc"
    elif kind == "retell_llm":
        bad["version"] = "abc"
    elif kind == "v2_booking":
        bad.pop("uid", None)
        bad["start"] = "not-a-date"
    elif kind == "v1_booking":
        bad.pop("id", None)
        bad["startTime"] = "not-a-date"
    elif kind in ("retell_call", "retell_call_full"):
        bad.pop("call_id", None)
        bad["start_timestamp"] = "abc"
    else:
        bad.pop("id", None)
    return bad


# ---- request handling -------------------------------------------------------------------------


class _ApiError(Exception):
    """An error answered in the API's own error shape."""

    def __init__(self, status: int, message: str, *, v1_body: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.v1_body = v1_body
        self.code = code


@dataclass
class _Payload:
    """A success body: envelope prefix + a listing (or one record) + envelope suffix."""

    kind: str
    prefix: bytes
    suffix: bytes
    listing: _Listing | None = None
    record: dict | None = None

    def render(self, malformed: bool, changes: dict[str, Any] | None = None) -> bytes:
        if self.listing is None:
            record = _corrupt(self.kind, self.record) if malformed else self.record
            return self.prefix + _dumps(record | (changes or {})) + self.suffix
        encoded = self.listing.encoded
        if changes and encoded:
            encoded = [_dumps(self.listing.records[0] | changes), *encoded[1:]]
        if malformed and encoded:
            index = len(encoded) // 2
            encoded = list(encoded)
            encoded[index] = _dumps(_corrupt(self.listing.kind, self.listing.records[index]))
        return self.prefix + b"[" + b",".join(encoded) + b"]" + self.suffix


_V2_PREFIX, _V2_SUFFIX = b'{"status":"success","data":', b"}"


def _v2_list(listing: _Listing) -> _Payload:
    return _Payload(listing.kind, _V2_PREFIX, _V2_SUFFIX, listing=listing)


def _v2_one(kind: str, record: dict) -> _Payload:
    return _Payload(kind, _V2_PREFIX, _V2_SUFFIX, record=record)


def _v1_list(key: str, listing: _Listing, suffix: bytes = b"}") -> _Payload:
    return _Payload(listing.kind, b'{"' + key.encode() + b'":', suffix, listing=listing)


def _v1_one(key: str, kind: str, record: dict) -> _Payload:
    return _Payload(kind, b'{"' + key.encode() + b'":', b"}", record=record)


def _bare_list(listing: _Listing) -> _Payload:
    return _Payload(listing.kind, b"", b"", listing=listing)


def _bare_one(kind: str, record: dict) -> _Payload:
    return _Payload(kind, b"", b"", record=record)


def _retell_page(listing: _Listing, has_more: bool, pagination_key: str | None) -> _Payload:
    suffix = b',"has_more":' + _dumps(has_more) + b',"pagination_key":' + _dumps(pagination_key) + b"}"
    return _Payload(listing.kind, b'{"items":', suffix, listing=listing)


@dataclass
class _Ctx:
    api: Api
    method: str
    path: str  # the API's own path, e.g. "/v2/event-types" (no /calcom or /retell prefix)
    query: Any  # starlette QueryParams
    headers: Any
    body: bytes
    tenant: TenantWorld
    views: _TenantViews


_Handler = Callable[..., _Payload]

_V2_ERROR_CODES = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    429: "ThrottlerException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
    504: "GatewayTimeoutException",
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _App:
    """The ASGI application: routing, auth, faults, rate-limit headers and the request log."""

    def __init__(self, world: World):
        self.world = world
        self.views = {slug: _TenantViews(t) for slug, t in world.tenants.items()}
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self.calcom_versions: list[tuple[str, str | None]] = []  # (v2 path, cal-api-version sent)
        self.rate_counters: dict[tuple[str, str], int] = {}
        self.owners = self._index_owners()
        self.routes: dict[Api, list[tuple[str, re.Pattern, _Handler]]] = {
            "v1": [
                ("GET", re.compile(r"/v1/event-types"), self.v1_event_types),
                ("GET", re.compile(r"/v1/event-types/(?P<event_type_id>[^/]+)"), self.v1_event_type),
                ("GET", re.compile(r"/v1/teams"), self.v1_teams),
                ("GET", re.compile(r"/v1/teams/(?P<team_id>[^/]+)/event-types"), self.v1_team_event_types),
                ("GET", re.compile(r"/v1/users"), self.v1_users),
                ("GET", re.compile(r"/v1/users/(?P<user_id>[^/]+)"), self.v1_user),
                ("GET", re.compile(r"/v1/schedules"), self.v1_schedules),
                ("GET", re.compile(r"/v1/schedules/(?P<schedule_id>[^/]+)"), self.v1_schedule),
                ("GET", re.compile(r"/v1/memberships"), self.v1_memberships),
                ("GET", re.compile(r"/v1/bookings"), self.v1_bookings),
            ],
            "v2": [
                ("GET", re.compile(r"/v2/me"), self.v2_me),
                ("GET", re.compile(r"/v2/event-types"), self.v2_event_types),
                ("GET", re.compile(r"/v2/event-types/(?P<event_type_id>[^/]+)"), self.v2_event_type),
                ("GET", re.compile(r"/v2/teams"), self.v2_teams),
                ("GET", re.compile(r"/v2/teams/(?P<team_id>[^/]+)/event-types"), self.v2_team_event_types),
                ("GET", re.compile(r"/v2/teams/(?P<team_id>[^/]+)/memberships"), self.v2_team_memberships),
                ("GET", re.compile(r"/v2/organizations/(?P<org_id>[^/]+)/users"), self.v2_org_users),
                ("GET", re.compile(r"/v2/organizations/(?P<org_id>[^/]+)/schedules"), self.v2_org_schedules),
                ("GET", re.compile(r"/v2/schedules"), self.v2_schedules),
                ("GET", re.compile(r"/v2/schedules/default"), self.v2_default_schedule),
                ("GET", re.compile(r"/v2/schedules/(?P<schedule_id>[^/]+)"), self.v2_schedule),
                ("GET", re.compile(r"/v2/bookings"), self.v2_bookings),
                ("GET", re.compile(r"/v2/bookings/(?P<booking_uid>[^/]+)"), self.v2_booking),
                ("GET", re.compile(r"/v2/slots"), self.v2_slots),
            ],
            "retell": [
                ("POST", re.compile(r"/v2/list-agents"), self.retell_list_agents),
                ("GET", re.compile(r"/list-agents"), self.retell_list_agents_legacy),
                ("GET", re.compile(r"/get-agent/(?P<agent_id>[^/]+)"), self.retell_get_agent),
                ("GET", re.compile(r"/get-agent-versions/(?P<agent_id>[^/]+)"), self.retell_get_agent_versions),
                ("GET", re.compile(r"/list-agent-versions/(?P<agent_id>[^/]+)"), self.retell_list_agent_versions),
                ("GET", re.compile(r"/get-retell-llm/(?P<llm_id>[^/]+)"), self.retell_get_llm),
                ("GET", re.compile(r"/v2/list-phone-numbers"), self.retell_list_phone_numbers),
                ("GET", re.compile(r"/list-phone-numbers"), self.retell_list_phone_numbers_legacy),
                ("GET", re.compile(r"/get-phone-number/(?P<phone_number>[^/]+)"), self.retell_get_phone_number),
                ("POST", re.compile(r"/v3/list-calls"), self.retell_list_calls),
                ("POST", re.compile(r"/v2/list-calls"), self.retell_list_calls_legacy),
                ("GET", re.compile(r"/v2/get-call/(?P<call_id>[^/]+)"), self.retell_get_call),
                ("PATCH", re.compile(r"/update-retell-llm/(?P<llm_id>[^/]+)"), self.retell_update_llm),
                ("POST", re.compile(r"/publish-agent-version/(?P<agent_id>[^/]+)"), self.retell_publish_agent),
                ("PATCH", re.compile(r"/update-phone-number/(?P<phone_number>[^/]+)"), self.retell_update_phone_number),
            ],
        }

    def _index_owners(self) -> dict[tuple[str, Any], str]:
        """(kind, id) -> tenant slug, to tell another tenant's id (401) from an unknown one (404)."""
        owners: dict[tuple[str, Any], str] = {}
        for slug, tenant in self.world.tenants.items():
            owners[("team", tenant.team.id)] = slug
            owners[("org", tenant.organization.id)] = slug
            owners.update({("event_type", et.id): slug for et in tenant.event_types})
            owners.update({("user", u.id): slug for u in tenant.users})
            owners.update({("schedule", s.id): slug for s in tenant.schedules})
            owners.update({("agent", a.agent_id): slug for a in tenant.agents})
            owners.update({("llm", a.llm_id): slug for a in tenant.agents})
            owners.update({("phone_number", p.phone_number): slug for p in tenant.phone_numbers})
        return owners

    # ---- ASGI entry ----------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = request.url.path
        if path.startswith("/_sim/"):
            response = await self._admin(request, path)
        else:
            response = await self._serve_api(request, path)
            with self.lock:
                self.log.append((request.method, _loggable(path, scope.get("query_string", b"")), response.status_code))
        await response(scope, receive, send)

    async def _admin(self, request: Request, path: str) -> Response:
        if path == "/_sim/health" and request.method == "GET":
            return _json(200, {"status": "ok", "tenants": list(self.world.tenants)})
        if path == "/_sim/faults":
            if request.method == "GET":
                with self.lock:
                    return _json(200, [asdict(f) for f in self.faults])
            if request.method == "DELETE":
                with self.lock:
                    self.faults.clear()
                return _json(200, {"faults": 0})
            if request.method == "POST":
                try:
                    raw = json.loads(await request.body() or b"[]")
                    items = raw if isinstance(raw, list) else [raw]
                    names = {f.name for f in fields(Fault)}
                    added = []
                    for item in items:
                        unknown = set(item) - names
                        if unknown:
                            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
                        added.append(Fault(**item))
                except (ValueError, TypeError, AttributeError) as exc:
                    return _json(400, {"error": str(exc)})
                with self.lock:
                    self.faults.extend(added)
                    total = len(self.faults)
                return _json(200, {"faults": total})
        return _json(404, {"error": f"no simulator admin endpoint {request.method} {path}"})

    async def _serve_api(self, request: Request, path: str) -> Response:
        if path.startswith("/calcom/v1/") or path == "/calcom/v1":
            api: Api = "v1"
            api_path = path.removeprefix("/calcom")
        elif path.startswith("/calcom/v2/") or path == "/calcom/v2":
            api = "v2"
            api_path = path.removeprefix("/calcom")
        elif path.startswith("/retell/"):
            api = "retell"
            api_path = path.removeprefix("/retell")
        else:
            return _json(404, {"message": f"the simulator serves /calcom/v1, /calcom/v2 and /retell, not {path}"})

        if api == "v2":
            with self.lock:
                self.calcom_versions.append((api_path, request.headers.get("cal-api-version")))
        key = self._credential(api, request)
        tenant = self._tenant_for_key(api, key)
        fault = self._take_fault(path, tenant.slug if tenant else None)
        malformed = False
        changes = fault.changes if fault is not None and fault.kind == "drift" else None
        extra_headers: dict[str, str] = {}
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
        elif fault is not None and fault.kind == "malformed":
            malformed = True
        try:
            if fault is not None and fault.kind == "status":
                extra_headers = fault.retry_headers()
                raise self._fault_error(api, fault.status)
            body = await self._dispatch(api, api_path, request, key, tenant)
            response = Response(body.render(malformed, changes), status_code=200, media_type="application/json")
        except _ApiError as error:
            response = self._error_response(api, api_path, error)
        response.headers.update(extra_headers)
        if api != "retell":
            response.headers.update(self._rate_limit_headers(api, tenant.slug if tenant else f"key:{key}"))
        return response

    # ---- auth, faults, errors --------------------------------------------------------------

    @staticmethod
    def _credential(api: Api, request: Request) -> str | None:
        if api == "v1":
            return request.query_params.get("apiKey")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _tenant_for_key(self, api: Api, key: str | None) -> TenantWorld | None:
        if api == "retell":
            return self.world.tenant_for_retell_key(key)
        return self.world.tenant_for_calcom_key(key)

    def _take_fault(self, path: str, tenant_slug: str | None) -> Fault | None:
        """The first matching fault, with one use consumed; exhausted faults are dropped."""
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path_prefix) and (fault.tenant is None or fault.tenant == tenant_slug):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self.faults.remove(fault)
                    return copy.copy(fault)
        return None

    @staticmethod
    def _fault_error(api: Api, status: int) -> _ApiError:
        if status == 429:
            if api == "v1":
                return _ApiError(429, "Rate limit exceeded")
            if api == "v2":
                return _ApiError(429, "ThrottlerException: Too Many Requests")
            return _ApiError(429, "Account rate limited, please throttle your requests.")
        if api == "retell" and status >= 500:
            return _ApiError(status, "An unexpected server error occurred.")
        return _ApiError(status, _phrase(status))

    @staticmethod
    def _error_response(api: Api, api_path: str, error: _ApiError) -> Response:
        if api == "v1":
            body = error.v1_body or {"message": error.message}
        elif api == "v2":
            body = {
                "status": "error",
                "timestamp": ERROR_TIMESTAMP,
                "path": api_path,
                "error": {
                    "code": error.code or _V2_ERROR_CODES.get(error.status, "HttpException"),
                    "message": error.message,
                    "details": {"message": error.message, "error": _phrase(error.status), "statusCode": error.status},
                },
            }
        else:
            body = {"status": "error", "message": error.message}
        return Response(_dumps(body), status_code=error.status, media_type="application/json")

    def _rate_limit_headers(self, api: Api, who: str) -> dict[str, str]:
        limit = V1_RATE_LIMIT if api == "v1" else V2_RATE_LIMIT
        with self.lock:
            served = self.rate_counters.get((api, who), 0)
            self.rate_counters[(api, who)] = served + 1
        window, used = divmod(served, limit)
        reset = str(RATE_LIMIT_CLOCK_START + (window + 1) * RATE_LIMIT_WINDOW_S)
        remaining = str(limit - used - 1)
        if api == "v1":
            return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset}
        return {
            "X-RateLimit-Limit-Default": str(limit),
            "X-RateLimit-Remaining-Default": remaining,
            "X-RateLimit-Reset-Default": reset,
        }

    def _unauthorized(self, api: Api, key: str | None) -> _ApiError:
        if api == "v1":
            if key is None:
                return _ApiError(401, "No apiKey provided", v1_body={"message": "No apiKey provided"})
            return _ApiError(401, "Your API key is not valid.", v1_body={"error": "Your API key is not valid."})
        if api == "v2":
            reason = "No Authorization header provided" if key is None else "Invalid API Key"
            return _ApiError(401, f"ApiAuthGuard - {reason}")
        return _ApiError(401, "API key is missing or invalid.")

    async def _dispatch(
        self, api: Api, api_path: str, request: Request, key: str | None, tenant: TenantWorld | None
    ) -> _Payload:
        handler, params, method_allowed = None, {}, False
        for method, pattern, candidate in self.routes[api]:
            match = pattern.fullmatch(api_path)
            if match:
                if method == request.method:
                    handler, params = candidate, match.groupdict()  # ASGI paths arrive percent-decoded
                    break
                method_allowed = True
        if handler is None:
            if method_allowed and api == "v1":
                raise _ApiError(405, f"Method {request.method} Not Allowed")
            message = f"Cannot {request.method} {api_path}" if api == "v2" else "Not Found"
            raise _ApiError(404, message)
        if tenant is None:
            raise self._unauthorized(api, key)
        if api == "retell" and not retell_routes.serves(tenant.spec.retell_generation, handler.__name__):
            raise _ApiError(404, "Not Found")  # an account without this endpoint generation
        ctx = _Ctx(
            api=api,
            method=request.method,
            path=api_path,
            query=request.query_params,
            headers=request.headers,
            body=await request.body(),
            tenant=tenant,
            views=self.views[tenant.slug],
        )
        return handler(ctx, **params)

    def _check_owner(self, ctx: _Ctx, kind: str, value: Any, label: str, not_found: str | None = None) -> None:
        """404 for an unknown id; 401 when the id belongs to another tenant's account."""
        owner = self.owners.get((kind, value))
        if owner == ctx.tenant.slug:
            return
        if owner is not None:
            if ctx.api == "v1":
                raise _ApiError(401, "Your API key is not valid.", v1_body={"error": "Your API key is not valid."})
            if ctx.api == "v2":
                raise _ApiError(401, f"ApiAuthGuard - this API key has no access to {label}")
            raise _ApiError(401, "API key is missing or invalid.")
        if ctx.api == "retell":
            raise _ApiError(404, "Cannot find requested asset under given api key.")
        raise _ApiError(404, not_found or f"{label[0].upper()}{label[1:]} not found")

    # ---- parameters ------------------------------------------------------------------------

    @staticmethod
    def _int_param(ctx: _Ctx, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        raw = ctx.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _ApiError(400, f"{name} must be an integer number") from None
        if value < minimum:
            raise _ApiError(400, f"{name} must not be less than {minimum}")
        if maximum is not None and value > maximum:
            raise _ApiError(400, f"{name} must not be greater than {maximum}")
        return value

    @staticmethod
    def _path_int(value: str, name: str) -> int:
        if not value.isdigit():
            raise _ApiError(400, f"Validation failed ({name}: numeric string is expected)")
        return int(value)

    @staticmethod
    def _iso_param(ctx: _Ctx, name: str) -> datetime | None:
        """An ISO 8601 query value as an aware datetime (UTC when it has no offset)."""
        raw = ctx.query.get(name)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw.strip().replace(" ", "+"))  # an unencoded "+" arrives as a space
        except ValueError:
            raise _ApiError(400, f"{name} must be a valid ISO 8601 date string") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @staticmethod
    def _json_body(ctx: _Ctx) -> dict:
        if not ctx.body.strip():
            return {}
        try:
            body = json.loads(ctx.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _ApiError(400, "Invalid request format, please check API reference.")
        return body

    @staticmethod
    def _body_int(body: dict, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = body.get(name)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise _ApiError(400, f"{name} must be an integer")
        if value < minimum or (maximum is not None and value > maximum):
            raise _ApiError(400, f"{name} must be between {minimum} and {maximum}")
        return value

    @staticmethod
    def _body_descending(body: dict) -> bool:
        order = body.get("sort_order") or "descending"
        if order not in ("ascending", "descending"):
            raise _ApiError(400, "sort_order must be ascending or descending")
        return order == "descending"

    def _skip_take(self, ctx: _Ctx) -> tuple[int, int]:
        """Cal.com v2 SkipTakePagination: take 1..250 (default 250), skip >= 0."""
        take = self._int_param(ctx, "take", V2_TAKE_DEFAULT, 1, V2_TAKE_MAX)
        skip = self._int_param(ctx, "skip", 0, 0)
        return skip, take

    # ---- Cal.com v1 ------------------------------------------------------------------------

    def v1_event_types(self, ctx: _Ctx) -> _Payload:
        return _v1_list("event_types", ctx.views.v1_event_types)

    def v1_event_type(self, ctx: _Ctx, event_type_id: str) -> _Payload:
        event_type = self._path_int(event_type_id, "id")
        self._check_owner(ctx, "event_type", event_type, f"event type {event_type}", not_found="Event type not found")
        return _v1_one("event_type", "v1_event_type", ctx.views.v1_event_type_by_id[event_type])

    def v1_teams(self, ctx: _Ctx) -> _Payload:
        return _v1_list("teams", ctx.views.v1_teams)

    def v1_team_event_types(self, ctx: _Ctx, team_id: str) -> _Payload:
        self._check_owner(ctx, "team", self._path_int(team_id, "teamId"), f"team {team_id}", not_found="Team not found")
        return _v1_list("event_types", ctx.views.v1_team_event_types)

    def v1_users(self, ctx: _Ctx) -> _Payload:
        """Always paginated: take (default 10) and page (default 1); `total` counts before paging."""
        take = self._int_param(ctx, "take", V1_TAKE_DEFAULT, 1)
        page = self._int_param(ctx, "page", 1, 1)
        listing = ctx.views.v1_users
        emails = {e for raw in ctx.query.getlist("email") for e in raw.split(",") if e}
        if emails:
            listing = listing.filtered(lambda r: r["email"] in emails)
        start = (page - 1) * take
        total = b',"total":' + str(len(listing)).encode() + b"}"
        return _v1_list("users", listing.page(start, start + take), suffix=total)

    def v1_user(self, ctx: _Ctx, user_id: str) -> _Payload:
        user = self._path_int(user_id, "id")
        self._check_owner(ctx, "user", user, f"user {user}", not_found="User not found")
        return _v1_one("user", "v1_user", ctx.views.v1_user_by_id[user])

    def v1_schedules(self, ctx: _Ctx) -> _Payload:
        listing = ctx.views.v1_schedules
        user_ids = {int(v) for raw in ctx.query.getlist("userId") for v in raw.split(",") if v.isdigit()}
        if user_ids:
            listing = listing.filtered(lambda r: r["userId"] in user_ids)
        return _v1_list("schedules", listing)

    def v1_schedule(self, ctx: _Ctx, schedule_id: str) -> _Payload:
        schedule = self._path_int(schedule_id, "id")
        self._check_owner(ctx, "schedule", schedule, f"schedule {schedule}", not_found="Schedule not found")
        return _v1_one("schedule", "v1_schedule", ctx.views.v1_schedule_by_id[schedule])

    def v1_memberships(self, ctx: _Ctx) -> _Payload:
        """The org-admin view: every membership of the tenant's team; include=team adds the team."""
        listing = ctx.views.v1_memberships
        for name in ("userId", "teamId"):
            wanted = {int(v) for raw in ctx.query.getlist(name) for v in raw.split(",") if v.isdigit()}
            if wanted:
                listing = listing.filtered(lambda r, name=name, wanted=wanted: r[name] in wanted)
        if ctx.query.get("include") == "team":
            team = ctx.views.v1_teams.records[0]
            listing = _Listing(listing.kind, [r | {"team": team} for r in listing.records])
        return _v1_list("memberships", listing)

    def v1_bookings(self, ctx: _Ctx) -> _Payload:
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
            raise _ApiError(400, "status: Invalid enum value. Expected 'upcoming'")
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
            raise _ApiError(400, "order must be asc or desc; sortBy createdAt or updatedAt")
        attribute = {"createdAt": "created_at", "updatedAt": "updated_at"}.get(sort_by or "", "id")
        rows = ctx.views.rows("v1_booking", _activity_days(activity, first, last), lambda b: all(t(b) for t in tests))
        rows.sort(key=lambda row: (getattr(row[0], attribute), row[0].id), reverse=order == "desc")
        if "take" in ctx.query and "page" in ctx.query:
            take = self._int_param(ctx, "take", V1_TAKE_DEFAULT, 1)
            page = self._int_param(ctx, "page", 1, 1)
            rows = rows[(page - 1) * take : page * take]
        return _v1_list("bookings", _Listing.of_rows("v1_booking", rows))

    # ---- Cal.com v2 ------------------------------------------------------------------------

    def v2_me(self, ctx: _Ctx) -> _Payload:
        return _v2_one("v2_me", ctx.views.v2_me)

    def v2_event_types(self, ctx: _Ctx) -> _Payload:
        if ctx.headers.get("cal-api-version") == V2_EVENT_TYPES_VERSION:
            return _v2_list(ctx.views.v2_event_types)
        return _v2_list(ctx.views.v2_event_types_old)

    def v2_event_type(self, ctx: _Ctx, event_type_id: str) -> _Payload:
        event_type = self._path_int(event_type_id, "eventTypeId")
        self._check_owner(ctx, "event_type", event_type, f"event type with id={event_type}")
        if ctx.headers.get("cal-api-version") == V2_EVENT_TYPES_VERSION:
            return _v2_one("v2_event_type", ctx.views.v2_event_type_by_id[event_type])
        return _v2_one("v2_event_type_old", ctx.views.v2_event_type_old_by_id[event_type])

    def v2_teams(self, ctx: _Ctx) -> _Payload:
        return _v2_list(ctx.views.v2_teams)

    def v2_team_event_types(self, ctx: _Ctx, team_id: str) -> _Payload:
        self._check_owner(ctx, "team", self._path_int(team_id, "teamId"), f"team {team_id}")
        listing = ctx.views.v2_team_event_types
        slug = ctx.query.get("eventSlug")
        if slug:
            listing = listing.filtered(lambda r: r["slug"] == slug)
        return _v2_list(listing)

    def v2_team_memberships(self, ctx: _Ctx, team_id: str) -> _Payload:
        self._check_owner(ctx, "team", self._path_int(team_id, "teamId"), f"team {team_id}")
        skip, take = self._skip_take(ctx)
        return _v2_list(ctx.views.v2_team_memberships.page(skip, skip + take))

    def v2_org_users(self, ctx: _Ctx, org_id: str) -> _Payload:
        self._check_owner(ctx, "org", self._path_int(org_id, "orgId"), f"organization {org_id}")
        skip, take = self._skip_take(ctx)
        listing = ctx.views.v2_org_users
        emails = {e for raw in ctx.query.getlist("emails") for e in raw.split(",") if e}
        if emails:
            listing = listing.filtered(lambda r: r["email"] in emails)
        return _v2_list(listing.page(skip, skip + take))

    def v2_org_schedules(self, ctx: _Ctx, org_id: str) -> _Payload:
        self._check_owner(ctx, "org", self._path_int(org_id, "orgId"), f"organization {org_id}")
        skip, take = self._skip_take(ctx)
        return _v2_list(ctx.views.v2_org_schedules.page(skip, skip + take))

    @staticmethod
    def _new_schedule_shape(ctx: _Ctx) -> bool:
        return ctx.headers.get("cal-api-version") in V2_SCHEDULES_VERSIONS

    def v2_schedules(self, ctx: _Ctx) -> _Payload:
        if self._new_schedule_shape(ctx):
            return _v2_list(ctx.views.v2_my_schedules)
        return _v2_list(ctx.views.v2_my_schedules_old)

    def v2_default_schedule(self, ctx: _Ctx) -> _Payload:
        return self.v2_schedule(ctx, str(ctx.views.admin_default_schedule_id))

    def v2_schedule(self, ctx: _Ctx, schedule_id: str) -> _Payload:
        schedule = self._path_int(schedule_id, "scheduleId")
        self._check_owner(ctx, "schedule", schedule, f"schedule with id={schedule}")
        if self._new_schedule_shape(ctx):
            return _v2_one("v2_schedule", ctx.views.v2_schedule_by_id[schedule])
        return _v2_one("v2_schedule_old", ctx.views.v2_schedule_old_by_id[schedule])

    def _v2_booking_filters(self, ctx: _Ctx) -> tuple[Callable[[SimBooking], bool], list[date]]:
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
            raise _ApiError(400, f"status must be a comma list of {', '.join(_V2_LIST_VIEWS)}")
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
                raise _ApiError(400, "eventTypeId(s) must be integers")
            wanted = {int(v) for v in raw_ids}
            tests.append(lambda b: b.event_type_id in wanted)
        lower_bounds = [activity.local_date(bounds[n]) for n in ("afterCreatedAt", "afterUpdatedAt") if bounds[n]]
        days = _activity_days(
            activity,
            activity.local_date(bounds["afterStart"]) if bounds["afterStart"] else None,
            activity.local_date(bounds["beforeEnd"]) if bounds["beforeEnd"] else None,
            generated_from=max(lower_bounds) if lower_bounds else None,
        )
        return (lambda b: all(test(b) for test in tests)), days

    def v2_bookings(self, ctx: _Ctx) -> _Payload:
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
                    raise _ApiError(400, f"{param} must be asc or desc")
                attribute, descending = name, value == "desc"
                break
        current = ctx.headers.get("cal-api-version") == V2_BOOKINGS_VERSION
        kind = "v2_booking" if current else "v1_booking"
        rows = ctx.views.rows(kind, days, keep)
        rows.sort(key=lambda row: (getattr(row[0], attribute), row[0].id), reverse=descending)
        page = rows[skip : skip + take]
        listing = _Listing.of_rows(kind, page)
        if not current:
            return _Payload(kind, _V2_OLD_BOOKINGS_PREFIX, _V2_OLD_BOOKINGS_SUFFIX, listing=listing)
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
        return _Payload(kind, _V2_PREFIX, b',"pagination":' + _dumps(pagination) + b"}", listing=listing)

    def v2_booking(self, ctx: _Ctx, booking_uid: str) -> _Payload:
        booking = ctx.tenant.activity.booking(booking_uid)
        if booking is None:
            raise _ApiError(404, f"Booking with uid={booking_uid} was not found in the database")
        if ctx.headers.get("cal-api-version") == V2_BOOKINGS_VERSION:
            return _v2_one("v2_booking", _v2_booking(ctx.tenant, booking))
        return _v2_one("v1_booking", _v1_booking(ctx.tenant, booking))

    def v2_slots(self, ctx: _Ctx) -> _Payload:
        """GET /v2/slots?eventTypeId&start&end&timeZone: free starts from the world (slots.py)."""
        raw_id, zone = ctx.query.get("eventTypeId", ""), ctx.query.get("timeZone") or "UTC"
        event_type_id = self._path_int(raw_id, "eventTypeId")
        self._check_owner(ctx, "event_type", event_type_id, f"event type {event_type_id}")
        try:
            first, last = date.fromisoformat(ctx.query.get("start", "")), date.fromisoformat(ctx.query.get("end", ""))
            ZoneInfo(zone)
        except (ValueError, KeyError):
            raise _ApiError(400, "start and end must be YYYY-MM-DD dates and timeZone an IANA zone") from None
        if last < first or (last - first).days > slots.MAX_RANGE_DAYS:
            raise _ApiError(400, f"end must be on or after start and at most {slots.MAX_RANGE_DAYS} days later")
        found = slots.free_slots(ctx.tenant, event_type_id, first, last, zone)
        return _v2_one("v2_slots", slots.slots_body(found)["data"])

    # ---- Retell ----------------------------------------------------------------------------

    def _retell_limit(self, ctx: _Ctx, default: int) -> int:
        return self._int_param(ctx, "limit", default, 1, RETELL_MAX_LIMIT)

    @staticmethod
    def _after_key(listing: _Listing, key_field: str, pagination_key: str | None) -> int:
        if not pagination_key:
            return 0
        for index, record in enumerate(listing.records):
            if record[key_field] == pagination_key:
                return index + 1
        raise _ApiError(400, f"Invalid pagination_key: {pagination_key}")

    @staticmethod
    def _sorted(ctx: _Ctx, listing: _Listing) -> _Listing:
        """Listings are stored newest first (the default `descending`)."""
        order = ctx.query.get("sort_order", "descending")
        if order not in ("ascending", "descending"):
            raise _ApiError(400, "sort_order must be ascending or descending")
        if order == "descending":
            return listing
        return listing.reversed()

    def _cursor_page(self, ctx: _Ctx, listing: _Listing, key_field: str, default_limit: int) -> _Payload:
        limit = self._retell_limit(ctx, default_limit)
        listing = self._sorted(ctx, listing)
        start = self._after_key(listing, key_field, ctx.query.get("pagination_key"))
        page = listing.page(start, start + limit)
        has_more = start + limit < len(listing)
        return _retell_page(page, has_more, page.records[-1][key_field] if has_more else None)

    def retell_list_agents(self, ctx: _Ctx) -> _Payload:
        """POST /v2/list-agents: summaries; `limit`/`pagination_key` in the query, filters in the body."""
        listing = ctx.views.retell_agent_summaries
        if ctx.body.strip():
            try:
                body = json.loads(ctx.body)
            except ValueError:
                raise _ApiError(400, "Invalid request format, please check API reference.") from None
            criteria = (body or {}).get("filter_criteria") or {}
            channel = (criteria.get("channel") or {}).get("value")
            if channel:
                listing = listing.filtered(lambda r: r["channel"] == channel)
            query = criteria.get("query")
            if query:
                needle = str(query).lower()
                listing = listing.filtered(lambda r: needle in f"{r['agent_name']} {r['agent_id']}".lower())
        return self._cursor_page(ctx, listing, "agent_id", RETELL_LIST_AGENTS_LIMIT)

    def retell_list_agents_legacy(self, ctx: _Ctx) -> _Payload:
        """GET /list-agents: a bare array of every version unless is_latest=true."""
        limit = self._retell_limit(ctx, RETELL_LEGACY_LIST_AGENTS_LIMIT)
        listing = ctx.views.retell_agents_legacy
        if ctx.query.get("is_latest", "").lower() == "true":
            latest = {a.agent_id: a.latest.version for a in ctx.tenant.agents}
            listing = listing.filtered(lambda r: latest[r["agent_id"]] == r["version"])
        start = 0
        key = ctx.query.get("pagination_key")
        if key:
            version = ctx.query.get("pagination_key_version")
            if version is None or not version.lstrip("-").isdigit():
                raise _ApiError(400, "pagination_key_version is required with pagination_key")
            after = (key, int(version))
            positions = [i for i, r in enumerate(listing.records) if (r["agent_id"], r["version"]) == after]
            if not positions:
                raise _ApiError(400, f"Invalid pagination_key: {key}")
            start = positions[0] + 1
        return _bare_list(listing.page(start, start + limit))

    def _agent(self, ctx: _Ctx, agent_id: str) -> SimAgent:
        self._check_owner(ctx, "agent", agent_id, f"agent {agent_id}")
        return ctx.views.retell_agents[agent_id]

    def retell_get_agent(self, ctx: _Ctx, agent_id: str) -> _Payload:
        agent = self._agent(ctx, agent_id)
        versions = ctx.views.retell_agent_versions[agent.agent_id].records
        raw_version = ctx.query.get("version")
        if raw_version is None:
            return _bare_one("retell_agent", versions[0])
        for record in versions:
            if str(record["version"]) == raw_version:
                return _bare_one("retell_agent", record)
        raise _ApiError(404, "Cannot find requested asset under given api key.")

    def retell_get_agent_versions(self, ctx: _Ctx, agent_id: str) -> _Payload:
        agent = self._agent(ctx, agent_id)
        return _bare_list(ctx.views.retell_agent_versions[agent.agent_id])

    def retell_list_agent_versions(self, ctx: _Ctx, agent_id: str) -> _Payload:
        """GET /list-agent-versions/{agent_id}: version metadata, paged (the SDK's `list_versions`)."""
        agent = self._agent(ctx, agent_id)
        items = retell_routes.version_items(ctx.views.retell_agent_versions[agent.agent_id].records)
        limit = self._retell_limit(ctx, retell_routes.AGENT_VERSIONS_LIMIT)
        order = ctx.query.get("sort_order", "descending")
        if order not in ("ascending", "descending"):
            raise _ApiError(400, "sort_order must be ascending or descending")
        descending = order == "descending"
        try:
            page, has_more, key = retell_routes.version_page(
                items, limit=limit, after=ctx.query.get("pagination_key"), descending=descending
            )
        except ValueError as exc:
            raise _ApiError(400, str(exc)) from None
        return _retell_page(_Listing("retell_agent_version", page), has_more, key)

    def retell_get_llm(self, ctx: _Ctx, llm_id: str) -> _Payload:
        self._check_owner(ctx, "llm", llm_id, f"llm {llm_id}")
        versions = ctx.views.retell_llms[llm_id]
        raw_version = ctx.query.get("version")
        if raw_version is None:
            return _bare_one("retell_llm", versions[max(versions)])
        if not raw_version.isdigit() or int(raw_version) not in versions:
            raise _ApiError(404, "Cannot find requested asset under given api key.")
        return _bare_one("retell_llm", versions[int(raw_version)])

    def retell_list_phone_numbers(self, ctx: _Ctx) -> _Payload:
        return self._cursor_page(ctx, ctx.views.retell_phone_numbers, "phone_number", RETELL_PHONE_NUMBERS_LIMIT)

    def retell_list_phone_numbers_legacy(self, ctx: _Ctx) -> _Payload:
        return _bare_list(ctx.views.retell_phone_numbers_legacy)

    def retell_get_phone_number(self, ctx: _Ctx, phone_number: str) -> _Payload:
        self._check_owner(ctx, "phone_number", phone_number, f"phone number {phone_number}")
        return _bare_one("retell_phone_number", ctx.views.retell_phone_number_by_number[phone_number])

    def _retell_write(self, ctx: _Ctx, write: Callable[[], Any]) -> Any:
        """Run a write (retell_writes.py), re-render the tenant's views from the changed world."""
        try:
            changed = write()
        except retell_writes.WriteError as exc:
            raise _ApiError(exc.status, exc.message) from None
        self.views[ctx.tenant.slug] = _TenantViews(ctx.tenant)
        return changed

    def retell_update_llm(self, ctx: _Ctx, llm_id: str) -> _Payload:
        self._check_owner(ctx, "llm", llm_id, f"llm {llm_id}")
        body = self._json_body(ctx)
        version = ctx.query.get("version")
        draft = self._retell_write(ctx, lambda: retell_writes.update_llm(ctx.tenant, llm_id, version, body))
        return _bare_one("retell_llm", self.views[ctx.tenant.slug].retell_llms[llm_id][draft.version])

    def retell_publish_agent(self, ctx: _Ctx, agent_id: str) -> _Payload:
        agent = self._agent(ctx, agent_id)
        body = self._json_body(ctx)
        published = self._retell_write(ctx, lambda: retell_writes.publish(ctx.tenant, agent.agent_id, body))
        records = self.views[ctx.tenant.slug].retell_agent_versions[agent.agent_id].records
        return _bare_one("retell_agent", next(r for r in records if r["version"] == published.version))

    def retell_update_phone_number(self, ctx: _Ctx, phone_number: str) -> _Payload:
        self._check_owner(ctx, "phone_number", phone_number, f"phone number {phone_number}")
        body = self._json_body(ctx)
        self._retell_write(ctx, lambda: retell_writes.update_phone_number(ctx.tenant, phone_number, body))
        return _bare_one("retell_phone_number", self.views[ctx.tenant.slug].retell_phone_number_by_number[phone_number])

    def _sorted_calls(
        self,
        ctx: _Ctx,
        kind: str,
        tests: list[Callable[[SimCall], bool]],
        lo: float | None,
        hi: float | None,
        descending: bool,
    ) -> list[tuple[Any, dict, bytes]]:
        activity = ctx.tenant.activity
        days = _activity_days(activity, _ms_to_local_date(activity, lo), _ms_to_local_date(activity, hi))
        rows = ctx.views.rows(kind, days, lambda c: all(test(c) for test in tests))
        rows.sort(key=lambda row: (row[0].start_timestamp, row[0].call_id), reverse=descending)
        return rows

    def retell_list_calls(self, ctx: _Ctx) -> _Payload:
        """POST /v3/list-calls: typed filter_criteria, start_timestamp order, cursor or skip; no transcripts."""
        body = self._json_body(ctx)
        limit = self._body_int(body, "limit", RETELL_LIST_CALLS_LIMIT, 1, RETELL_MAX_LIMIT)
        descending = self._body_descending(body)
        key, skip = body.get("pagination_key"), body.get("skip")
        if key is not None and skip is not None:
            raise _ApiError(400, "pagination_key and skip are mutually exclusive")
        criteria = body.get("filter_criteria") or {}
        if not isinstance(criteria, dict):
            raise _ApiError(400, "filter_criteria must be an object")
        tests, lo, hi = _v3_call_filters(criteria)
        rows = self._sorted_calls(ctx, "retell_call", tests, lo, hi, descending)
        if key is not None:
            start = _page_after(rows, _decode_call_cursor(str(key)), descending)
        else:
            start = self._body_int(body, "skip", 0, 0)
        page = rows[start : start + limit]
        has_more = start + limit < len(rows)
        suffix = b',"has_more":' + _dumps(has_more)
        suffix += b',"pagination_key":' + _dumps(_encode_call_cursor(page[-1][0]) if has_more else None)
        if body.get("include_total") is True:
            suffix += b',"total":' + str(len(rows)).encode()
        return _Payload("retell_call", b'{"items":', suffix + b"}", listing=_Listing.of_rows("retell_call", page))

    def retell_list_calls_legacy(self, ctx: _Ctx) -> _Payload:
        """POST /v2/list-calls: a bare array of full calls; pagination_key is the previous page's last call_id."""
        body = self._json_body(ctx)
        limit = self._body_int(body, "limit", RETELL_LIST_CALLS_LIMIT, 1, RETELL_MAX_LIMIT)
        descending = self._body_descending(body)
        criteria = body.get("filter_criteria") or {}
        if not isinstance(criteria, dict):
            raise _ApiError(400, "filter_criteria must be an object")
        tests, lo, hi = _legacy_call_filters(criteria)
        rows = self._sorted_calls(ctx, "retell_call_full", tests, lo, hi, descending)
        start = 0
        key = body.get("pagination_key")
        if key:
            last = ctx.tenant.activity.call(str(key))
            if last is None:
                raise _ApiError(400, f"Invalid pagination_key: {key}")
            start = _page_after(rows, (last.start_timestamp, last.call_id), descending)
        return _bare_list(_Listing.of_rows("retell_call_full", rows[start : start + limit]))

    def retell_get_call(self, ctx: _Ctx, call_id: str) -> _Payload:
        """GET /v2/get-call/{call_id}: the full call, transcript included."""
        call = ctx.tenant.activity.call(call_id)
        if call is None:
            raise _ApiError(404, "Cannot find requested asset under given api key.")
        return _bare_one("retell_call_full", retell_call_object(call))


def _json(status: int, value: Any) -> Response:
    return Response(_dumps(value), status_code=status, media_type="application/json")


def _loggable(path: str, query_string: bytes) -> str:
    """The path and query as requested, minus any apiKey, so the log never holds a secret."""
    parts = [p for p in query_string.decode("latin-1").split("&") if p and unquote_plus(p.split("=", 1)[0]) != "apiKey"]
    return f"{path}?{'&'.join(parts)}" if parts else path


# ---- the server -------------------------------------------------------------------------------


class Simulator:
    """The fake APIs on a loopback port, served by uvicorn from a background thread."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0):
        self.config = config
        self.host = host
        self.port = port
        self.world: World = build_world(config)
        self._app = _App(self.world)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def calcom_base_url(self) -> str:
        return f"{self.base_url}/calcom"

    @property
    def retell_base_url(self) -> str:
        return f"{self.base_url}/retell"

    def start(self) -> str:
        """Serve in a background thread; returns the base URL once the server answers."""
        if self._thread is not None:
            return self.base_url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"askpro-simulator-{port}", daemon=True
        )
        self._thread.start()
        self.base_url = f"http://{self.host}:{port}"
        try:
            self._wait_until_serving(port)
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_until_serving(self, port: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the simulator server thread exited during startup")
            if self._server.started:
                connection = http.client.HTTPConnection(self.host, port, timeout=2)
                try:
                    connection.request("GET", "/_sim/health")
                    if connection.getresponse().status == 200:
                        return
                except OSError:
                    pass
                finally:
                    connection.close()
            time.sleep(0.005)
        raise RuntimeError(f"the simulator did not answer within {timeout_s} s")

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._thread = None
        self._server = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ---- faults and observation -----------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._app.lock:
            self._app.faults.append(fault)

    def clear_faults(self) -> None:
        with self._app.lock:
            self._app.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still pending (a copy)."""
        with self._app.lock:
            return [copy.copy(f) for f in self._app.faults]

    def request_count(self, path_prefix: str = "") -> int:
        """How many API requests (not /_sim ones) were served whose path starts with the prefix."""
        with self._app.lock:
            return sum(1 for _, path, _ in self._app.log if path.startswith(path_prefix))

    @property
    def calcom_api_versions(self) -> list[tuple[str, str | None]]:
        """(path, `cal-api-version` header or None) per Cal.com v2 request served (a copy)."""
        with self._app.lock:
            return list(self._app.calcom_versions)

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """(method, path with query minus apiKey, status) per served API request (a copy)."""
        with self._app.lock:
            return list(self._app.log)

    # ---- bookings (tests) ------------------------------------------------------------------

    def mutate_booking(self, slug: str, uid: str, /, **changes: Any) -> SimBooking:
        """Change a booking (SimBooking field names) so later responses show it.

        `updated_at` advances past every generated timestamp unless given, so an incremental
        sync by afterUpdatedAt picks the change up.
        """
        return self.world.tenant(slug).activity.mutate_booking(uid, **changes)

    def cancel_booking(self, slug: str, uid: str, reason: str = "Termin passt leider nicht mehr.") -> SimBooking:
        """Cancel a booking as its attendee would."""
        return self.world.tenant(slug).activity.cancel_booking(uid, reason)

    def add_booking(self, slug: str, start: datetime, **details: Any) -> SimBooking:
        """Book a new slot at `start` (aware); see TenantActivity.add_booking for the details."""
        return self.world.tenant(slug).activity.add_booking(start, **details)

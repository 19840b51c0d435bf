"""Generating one tenant's bookings and calls for one local day.

A day's activity is drawn from `random.Random(f"activity:{seed}:{slug}:{date}")` alone (see
activity.py), so any day comes out the same in any order and any process.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from askpro_simulator.accounts import ascii_slug
from askpro_simulator.conversations import CallContext, Conversation, conversation, pick_scenario
from askpro_simulator.records import (
    ATTENDEE_ID_OFFSET,
    ActivityView,
    BOOKING_LEAD_DAYS,
    CALL_HOUR_WEIGHTS,
    CANCEL_REASONS,
    FIRST_NAMES,
    LANDLINE_PREFIXES,
    LAST_NAMES,
    MAX_CALL_BOOKINGS_PER_DAY,
    MAIL_DOMAINS,
    MOBILE_PREFIXES,
    NOTES,
    PRODUCT_PRICES,
    REJECT_REASONS,
    RESCHEDULE_REASONS,
    SimAttendee,
    SimBooking,
    SimCall,
    WEEKDAY_FACTORS,
    make_booking,
    make_call_id,
    make_uid,
    ms,
    resolve_agent_version,
    to_ms,
)
from askpro_simulator.retell_routes import uses_cal_tools

if TYPE_CHECKING:
    from askpro_simulator.accounts import SimAgent, SimEventType, SimPhoneNumber


# ---- generation -------------------------------------------------------------------------------


@dataclass
class _Person:
    first_name: str
    last_name: str
    email: str
    phone: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class _CallDraft:
    direction: str
    number: SimPhoneNumber
    agent: SimAgent
    agent_version: int
    other_party: str  # the caller's or callee's number
    person: _Person
    status: str
    start: datetime
    end: datetime
    call_id: str = ""
    booking: _BookingDraft | None = None
    explicit_link: bool = False


@dataclass
class _BookingDraft:
    event_type: SimEventType
    organizer_id: int
    start: datetime
    person: _Person
    created_at: datetime
    call: _CallDraft | None = None
    status: str = "accepted"
    updated_at: datetime | None = None
    reason: str | None = None
    reschedule_of: _BookingDraft | None = None  # set on the new booking of a reschedule
    replaced_by: _BookingDraft | None = None  # set on the old one
    uid: str = ""
    notes: str = ""
    with_guest: bool = False


class DayGenerator:
    """Draws one tenant's bookings and calls for one local day from that day's own rng."""

    def __init__(self, activity: ActivityView, day: date):
        self.activity = activity
        self.tenant = activity.tenant
        self.day = day
        self.rng = random.Random(f"activity:{self.tenant.seed}:{self.tenant.slug}:{day.isoformat()}")
        self.day_start, self.day_end = activity.day_bounds(day)
        self.factor = WEEKDAY_FACTORS[day.isoweekday()]
        self._windows: dict[int, list[tuple[datetime, datetime]]] = {}

    def run(self) -> tuple[list[SimBooking], list[SimCall]]:
        calls = self._draft_calls()
        linked = self._link_bookings(calls)
        target = self._count(self.tenant.spec.bookings_per_day)
        drafts = linked + self._other_bookings(max(0, target - len(linked)))
        drafts += self._statuses(drafts)
        salt = self.activity.salt
        for call in calls:
            call.call_id = make_call_id(self.rng, salt, self.day)
        for draft in drafts:
            draft.uid = make_uid(self.rng, salt, self.day)
        drafts.sort(key=lambda d: (d.start, d.created_at))
        bookings = self._finish_bookings(drafts)
        return bookings, [self._finish_call(c) for c in calls]

    def _count(self, per_weekday: int) -> int:
        return round(per_weekday * self.factor * self.rng.uniform(0.75, 1.25))

    # ---- people

    def _phone(self, mobile: bool = True) -> str:
        rng = self.rng
        if mobile:
            return f"+49{rng.choice(MOBILE_PREFIXES)}{rng.randint(1_000_000, 99_999_999):08d}"
        return f"+49{rng.choice(LANDLINE_PREFIXES)}{rng.randint(1_000_000, 9_999_999)}"

    def _person(self, phone_share: float) -> _Person:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        first_slug, last_slug = ascii_slug(first), ascii_slug(last)
        local = rng.choice([f"{first_slug}.{last_slug}", f"{first_slug[0]}.{last_slug}", f"{first_slug}{last_slug}"])
        phone = self._phone(mobile=rng.random() < 0.85) if rng.random() < phone_share else None
        return _Person(first, last, f"{local}@{rng.choice(MAIL_DOMAINS)}", phone)

    # ---- calls

    def _draft_calls(self) -> list[_CallDraft]:
        rng, tenant = self.rng, self.tenant
        inbound = [n for n in tenant.phone_numbers if n.inbound_agents]
        outbound = [n for n in tenant.phone_numbers if n.outbound_agents]
        if not inbound:
            return []
        calls = []
        for _ in range(self._count(tenant.spec.calls_per_day)):
            direction = "outbound" if outbound and rng.random() < 0.15 else "inbound"
            number = rng.choice(outbound if direction == "outbound" else inbound)
            bindings = number.outbound_agents if direction == "outbound" else number.inbound_agents
            binding = rng.choices(bindings, weights=[b.weight for b in bindings])[0]
            agent = tenant.agent(binding.agent_id)
            person = self._person(phone_share=1.0)
            status = rng.choices(["ended", "not_connected", "error"], weights=[90, 5, 5])[0]
            start = self._call_start()
            if status == "not_connected":
                seconds = 0
            elif status == "error":
                seconds = rng.randint(3, 45)
            else:
                seconds = rng.randint(60, 330) if direction == "inbound" else rng.randint(20, 200)
            end = start + timedelta(seconds=seconds, milliseconds=rng.randint(0, 999) if seconds else 0)
            calls.append(
                _CallDraft(
                    direction=direction,
                    number=number,
                    agent=agent,
                    agent_version=resolve_agent_version(agent, binding.agent_version),
                    other_party=person.phone,
                    person=person,
                    status=status,
                    start=start,
                    end=end,
                )
            )
        calls.sort(key=lambda c: c.start)
        return calls

    def _call_start(self) -> datetime:
        rng = self.rng
        hour = rng.choices(range(24), weights=CALL_HOUR_WEIGHTS)[0]
        start = self.day_start + timedelta(seconds=hour * 3600 + rng.randrange(3600), milliseconds=rng.randrange(1000))
        if start >= self.day_end:  # the short day of the spring DST switch
            start = self.day_end - timedelta(seconds=rng.randint(60, 3600))
        return start

    # ---- bookings

    def _link_bookings(self, calls: list[_CallDraft]) -> list[_BookingDraft]:
        """About half of the answered inbound calls (at most 250 a day) book a slot later the same day."""
        rng = self.rng
        candidates = [c for c in calls if c.direction == "inbound" and c.status == "ended"]
        target = min(round(len(candidates) / 2), MAX_CALL_BOOKINGS_PER_DAY)
        order = list(candidates)
        rng.shuffle(order)
        drafts: list[_BookingDraft] = []
        for call in order:
            if len(drafts) == target:
                break
            slot = self._pick_slot(call.end + timedelta(minutes=30))
            if slot is None:
                continue
            event_type, organizer_id, start = slot
            if rng.random() < 0.8:
                created = call.start + (call.end - call.start) * rng.uniform(0.5, 0.95)
            else:
                created = call.end + timedelta(seconds=rng.randint(5, 600), milliseconds=rng.randrange(1000))
            draft = _BookingDraft(event_type, organizer_id, start, call.person, ms(created), call=call)
            draft.notes = rng.choice(NOTES) if rng.random() < 0.3 else ""
            call.booking = draft
            call.explicit_link = rng.random() < 0.75
            drafts.append(draft)
        return drafts

    def _other_bookings(self, count: int) -> list[_BookingDraft]:
        """Bookings made online or by staff, days ahead; no call belongs to them."""
        rng = self.rng
        drafts = []
        for _ in range(count):
            slot = self._pick_slot(self.day_start)
            if slot is None:
                break
            event_type, organizer_id, start = slot
            draft = _BookingDraft(event_type, organizer_id, start, self._person(phone_share=0.6), start - self._lead())
            draft.notes = rng.choice(NOTES) if rng.random() < 0.4 else ""
            draft.with_guest = rng.random() < 0.15
            drafts.append(draft)
        return drafts

    def _statuses(self, drafts: list[_BookingDraft]) -> list[_BookingDraft]:
        """Cancel, reject, leave pending or reschedule some bookings; returns the replaced originals.

        Every change happens between creation and start, so generated bookings keep
        createdAt <= updatedAt <= start.
        """
        rng = self.rng
        originals = []
        for draft in list(drafts):
            roll = rng.random()
            if draft.call is not None:
                if roll < 0.08:
                    self._change(draft, "cancelled", rng.choice(CANCEL_REASONS))
                continue
            if roll < 0.12:
                self._change(draft, "cancelled", rng.choice(CANCEL_REASONS))
            elif roll < 0.17:
                draft.status = "pending"
            elif roll < 0.21:
                self._change(draft, "rejected", rng.choice(REJECT_REASONS))
            elif roll < 0.41:
                original = self._reschedule(draft)
                if original is not None:
                    originals.append(original)
        return originals

    def _change(self, draft: _BookingDraft, status: str, reason: str) -> None:
        draft.status = status
        draft.reason = reason
        draft.updated_at = ms(draft.created_at + (draft.start - draft.created_at) * self.rng.uniform(0.2, 0.95))

    def _reschedule(self, new: _BookingDraft) -> _BookingDraft | None:
        """Make `new` the result of moving an earlier booking of the same type from another slot today."""
        rng = self.rng
        slot = self._pick_slot(self.day_start, new.event_type)
        if slot is None or slot[2] == new.start:
            return None
        _, organizer_id, old_start = slot
        first_created = min(old_start, new.start) - self._lead()
        moved_at = ms(first_created + (min(old_start, new.start) - first_created) * rng.uniform(0.3, 0.9))
        old = _BookingDraft(new.event_type, organizer_id, old_start, new.person, first_created)
        old.status, old.updated_at, old.reason, old.replaced_by = "cancelled", moved_at, None, new
        old.notes, old.with_guest = new.notes, new.with_guest
        new.created_at, new.reschedule_of, new.reason = moved_at, old, rng.choice(RESCHEDULE_REASONS)
        return old

    def _lead(self) -> timedelta:
        """How long before its start a booking not made during a call was created."""
        rng = self.rng
        return timedelta(seconds=rng.randint(2 * 3600, BOOKING_LEAD_DAYS * 86_400), milliseconds=rng.randrange(1000))

    def _pick_slot(
        self, earliest: datetime, event_type: SimEventType | None = None
    ) -> tuple[SimEventType, int, datetime] | None:
        """A start on the slot grid inside an organizer's working hours today, not before `earliest`."""
        rng, event_types = self.rng, self.tenant.event_types
        if not event_types:
            return None
        for _ in range(12):
            chosen = event_type or rng.choice(event_types)
            organizer_id, schedule_id = self._organizer(chosen)
            step = timedelta(minutes=chosen.slot_interval or 15)
            length = timedelta(minutes=chosen.length)
            options = []
            for window_start, window_end in self._working_windows(schedule_id):
                first = window_start
                if earliest > first:
                    first = window_start + step * math.ceil((earliest - window_start) / step)
                last = window_end - length
                if first <= last:
                    options.append((first, (last - first) // step + 1))
            total = sum(count for _, count in options)
            if total == 0:
                continue
            pick = rng.randrange(total)
            for first, count in options:
                if pick < count:
                    return chosen, organizer_id, first + step * pick
                pick -= count
        return None

    def _organizer(self, event_type: SimEventType) -> tuple[int, int]:
        """(user id, schedule id) of who hosts a booking of this type."""
        if event_type.owner_id is not None or not event_type.hosts:
            user_id = event_type.owner_id if event_type.owner_id is not None else self.tenant.admin.id
            return user_id, event_type.schedule_id or self.tenant.user(user_id).default_schedule_id
        host = self.rng.choice(event_type.hosts)
        return host.user_id, host.schedule_id or self.tenant.user(host.user_id).default_schedule_id

    def _working_windows(self, schedule_id: int) -> list[tuple[datetime, datetime]]:
        """Today's working hours of a schedule in UTC; a date override replaces the weekly rows."""
        if schedule_id not in self._windows:
            schedule = self.tenant.schedule(schedule_id)
            zone = ZoneInfo(schedule.time_zone)
            overrides = [o for o in schedule.overrides if o.date == self.day.isoformat()]
            if overrides:
                ranges = [(o.start_time, o.end_time) for o in overrides if o.start_time != o.end_time]
            else:
                weekday = self.day.isoweekday() % 7  # Cal.com numbering, 0 = Sunday
                ranges = [(r.start_time, r.end_time) for r in schedule.availability if weekday in r.days]

            def at(hhmm: str) -> datetime:
                return datetime.combine(self.day, time.fromisoformat(hhmm), tzinfo=zone).astimezone(UTC)

            self._windows[schedule_id] = sorted((at(start), at(end)) for start, end in ranges)
        return self._windows[schedule_id]

    # ---- final records

    def _finish_bookings(self, drafts: list[_BookingDraft]) -> list[SimBooking]:
        tenant, day_base = self.tenant, self.activity._day_id_base(self.day)
        bookings, attendee_index = [], 0
        for index, draft in enumerate(drafts):
            person = draft.person
            attendees = [
                SimAttendee(
                    id=day_base + ATTENDEE_ID_OFFSET + attendee_index,
                    name=person.name,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    email=person.email,
                    phone_number=person.phone,
                    time_zone=tenant.spec.time_zone,
                )
            ]
            attendee_index += 1
            if draft.with_guest:
                guest = self._person(phone_share=0.0)
                attendees.append(
                    SimAttendee(
                        id=day_base + ATTENDEE_ID_OFFSET + attendee_index,
                        name=guest.name,
                        first_name=guest.first_name,
                        last_name=guest.last_name,
                        email=guest.email,
                        phone_number=None,
                        time_zone=tenant.spec.time_zone,
                    )
                )
                attendee_index += 1
            extra: dict[str, Any] = {"updated_at": draft.updated_at or draft.created_at}
            if draft.call is not None:
                extra["call_id"] = draft.call.call_id
                if draft.call.explicit_link:
                    extra["metadata"] = {"retell_call_id": draft.call.call_id}
            if draft.status == "cancelled" and draft.replaced_by is None:
                extra |= {"cancellation_reason": draft.reason, "cancelled_by_email": attendees[0].email}
            if draft.status == "rejected":
                extra["rejection_reason"] = draft.reason
            if draft.replaced_by is not None:
                extra |= {
                    "rescheduled": True,
                    "rescheduled_to_uid": draft.replaced_by.uid,
                    "rescheduling_reason": draft.replaced_by.reason,
                    "rescheduled_by_email": attendees[0].email,
                }
            if draft.reschedule_of is not None:
                extra["rescheduled_from_uid"] = draft.reschedule_of.uid
            bookings.append(
                make_booking(
                    tenant,
                    booking_id=day_base + index,
                    uid=draft.uid,
                    event_type=draft.event_type,
                    organizer_id=draft.organizer_id,
                    start=ms(draft.start),
                    attendees=tuple(attendees),
                    created_at=ms(draft.created_at),
                    status=draft.status,
                    notes=draft.notes,
                    **extra,
                )
            )
        return bookings

    def _finish_call(self, draft: _CallDraft) -> SimCall:
        rng, tenant = self.rng, self.tenant
        talk = self._conversation(draft)
        turns, analysis, node = talk.turns, talk.analysis, talk.node
        inbound = draft.direction == "inbound"
        seconds = math.ceil((draft.end - draft.start).total_seconds())
        costs = [
            {"product": product, "unit_price": price, "cost": _cents(price * seconds)}
            for product, price in PRODUCT_PRICES
        ]
        metadata = {"source": ascii_slug(draft.number.nickname)}
        collected = {"previous_node": node}
        if draft.booking is not None and draft.explicit_link:
            metadata["booking_uid"] = collected["booking_uid"] = draft.booking.uid
        latency: dict[str, Any] = {}
        if draft.status != "not_connected":
            p50 = rng.randint(850, 1400)
            p90 = p50 + rng.randint(300, 700)
            p95 = p90 + rng.randint(50, 300)
            p99 = p95 + rng.randint(100, 500)
            agent_turns = sum(1 for role, _ in turns if role == "agent")
            latency = {
                "e2e": {
                    "p50": p50,
                    "p90": p90,
                    "p95": p95,
                    "p99": p99,
                    "max": p99 + rng.randint(0, 300),
                    "min": p50 - rng.randint(200, 400),
                    "num": agent_turns,
                }
            }
        tag = next((name for name, t in draft.agent.tags.items() if t.get("version") == draft.agent_version), None)
        return SimCall(
            call_id=draft.call_id,
            direction=draft.direction,
            from_number=draft.other_party if inbound else draft.number.phone_number,
            to_number=draft.number.phone_number if inbound else draft.other_party,
            agent_id=draft.agent.agent_id,
            agent_version=draft.agent_version,
            agent_name=draft.agent.agent_name,
            agent_tag=tag,
            call_status=draft.status,
            start_timestamp=to_ms(draft.start),
            end_timestamp=to_ms(draft.end),
            disconnection_reason=self._disconnection(draft, talk.truth.scenario, talk.disconnection),
            caller_name=draft.person.name,
            turns=tuple(turns),
            call_analysis=analysis,
            call_cost={
                "combined_cost": _cents(sum(c["cost"] for c in costs)),
                "total_duration_seconds": seconds,
                "total_duration_unit_price": round(sum(p for _, p in PRODUCT_PRICES), 4),
                "product_costs": costs,
            },
            latency=latency,
            metadata=metadata,
            retell_llm_dynamic_variables={"praxis_name": tenant.company_name},
            collected_dynamic_variables=collected,
            booking_uid=draft.booking.uid if draft.booking is not None else None,
            tool_events=tuple(talk.tool_events),
            truth=talk.truth,
        )

    def _disconnection(self, draft: _CallDraft, scenario: str, chosen: str | None) -> str:
        rng = self.rng
        if chosen is not None:
            return chosen
        if scenario == "not_connected":
            if draft.direction == "outbound":
                return rng.choice(["dial_no_answer", "dial_busy", "dial_failed"])
            return rng.choice(["concurrency_limit_reached", "marked_as_spam"])
        if scenario == "error":
            return rng.choice(["error_llm_websocket_runtime", "error_asr", "error_unknown"])
        if scenario == "voicemail":
            return "voicemail_reached"
        return rng.choices(["user_hangup", "agent_hangup"], weights=[55, 35])[0]

    def _conversation(self, draft: _CallDraft) -> Conversation:
        """The call's conversation by its scenario, in German or (a share of calls) English."""
        rng, tenant = self.rng, self.tenant
        scenario = pick_scenario(
            rng,
            status=draft.status,
            inbound=draft.direction == "inbound",
            booked=draft.booking is not None,
            phantom_share=tenant.spec.phantom_booking_share,
        )
        agent_index = next(i for i, a in enumerate(tenant.agents) if a.agent_id == draft.agent.agent_id)
        ctx = CallContext(
            rng=rng,
            scenario=scenario,
            language="en" if rng.random() < tenant.spec.english_share else "de",
            legacy_tools=uses_cal_tools(tenant.spec.retell_generation, agent_index),
            company=tenant.company_name,
            name=draft.person.name,
            call_id=draft.call_id,
            inbound=draft.direction == "inbound",
            booking_date=self.day.isoformat(),
            booking_time="16:00",
        )
        if draft.booking is not None:
            local = draft.booking.start.astimezone(self.activity.zone)
            ctx.booking_title = draft.booking.event_type.title
            ctx.booking_time = local.strftime("%H:%M")
            ctx.booking_uid = draft.booking.uid
            ctx.organizer = tenant.user(draft.booking.organizer_id).name
        elif scenario == "phantom":
            ctx.booking_title = tenant.event_types[0].title if tenant.event_types else ""
            ctx.organizer = tenant.admin.name
        return conversation(ctx)


def _cents(value: float) -> float | int:
    """Cents with two decimals; whole numbers as ints, the way a JavaScript sender prints them."""
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded

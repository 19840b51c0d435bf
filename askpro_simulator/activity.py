"""Bookings and Retell calls per tenant and local day, generated on first use.

A day's activity is drawn from `random.Random(f"activity:{seed}:{slug}:{date}")` alone, so any
day of the activity year can be asked for in any order, in any process, and comes out the same
without generating the days before it. Booking uids, call ids and integer booking ids encode
their day, so one item can be fetched without an index of the whole year.

About half of the answered inbound calls of a day lead to a booking later that same day: the
booking's attendee phone is the caller's number and it was created during the call (or up to
ten minutes after). Most of those calls also carry `booking_uid` in `collected_dynamic_variables`
and `metadata`; the rest can only be linked by number and time, as in real accounts.

Tests may change bookings afterwards (`TenantActivity.mutate_booking`, `add_booking`,
`cancel_booking`); each change bumps the day's revision so a server re-renders only that day.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from askpro_simulator.accounts import ascii_slug
from askpro_simulator.generation import DayGenerator
from askpro_simulator.records import (
    ACTIVITY_FIRST_DAY,
    ACTIVITY_ID_OFFSET,
    ACTIVITY_LAST_DAY,
    ATTENDEE_ID_OFFSET,
    IDS_PER_DAY,
    MUTATION_EPOCH,
    SimAttendee,
    SimBooking,
    SimCall,
    as_date,
    call_id_day,
    day_index,
    in_period,
    make_booking,
    make_uid,
    ms,
    uid_day,
)

if TYPE_CHECKING:
    from askpro_simulator.accounts import TenantAccounts


# ---- the per-tenant store ---------------------------------------------------------------------


@dataclass
class _Day:
    bookings: list[SimBooking]
    calls: list[SimCall]
    revision: int = 0
    next_booking_index: int = 0  # for the integer ids of added bookings
    next_attendee_index: int = 0


class TenantActivity:
    """One tenant's bookings and calls: drawn per local day on first use, cached, and mutable."""

    def __init__(self, tenant: TenantAccounts):
        self.tenant = tenant
        self.zone = ZoneInfo(tenant.spec.time_zone)
        self.salt = f"{tenant.seed}:{tenant.slug}"
        self._lock = threading.RLock()
        self._days: dict[date, _Day] = {}
        self._moved: dict[str, date] = {}  # uid -> day, for bookings a mutation moved to another day
        self._touched: set[date] = set()
        self._clock = MUTATION_EPOCH

    # ---- reading

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """[local midnight, next local midnight) of a day, in UTC (23 or 25 hours on DST days)."""
        start = datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)
        return start, end

    def bookings_on(self, day: date | str) -> list[SimBooking]:
        """Bookings whose start falls on this local day, by start then id."""
        return list(self._day(as_date(day)).bookings)

    def calls_on(self, day: date | str) -> list[SimCall]:
        """Calls whose start falls on this local day, by start then call id."""
        return list(self._day(as_date(day)).calls)

    def snapshot(self, day: date) -> tuple[int, list[SimBooking], list[SimCall]]:
        """(revision, bookings, calls) of a day, read together so a cache keyed by revision stays true."""
        with self._lock:
            data = self._day(day)
            return data.revision, list(data.bookings), list(data.calls)

    @property
    def touched_days(self) -> frozenset[date]:
        """Days a mutation changed: their timestamps may break the generated invariants
        (createdAt <= updatedAt <= start), so range shortcuts must include them."""
        with self._lock:
            return frozenset(self._touched)

    def booking(self, uid: str) -> SimBooking | None:
        with self._lock:
            day = self._moved.get(uid) or uid_day(uid, self.salt)
            if day is None:
                return None
            return next((b for b in self._day(day).bookings if b.uid == uid), None)

    def call(self, call_id: str) -> SimCall | None:
        day = call_id_day(call_id, self.salt)
        if day is None:
            return None
        return next((c for c in self._day(day).calls if c.call_id == call_id), None)

    def _day(self, day: date) -> _Day:
        with self._lock:
            data = self._days.get(day)
            if data is None:
                if in_period(day):
                    bookings, calls = DayGenerator(self, day).run()
                else:
                    bookings, calls = [], []
                data = _Day(bookings, calls, next_booking_index=len(bookings))
                data.next_attendee_index = sum(len(b.attendees) for b in bookings)
                self._days[day] = data
            return data

    # ---- changing (tests)

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def mutate_booking(self, uid: str, /, **changes: Any) -> SimBooking:
        """Replace fields of a booking (SimBooking field names); `updated_at` advances unless given.

        Changing `start` keeps the duration unless `end` is given too, and moves the booking to
        its new local day.
        """
        allowed = {f.name for f in fields(SimBooking)} - {"id", "uid"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"cannot change {', '.join(unknown)}; changeable: {', '.join(sorted(allowed))}")
        for name in ("start", "end", "created_at", "updated_at"):
            if name in changes:
                if changes[name].tzinfo is None:
                    raise ValueError(f"{name} must be timezone-aware")
                changes[name] = ms(changes[name].astimezone(UTC))
        with self._lock:
            old = self.booking(uid)
            if old is None:
                raise KeyError(f"no booking {uid!r} in {self.tenant.slug}")
            if "start" in changes and "end" not in changes:
                changes["end"] = changes["start"] + (old.end - old.start)
            changes.setdefault("updated_at", self._tick())
            new = replace(old, **changes)
            self._replace(old, new)
            return new

    def cancel_booking(self, uid: str, reason: str = "Termin passt leider nicht mehr.") -> SimBooking:
        """Cancel as the attendee would."""
        booking = self.booking(uid)
        if booking is None:
            raise KeyError(f"no booking {uid!r} in {self.tenant.slug}")
        return self.mutate_booking(
            uid, status="cancelled", cancellation_reason=reason, cancelled_by_email=booking.attendee.email
        )

    def add_booking(
        self,
        start: datetime,
        *,
        event_type_id: int | None = None,
        attendee_name: str = "Erika Mustermann",
        attendee_email: str | None = None,
        attendee_phone: str | None = None,
        status: str = "accepted",
        created_at: datetime | None = None,
        notes: str = "",
    ) -> SimBooking:
        """A new booking at `start` (aware); ids and uid are deterministic per day and call order."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        start = ms(start.astimezone(UTC))
        day = self.local_date(start)
        if not in_period(day):
            raise ValueError(f"bookings can only be added between {ACTIVITY_FIRST_DAY} and {ACTIVITY_LAST_DAY}")
        tenant = self.tenant
        if not tenant.event_types:
            raise ValueError(f"tenant {tenant.slug!r} has no event types to book")
        event_type = tenant.event_type(event_type_id) if event_type_id is not None else tenant.event_types[0]
        organizer_id = event_type.owner_id if event_type.owner_id is not None else event_type.hosts[0].user_id
        with self._lock:
            data = self._day(day)
            if data.next_booking_index >= ATTENDEE_ID_OFFSET:
                raise ValueError(f"too many bookings on {day}")
            day_base = self._day_id_base(day)
            rng = random.Random(f"added:{self.salt}:{day.isoformat()}:{data.next_booking_index}")
            first, _, last = attendee_name.partition(" ")
            attendee = SimAttendee(
                id=day_base + ATTENDEE_ID_OFFSET + data.next_attendee_index,
                name=attendee_name,
                first_name=first,
                last_name=last,
                email=attendee_email or f"{ascii_slug(attendee_name).replace('-', '.')}@example.de",
                phone_number=attendee_phone,
                time_zone=tenant.spec.time_zone,
            )
            created = ms(created_at.astimezone(UTC)) if created_at else self._tick()
            booking = make_booking(
                tenant,
                booking_id=day_base + data.next_booking_index,
                uid=make_uid(rng, self.salt, day),
                event_type=event_type,
                organizer_id=organizer_id,
                start=start,
                attendees=(attendee,),
                created_at=created,
                status=status,
                notes=notes,
            )
            data.next_booking_index += 1
            data.next_attendee_index += 1
            self._insert(day, booking)
            return booking

    def _day_id_base(self, day: date) -> int:
        return self.tenant.id_base + ACTIVITY_ID_OFFSET + day_index(day) * IDS_PER_DAY

    def _replace(self, old: SimBooking, new: SimBooking) -> None:
        old_day = self.local_date(old.start)
        data = self._day(old_day)
        data.bookings = [b for b in data.bookings if b.uid != old.uid]
        data.revision += 1
        self._touched.add(old_day)
        new_day = self.local_date(new.start)
        self._insert(new_day, new)
        if new_day == uid_day(new.uid, self.salt):
            self._moved.pop(new.uid, None)
        else:
            self._moved[new.uid] = new_day

    def _insert(self, day: date, booking: SimBooking) -> None:
        data = self._day(day)
        data.bookings = sorted([*data.bookings, booking], key=lambda b: (b.start, b.id))
        data.revision += 1
        self._touched.add(day)

"""Cal.com v2 `/v2/slots` in the simulator: free start times derived from the world itself.

Slots come from each host's schedule (weekly rows, replaced by a date override on its date), less
the host's accepted and pending bookings (with the event type's buffers), less the minimum
booking notice counted from the simulator's fixed clock. Wall-clock hours are turned into
instants in the schedule's own time zone day by day, so a daylight-saving change moves the
instants, not the local hours. Round-robin and personal event types offer a start when any host
is free; collective ones only when every host is. The rolling booking period is not applied (the
world's clock is fixed in the past; a period would empty every future day).

Kept apart from server.py so the slot rules read in one place and move with the simulator.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from askpro_simulator.accounts import SIM_NOW, SimSchedule
from askpro_simulator.world import TenantWorld

BLOCKING_STATUSES = ("accepted", "pending")
MAX_RANGE_DAYS = 62
Interval = tuple[datetime, datetime]


def _clock(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """A local wall-clock time on a day as a UTC instant; "24:00" and "00:00" as an end mean midnight."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    if hours == 24:
        return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return datetime.combine(day, time(hours, minutes), zone).astimezone(UTC)


def working_intervals(schedule: SimSchedule, day: date) -> list[Interval]:
    """The schedule's working time on one of its local days, as UTC intervals."""
    zone = ZoneInfo(schedule.time_zone)
    overrides = [o for o in schedule.overrides if o.date == day.isoformat()]
    if overrides:
        rows = [(o.start_time, o.end_time) for o in overrides if (o.start_time, o.end_time) != ("00:00", "00:00")]
    else:
        js_weekday = (day.weekday() + 1) % 7  # Cal.com v1 numbering: 0 = Sunday
        rows = [(a.start_time, a.end_time) for a in schedule.availability if js_weekday in a.days]
    intervals = []
    for start, end in rows:
        begin = _clock(day, start, zone)
        finish = _clock(day, end, zone) if end != "00:00" else _clock(day + timedelta(days=1), "00:00", zone)
        if finish > begin:
            intervals.append((begin, finish))
    return sorted(intervals)


def host_schedules(tenant: TenantWorld, event_type_id: int) -> list[tuple[int, SimSchedule]]:
    """(user id, schedule) of every host of the event type: its own schedule, else the host's default."""
    event_type = tenant.event_type(event_type_id)
    if not event_type.is_team:
        owner = tenant.user(event_type.owner_id)
        return [(owner.id, tenant.schedule(event_type.schedule_id or owner.default_schedule_id))]
    return [
        (host.user_id, tenant.schedule(host.schedule_id or tenant.user(host.user_id).default_schedule_id))
        for host in event_type.hosts
    ]


def busy_intervals(tenant: TenantWorld, user_id: int, first: date, last: date) -> list[Interval]:
    """The user's accepted and pending bookings starting on local days first..last."""
    busy = []
    day = first
    while day <= last:
        busy += [(b.start, b.end) for b in tenant.bookings_on(day) if b.organizer_id == user_id and b.status in BLOCKING_STATUSES]
        day += timedelta(days=1)
    return busy


def _overlaps(start: datetime, end: datetime, intervals: list[Interval]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in intervals)


def _inside(start: datetime, end: datetime, intervals: list[Interval]) -> bool:
    return any(begin <= start and end <= finish for begin, finish in intervals)


def free_slots(tenant: TenantWorld, event_type_id: int, first: date, last: date, time_zone: str) -> dict[str, list[datetime]]:
    """Free start instants per requested-zone day (first..last), as `/v2/slots` answers them."""
    event_type = tenant.event_type(event_type_id)
    zone = ZoneInfo(time_zone)
    length = timedelta(minutes=event_type.length)
    step = timedelta(minutes=event_type.slot_interval or event_type.length)
    before = timedelta(minutes=event_type.before_event_buffer)
    after = timedelta(minutes=event_type.after_event_buffer)
    earliest = SIM_NOW + timedelta(minutes=event_type.minimum_booking_notice)
    window_start = datetime.combine(first, time(0), zone).astimezone(UTC)
    window_end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    # Schedule days reach one day further each side: the requested zone may differ from the schedule's.
    span = [first - timedelta(days=1) + timedelta(days=n) for n in range((last - first).days + 3)]
    hosts = []
    for user_id, schedule in host_schedules(tenant, event_type_id):
        working = [iv for day in span for iv in working_intervals(schedule, day)]
        busy = busy_intervals(tenant, user_id, span[0], span[-1])
        hosts.append((working, busy))
    candidates: set[datetime] = set()
    for working, _busy in hosts:
        for begin, finish in working:
            start = begin
            while start + length <= finish:
                candidates.add(start)
                start += step

    def free(start: datetime, host: tuple[list[Interval], list[Interval]]) -> bool:
        working, busy = host
        return _inside(start, start + length, working) and not _overlaps(start - before, start + length + after, busy)

    need_all = event_type.scheduling_type == "collective"
    slots: dict[str, list[datetime]] = {}
    for start in sorted(candidates):
        if not (window_start <= start < window_end) or start < earliest:
            continue
        answers = [free(start, host) for host in hosts]
        if all(answers) if need_all else any(answers):
            slots.setdefault(start.astimezone(zone).date().isoformat(), []).append(start.astimezone(zone))
    return slots


def slot_text(moment: datetime) -> str:
    """A slot start as Cal.com writes it: local time with milliseconds and the offset."""
    return moment.isoformat(timespec="milliseconds")


def slots_body(slots: dict[str, list[datetime]]) -> dict:
    """The `/v2/slots` answer: `{status, data: {day: [{start}]}}`, days without slots absent."""
    return {"status": "success", "data": {day: [{"start": slot_text(s)} for s in starts] for day, starts in slots.items()}}

"""Is this time free, for a dialled number? The number's branch and event type, then Cal.com's
free slots, answered as "free" or the three nearest alternatives (same day first, by distance; then
the following days in order), in the tenant's time zone.

Live answers ask Cal.com (`CalcomClient.free_slots`); offline ones read the newest
`branch_availability` snapshot and say how old it is. Whatever cannot be answered raises
`Unanswerable` with a one-line reason.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from askpro_pipelines.phone_chain import InvalidPhoneNumber, NotFound, normalize_phone_number, resolve_phone_number
from askpro_pipelines.resources.http import ApiError
from askpro_pipelines.tenants import Tenant, TenantsConfig, TenantsFileError
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.tables import branch_availability

if TYPE_CHECKING:
    from askpro_pipelines.resources.calcom import CalcomClient

ALTERNATIVES = 3
DEFAULT_SEARCH_DAYS = 7


class Unanswerable(Exception):
    """The question has no answer; the message is the one line shown to the operator."""


@dataclass(frozen=True)
class Target:
    """Where a number books: tenant, branch and the branch's Cal.com event type."""

    tenant: Tenant
    phone_number: str
    branch_id: str
    branch_name: str
    event_type_id: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)


@dataclass
class Answer:
    target: Target
    at: dt.datetime  # the asked time, in the tenant's zone
    free: bool
    alternatives: list[dt.datetime] = field(default_factory=list)
    snapshot_at: dt.datetime | None = None  # set for offline answers: when the snapshot was taken


def _tenant_of(config: TenantsConfig, slug: str | None, number: str) -> list[Tenant]:
    if slug is None:
        return list(config.tenants)
    try:
        return [config.get(slug)]
    except TenantsFileError as exc:  # an unknown slug
        raise Unanswerable(f"{number}: {exc}") from None


def resolve_target(
    number: str, config: TenantsConfig, warehouse: Warehouse | None, tenant: str | None = None
) -> Target:
    """The number's branch and event type: the synced phone chain first, else the tenants file."""
    try:
        normalized = normalize_phone_number(number)
    except InvalidPhoneNumber as exc:
        raise Unanswerable(str(exc)) from None
    tenants = _tenant_of(config, tenant, normalized)
    if warehouse is not None:
        assignment = resolve_phone_number(normalized, warehouse, tenant)
        if not isinstance(assignment, NotFound) and any(t.slug == assignment.tenant for t in tenants):
            if assignment.branch_id is None:
                raise Unanswerable(
                    f"{normalized} (tenant {assignment.tenant}) has no branch: no branch in the tenants file lists it"
                )
            if assignment.event_type_id is None or assignment.event_type_title is None:
                raise Unanswerable(
                    f"branch {assignment.branch_id} of tenant {assignment.tenant} has no event type in Cal.com "
                    f"(event type {assignment.event_type_id or 'unset'} not found at the last sync)"
                )
            owner = next(t for t in tenants if t.slug == assignment.tenant)
            return Target(
                owner, normalized, assignment.branch_id, assignment.branch_name or "", assignment.event_type_id
            )
    matches = [(t, b) for t in tenants for b in t.branches if normalized in b.phone_numbers]
    if not matches:
        where = f"tenant {tenant}" if tenant else "any tenant"
        raise Unanswerable(f"{normalized} has no branch: no branch of {where} lists it")
    if len(matches) > 1:
        places = ", ".join(f"{t.slug}/{b.id}" for t, b in matches)
        raise Unanswerable(
            f"{normalized} is listed on several branches ({places}); give --tenant or fix the tenants file"
        )
    owner, branch = matches[0]
    if not branch.calcom_event_type_id:
        raise Unanswerable(f"branch {branch.id} of tenant {owner.slug} has no event type")
    return Target(owner, normalized, branch.id, branch.name, str(branch.calcom_event_type_id))


def local_time(text: str, zone: ZoneInfo) -> dt.datetime:
    """`--at` as an aware time in the tenant's zone (a time without an offset is read as local)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Unanswerable(f"--at {text!r} is not an ISO time like 2026-12-03T10:00") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def choose(at: dt.datetime, starts: list[dt.datetime], now: dt.datetime) -> tuple[bool, list[dt.datetime]]:
    """(free, alternatives): same-day starts nearest first, then later days in order; none before now."""
    zone = at.tzinfo
    future = sorted({s.astimezone(zone) for s in starts if s >= now})
    if at in future:
        return True, []
    same_day = sorted((s for s in future if s.date() == at.date()), key=lambda s: (abs(s - at), s))
    later = [s for s in future if s.date() > at.date()]
    return False, (same_day + later)[:ALTERNATIVES]


def live_answer(
    target: Target, at: dt.datetime, client: "CalcomClient", now: dt.datetime, days: int = DEFAULT_SEARCH_DAYS
) -> Answer:
    """Ask Cal.com for the asked day and the `days` after it."""
    try:
        found = client.free_slots(
            target.event_type_id, at.date(), at.date() + dt.timedelta(days=days), target.tenant.timezone
        )
    except ApiError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Unanswerable(f"Cal.com unreachable for tenant {target.tenant.slug}: {first_line}") from None
    free, alternatives = choose(at, [s for starts in found.values() for s in starts], now)
    return Answer(target, at, free, alternatives)


def offline_answer(target: Target, at: dt.datetime, warehouse: Warehouse, now: dt.datetime) -> Answer:
    """Answer from the newest `branch_availability` snapshot of the branch (the asked day onwards)."""
    t = branch_availability
    query = sa.select(t.c.day, t.c.slots, t.c.refreshed_at).where(
        t.c.tenant == target.tenant.slug, t.c.branch_id == target.branch_id, t.c.day >= at.date()
    )
    with warehouse.engine.connect() as conn:
        rows = list(conn.execute(query))
    if not rows or not any(r.day == at.date() for r in rows):
        raise Unanswerable(
            f"no availability snapshot of {at.date()} for branch {target.branch_id} of tenant {target.tenant.slug}: "
            "materialize branch_availability, or ask without --offline"
        )
    starts = [dt.datetime.fromisoformat(s) for r in rows for s in (r.slots or [])]
    free, alternatives = choose(at, starts, now)
    return Answer(target, at, free, alternatives, snapshot_at=min(r.refreshed_at for r in rows))


def _age(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"


def render(answer: Answer, now: dt.datetime) -> list[str]:
    """The lines `askpro availability` prints."""
    target = answer.target
    where = f"{target.branch_name or target.branch_id} ({target.tenant.slug}/{target.branch_id}, event type {target.event_type_id})"
    asked = answer.at.strftime("%a %Y-%m-%d %H:%M")
    lines = []
    if answer.snapshot_at is not None:
        taken = answer.snapshot_at.astimezone(target.zone).strftime("%Y-%m-%d %H:%M")
        lines.append(f"offline: snapshot taken {taken} {target.tenant.timezone}, {_age(now - answer.snapshot_at)} old")
    if answer.free:
        lines.append(f"free: {asked} {target.tenant.timezone} at {where}")
        return lines
    lines.append(f"not free: {asked} {target.tenant.timezone} at {where}")
    if not answer.alternatives:
        lines.append("no free slot on that day or the following days")
    for start in answer.alternatives:
        lines.append(f"  alternative: {start.strftime('%a %Y-%m-%d %H:%M')}")
    return lines

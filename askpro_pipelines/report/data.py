"""One tenant-week of the warehouse as plain figures: what the weekly report shows, nothing else.

Sources (read only): `booking_outcomes` (calls and bookings per day), `booking_success` (success
per branch and agent version), `call_analysis` (why calls failed), `api_health` (the week's runs),
`quarantined_records` (held now) and `phone_assignments` with `staff_event_types`/`staff` (the
phone chain as last synced). Aggregation happens in SQL, so a busy tenant's week is a few rows.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.report.week import IsoWeek, in_progress
from askpro_pipelines.tenants import Tenant
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.tables import (
    api_health,
    booking_outcomes,
    booking_success,
    call_analysis,
    phone_assignments,
    quarantined_records,
    retell_agent_versions,
    staff,
    staff_event_types,
)

NEWEST_QUARANTINED = 10
TOP_REASONS = 12
NO_BRANCH = "-"
# How a call ends when nothing went wrong (a transfer is counted as its own reason).
ORDINARY_ENDINGS = frozenset({"user_hangup", "agent_hangup", "call_transfer", "transfer_bridged"})


@dataclass(frozen=True)
class DayFigures:
    day: dt.date
    calls: int  # inbound calls started that local day
    calls_with_booking: int
    bookings: int  # Cal.com bookings created that local day, any channel


@dataclass(frozen=True)
class SuccessFigures:
    """booking_success summed over the week for one branch or agent version."""

    label: str
    key: str
    calls: int
    tried: int
    booked: int
    cancelled: int

    @property
    def rate(self) -> float | None:
        """Bookings from calls per call that tried to book; None when none tried."""
        return self.booked / self.tried if self.tried else None


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    calls: int


@dataclass(frozen=True)
class ApiFigures:
    """One API's runs of the week, summed (p95: the worst run's; remaining: the lowest seen)."""

    api: str
    runs: int
    requests: int
    errors_4xx: int
    errors_5xx: int
    errors_network: int
    rate_limited: int
    retries: int
    breaker_opens: int
    p95_ms: float | None
    min_remaining: int | None
    rate_limit: int | None

    @property
    def errors(self) -> int:
        return self.errors_4xx + self.errors_5xx + self.errors_network


@dataclass(frozen=True)
class QuarantinedRecord:
    api: str
    entity: str
    scope: str
    record_id: str
    error: str
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True)
class ChainLink:
    """One number and branch: number → agent + version → branch → event type → staff."""

    phone_number: str
    agent: str | None
    version: str | None
    branch: str | None
    event_type: str | None
    staff: tuple[str, ...]


@dataclass(frozen=True)
class ReportData:
    tenant: str
    tenant_name: str
    timezone: str
    week: IsoWeek
    generated_at: dt.datetime
    in_progress: bool
    days: list[DayFigures] = field(default_factory=list)  # empty when no outcomes were synced that week
    total: SuccessFigures | None = None
    by_branch: list[SuccessFigures] = field(default_factory=list)
    by_agent_version: list[SuccessFigures] = field(default_factory=list)
    calls_analysed: int = 0
    reasons: list[ReasonCount] = field(default_factory=list)
    api: list[ApiFigures] = field(default_factory=list)
    quarantined_total: int = 0
    quarantined_newest: list[QuarantinedRecord] = field(default_factory=list)
    chain: list[ChainLink] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(d.calls for d in self.days)

    @property
    def bookings(self) -> int:
        return sum(d.bookings for d in self.days)


def load_report(warehouse: Warehouse, tenant: Tenant, week: IsoWeek, now: dt.datetime | None = None) -> ReportData:
    """Everything the report shows for `tenant` in `week` (its local calendar)."""
    now = now or dt.datetime.now(dt.UTC)
    with warehouse.engine.connect() as conn:
        success = _success(conn, tenant, week)
        analysed, reasons = _failure_reasons(conn, tenant.slug, week)
        newest, total_held = _quarantined(conn, tenant.slug)
        return ReportData(
            tenant=tenant.slug,
            tenant_name=tenant.name,
            timezone=tenant.timezone,
            week=week,
            generated_at=now,
            in_progress=in_progress(week, tenant.timezone, now),
            days=_days(conn, tenant.slug, week),
            total=next(iter(success["tenant"]), None),
            by_branch=success["branch"],
            by_agent_version=success["agent_version"],
            calls_analysed=analysed,
            reasons=reasons,
            api=_api(conn, tenant, week),
            quarantined_total=total_held,
            quarantined_newest=newest,
            chain=_chain(conn, tenant.slug),
        )


def _in_week(table: sa.Table, tenant: str, week: IsoWeek) -> list[sa.ColumnElement[bool]]:
    return [table.c.tenant == tenant, table.c.day >= week.monday, table.c.day <= week.sunday]


def _days(conn: sa.Connection, tenant: str, week: IsoWeek) -> list[DayFigures]:
    o = booking_outcomes
    query = (
        sa.select(
            o.c.day,
            sa.func.sum(o.c.inbound_calls),
            sa.func.sum(o.c.calls_with_booking),
            sa.func.sum(o.c.bookings_created),
        )
        .where(*_in_week(o, tenant, week))
        .group_by(o.c.day)
    )
    found = {row[0]: row[1:] for row in conn.execute(query)}
    if not found:
        return []
    return [DayFigures(day, *(int(v or 0) for v in found.get(day, (0, 0, 0)))) for day in week.days]


def _success(conn: sa.Connection, tenant: Tenant, week: IsoWeek) -> dict[str, list[SuccessFigures]]:
    s = booking_success
    query = (
        sa.select(
            s.c.grouping,
            s.c.group_key,
            sa.func.max(s.c.agent_id),
            sa.func.max(s.c.agent_version),
            sa.func.sum(s.c.calls),
            sa.func.sum(s.c.calls_tried_to_book),
            sa.func.sum(s.c.bookings_from_calls),
            sa.func.sum(s.c.bookings_from_calls_cancelled),
        )
        .where(*_in_week(s, tenant.slug, week))
        .group_by(s.c.grouping, s.c.group_key)
    )
    branch_names = {b.id: b.name for b in tenant.branches}
    agent_names = _agent_names(conn, tenant.slug)
    grouped: dict[str, list[SuccessFigures]] = defaultdict(list)
    for grouping, key, agent_id, version, *counts in conn.execute(query):
        if grouping == "branch":
            label = "no branch" if key == NO_BRANCH else branch_names.get(key, key)
        elif grouping == "agent_version":
            label = f"{agent_names.get((agent_id, version)) or agent_id} v{version}"
        else:
            label = tenant.name
        grouped[grouping].append(SuccessFigures(label, key, *(int(c or 0) for c in counts)))
    return {g: sorted(grouped[g], key=lambda f: (f.label, f.key)) for g in ("tenant", "branch", "agent_version")}


def _agent_names(conn: sa.Connection, tenant: str) -> dict[tuple[str, int], str]:
    v = retell_agent_versions
    rows = conn.execute(sa.select(v.c.agent_id, v.c.version, v.c.agent_name).where(v.c.tenant == tenant))
    return {(agent_id, version): name for agent_id, version, name in rows if name}


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _failure_reasons(conn: sa.Connection, tenant: str, week: IsoWeek) -> tuple[int, list[ReasonCount]]:
    """Calls analysed in the week, and why calls failed, most frequent first (zero counts left out)."""
    c = call_analysis
    where = _in_week(c, tenant, week)
    named = {
        "no free slot (booking tool found none)": c.c.booking_result == "no_slot",
        "booking tool error": c.c.booking_result == "error",
        "booked but not in Cal.com": c.c.booking_confirmed.is_(False),
        "caller hung up early (abandoned)": c.c.abandoned.is_(True),
        "transferred to a person": c.c.transferred.is_(True),
        "caller silent": c.c.silent.is_(True),
    }
    figures = conn.execute(
        sa.select(sa.func.count(), *(_count_where(condition) for condition in named.values())).where(*where)
    ).one()
    reasons = [ReasonCount(reason, int(n)) for reason, n in zip(named, figures[1:], strict=True)]
    endings = conn.execute(
        sa.select(c.c.disconnection_reason, sa.func.count())
        .where(*where, c.c.disconnection_reason.is_not(None), c.c.disconnection_reason.not_in(ORDINARY_ENDINGS))
        .group_by(c.c.disconnection_reason)
    )
    reasons += [ReasonCount(f"ended: {reason}", int(n)) for reason, n in endings]
    ranked = sorted((r for r in reasons if r.calls), key=lambda r: (-r.calls, r.reason))
    return int(figures[0]), ranked[:TOP_REASONS]


API_SUMS = ("requests", "errors_4xx", "errors_5xx", "errors_network", "rate_limited", "retries", "breaker_opens")


def _optional(value: Any, kind: type[int] | type[float]) -> Any:
    return None if value is None else kind(value)


def _api(conn: sa.Connection, tenant: Tenant, week: IsoWeek) -> list[ApiFigures]:
    """The runs that started in the tenant's local week, per API."""
    h = api_health
    start, end = week.window(tenant.timezone)
    query = (
        sa.select(
            h.c.api,
            sa.func.count().label("runs"),
            *(sa.func.coalesce(sa.func.sum(h.c[name]), 0).label(name) for name in API_SUMS),
            sa.func.max(h.c.latency_p95_ms).label("p95_ms"),
            sa.func.min(h.c.min_rate_limit_remaining).label("min_remaining"),
            sa.func.max(h.c.rate_limit).label("rate_limit"),
        )
        .where(h.c.tenant == tenant.slug, h.c.started_at >= start, h.c.started_at < end)
        .group_by(h.c.api)
        .order_by(h.c.api)
    )
    return [
        ApiFigures(
            api=row.api,
            runs=int(row.runs),
            **{name: int(row._mapping[name]) for name in API_SUMS},
            p95_ms=_optional(row.p95_ms, float),
            min_remaining=_optional(row.min_remaining, int),
            rate_limit=_optional(row.rate_limit, int),
        )
        for row in conn.execute(query)
    ]


def _quarantined(conn: sa.Connection, tenant: str) -> tuple[list[QuarantinedRecord], int]:
    """The newest records held now (by when they were first quarantined), and how many are held."""
    q = quarantined_records
    total = conn.execute(sa.select(sa.func.count()).where(q.c.tenant == tenant)).scalar_one()
    rows = conn.execute(
        sa.select(q.c.api, q.c.entity, q.c.scope, q.c.record_id, q.c.error, q.c.first_seen, q.c.last_seen)
        .where(q.c.tenant == tenant)
        .order_by(q.c.first_seen.desc(), q.c.id.desc())
        .limit(NEWEST_QUARANTINED)
    )
    return [QuarantinedRecord(*row) for row in rows], int(total)


def _named(name: str | None, ident: Any) -> str | None:
    if name and ident:
        return f"{name} ({ident})"
    return name or (str(ident) if ident is not None else None)


def _version(row: Any) -> str | None:
    """The version a number reaches: "v3 published", or "prod → v3 published" when bound to a tag."""
    bound = row.agent_version
    if row.agent_version_resolved is None:
        return f"{bound} → unresolved" if bound else None
    state = "published" if row.agent_version_published else "draft"
    reached = f"v{row.agent_version_resolved} {state}"
    return reached if bound in (None, str(row.agent_version_resolved)) else f"{bound} → {reached}"


def _chain(conn: sa.Connection, tenant: str) -> list[ChainLink]:
    p, se, st = phone_assignments, staff_event_types, staff
    hosts: dict[str, list[str]] = defaultdict(list)
    staff_rows = conn.execute(
        sa.select(se.c.event_type_id, st.c.name, st.c.staff_id)
        .join(st, sa.and_(st.c.tenant == se.c.tenant, st.c.staff_id == se.c.staff_id))
        .where(se.c.tenant == tenant)
        .order_by(st.c.name, st.c.staff_id)
    )
    for event_type_id, name, staff_id in staff_rows:
        hosts[event_type_id].append(name or staff_id)
    rows = conn.execute(sa.select(p).where(p.c.tenant == tenant).order_by(p.c.phone_number, p.c.branch_id))
    return [
        ChainLink(
            phone_number=row.phone_number,
            agent=_named(row.agent_name, row.agent_id),
            version=_version(row),
            branch=_named(row.branch_name, row.branch_id),
            event_type=_named(row.event_type_title, row.event_type_id),
            staff=tuple(hosts.get(row.event_type_id or "", ())),
        )
        for row in rows
    ]

"""Partitions: one per tenant for dimensions; tenant × day for facts (bookings, calls, outcomes).

A fact partition's day is the tenant's local calendar day (its time zone decides the window);
Dagster only names the day. Keys are built with MultiPartitionKey, never by string.

Which days exist:
- the first is ASKPRO_FACTS_START_DATE, else the first of the month ASKPRO_HISTORY_DAYS (90) days
  back. A month start, so the set changes once a month: processes loaded on either side of a
  midnight (the code server and a run worker) then agree about the oldest day nearly always;
- the last is today in the tenants' easternmost time zone (largest UTC offset when the code
  location loads), the latest "today" of any tenant. A tenant further west may see a day that has
  not begun for it yet: fact assets skip such days (no request, no write) and log it.
"""

import datetime as dt
import logging
import os
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from dagster import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
)

from askpro_pipelines.tenants import load_tenants

HISTORY_DAYS_ENV = "ASKPRO_HISTORY_DAYS"
START_DATE_ENV = "ASKPRO_FACTS_START_DATE"
DEFAULT_HISTORY_DAYS = 90

log = logging.getLogger(__name__)


def facts_start_date(environ: Mapping[str, str] | None = None, today: dt.date | None = None) -> dt.date:
    """The first fact day offered; a bad setting fails naming the variable."""
    env = os.environ if environ is None else environ
    today = today or dt.datetime.now(dt.UTC).date()
    if env.get(START_DATE_ENV):
        raw = env[START_DATE_ENV]
        try:
            start = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{START_DATE_ENV}={raw!r} is not a date (YYYY-MM-DD)") from None
        if start > today:
            raise ValueError(f"{START_DATE_ENV}={raw} is in the future")
        return start
    raw = env.get(HISTORY_DAYS_ENV) or str(DEFAULT_HISTORY_DAYS)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{HISTORY_DAYS_ENV}={raw!r} is not a whole number of days ≥ 1")
    return (today - dt.timedelta(days=int(raw))).replace(day=1)


def easternmost_zone(zones: list[str], moment: dt.datetime | None = None) -> str:
    """Of the zones, the one whose today starts first (largest UTC offset at `moment`)."""
    moment = moment or dt.datetime.now(dt.UTC)
    return max(sorted(set(zones)), key=lambda name: moment.astimezone(ZoneInfo(name)).utcoffset() or dt.timedelta())


def _tenant_zones() -> list[str]:
    """The tenants file's time zones; UTC when it cannot be read (every run then fails on it anyway)."""
    try:
        return [tenant.timezone for tenant in load_tenants().tenants] or ["UTC"]
    except Exception as exc:  # noqa: BLE001 - the code location must still load and show the error elsewhere
        log.warning("fact days end at today in UTC: the tenants file could not be read (%s)", str(exc).splitlines()[0])
        return ["UTC"]


# Slugs are [a-z0-9-], so they never contain the ',' or '|' that break UI backfills.
TENANTS = "tenants"  # the name of the tenant partitions (Dagster types the name as optional)
tenant_partitions = DynamicPartitionsDefinition(name=TENANTS)

DAY_ZONE = easternmost_zone(_tenant_zones())
FACTS_START_DATE = facts_start_date().isoformat()
day_partitions = DailyPartitionsDefinition(start_date=FACTS_START_DATE, timezone=DAY_ZONE, end_offset=1)


def newest_day(moment: dt.datetime) -> dt.date:
    """The newest day partition at `moment`: today in the easternmost tenant's zone."""
    return moment.astimezone(ZoneInfo(DAY_ZONE)).date()


def is_offered_day(day: dt.date, moment: dt.datetime | None = None) -> bool:
    """Whether `day` is a day partition at `moment`: from the history start to the newest day."""
    return dt.date.fromisoformat(FACTS_START_DATE) <= day <= newest_day(moment or dt.datetime.now(dt.UTC))


def has_begun(day: dt.date, timezone: str, moment: dt.datetime | None = None) -> bool:
    """Whether `day` has started in `timezone`: days still ahead for a tenant are never synced."""
    return day <= local_day(moment or dt.datetime.now(dt.UTC), timezone)


tenant_day_partitions = MultiPartitionsDefinition({"tenant": tenant_partitions, "day": day_partitions})


def tenant_day_key(tenant: str, day: dt.date | str) -> MultiPartitionKey:
    """The fact partition key of one tenant and local day."""
    return MultiPartitionKey({"tenant": tenant, "day": str(day)})


def split_tenant_day(key: str | MultiPartitionKey) -> tuple[str, dt.date]:
    """(tenant, day) of a fact partition key (a MultiPartitionKey or its string form)."""
    if not isinstance(key, MultiPartitionKey):
        key = tenant_day_partitions.get_partition_key_from_str(key)
    dims = key.keys_by_dimension
    return dims["tenant"], dt.date.fromisoformat(dims["day"])


def day_window(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight, next local midnight) of `day` in `timezone`, as UTC instants (DST-safe)."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def local_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The tenant-local calendar day of an instant: which fact partition it belongs to."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def fact_partitions(partition_keys: Iterable[str | MultiPartitionKey]) -> list[tuple[str, dt.date]]:
    """(tenant, day) pairs of a run's fact partitions, sorted: one key or a single-run range."""
    return sorted(split_tenant_day(key) for key in partition_keys)

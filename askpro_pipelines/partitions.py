"""Partitions: one per tenant for dimensions; tenant × day for facts (bookings, calls, outcomes).

A fact partition's day is the tenant's local calendar day (its time zone decides the window);
Dagster only names the day. Keys are built with MultiPartitionKey, never by string.
"""

import datetime as dt

from dagster import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
)

# Slugs are [a-z0-9-], so they never contain the ',' or '|' that break UI backfills.
tenant_partitions = DynamicPartitionsDefinition(name="tenants")

# History starts with the pipeline's first year. Days are named in UTC; `end_offset=2` makes
# today and tomorrow (UTC) partitions too, so a tenant east of UTC has its local today after
# local midnight.
FACTS_START_DATE = "2026-01-01"
day_partitions = DailyPartitionsDefinition(start_date=FACTS_START_DATE, end_offset=2)


def newest_day(moment: dt.datetime) -> dt.date:
    """The newest day partition that exists at `moment` (tomorrow in UTC)."""
    return moment.astimezone(dt.UTC).date() + dt.timedelta(days=1)

tenant_day_partitions = MultiPartitionsDefinition({"tenant": tenant_partitions, "day": day_partitions})


def tenant_day_key(tenant: str, day: dt.date | str) -> MultiPartitionKey:
    """The fact partition key of one tenant and local day."""
    return MultiPartitionKey({"tenant": tenant, "day": str(day)})


def split_tenant_day(key) -> tuple[str, dt.date]:
    """(tenant, day) of a fact partition key (a MultiPartitionKey or its string form)."""
    if not isinstance(key, MultiPartitionKey):
        key = tenant_day_partitions.get_partition_key_from_str(key)
    dims = key.keys_by_dimension
    return dims["tenant"], dt.date.fromisoformat(dims["day"])


def day_window(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight, next local midnight) of `day` in `timezone`, as UTC instants (DST-safe)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def local_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The tenant-local calendar day of an instant: which fact partition it belongs to."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(timezone)).date()


def fact_partitions(partition_keys) -> list[tuple[str, dt.date]]:
    """(tenant, day) pairs of a run's fact partitions, sorted: one key or a single-run range."""
    return sorted(split_tenant_day(key) for key in partition_keys)

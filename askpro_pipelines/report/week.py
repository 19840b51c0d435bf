"""Report weeks: ISO weeks (`2026-W48`, Monday to Sunday) in a tenant's own calendar.

The asset's week partitions are named by their Monday (`2026-11-23`, Dagster's weekly keys); the
report and the CLI speak ISO weeks. A week's window is local midnight Monday to local midnight the
next Monday, as UTC instants, so a daylight-saving week has 167 or 169 hours.
"""

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dagster import MultiPartitionKey, MultiPartitionsDefinition, WeeklyPartitionsDefinition

from askpro_pipelines.partitions import DAY_ZONE, FACTS_START_DATE, day_window, tenant_partitions

_ISO_WEEK = re.compile(r"(\d{4})-W(\d{2})")


class BadWeek(ValueError):
    """Text that is not an ISO week, or a week the report cannot be made for."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> "IsoWeek":
        """`2026-W48`; anything else (or a week 53 the year does not have) is a BadWeek."""
        match = _ISO_WEEK.fullmatch(text.strip())
        if not match:
            raise BadWeek(f"{text!r} is not an ISO week; expected e.g. 2026-W48")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            raise BadWeek(f"{text!r} is not a week of {year}") from None
        return cls(year, week)

    @classmethod
    def of(cls, day: dt.date) -> "IsoWeek":
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def days(self) -> list[dt.date]:
        return [self.monday + dt.timedelta(days=n) for n in range(7)]

    def previous(self) -> "IsoWeek":
        return IsoWeek.of(self.monday - dt.timedelta(days=7))

    def window(self, timezone: str) -> tuple[dt.datetime, dt.datetime]:
        """[local Monday 00:00, next local Monday 00:00) as UTC instants."""
        start, _ = day_window(self.monday, timezone)
        end, _ = day_window(self.monday + dt.timedelta(days=7), timezone)
        return start, end

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def local_today(timezone: str, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(timezone)).date()


def last_complete_week(timezone: str, now: dt.datetime | None = None) -> IsoWeek:
    """The newest week that has ended in `timezone`: the one before the local current week."""
    return IsoWeek.of(local_today(timezone, now)).previous()


def check_week(week: IsoWeek, timezone: str, now: dt.datetime | None = None) -> None:
    """A week that has not begun in the tenant's zone has nothing to report: BadWeek."""
    today = local_today(timezone, now)
    if week.monday > today:
        raise BadWeek(f"{week} has not begun yet (today is {today} in {timezone})")


def in_progress(week: IsoWeek, timezone: str, now: dt.datetime | None = None) -> bool:
    return week.sunday >= local_today(timezone, now)


# The asset's partitions: tenant × week. Weeks run Monday to Sunday (day_offset=1) in the
# easternmost tenant's zone, like the day partitions, from the week of the first fact day; a week
# is offered once it has ended there (end_offset 0), so the newest is the last complete week.
_first_day = dt.date.fromisoformat(FACTS_START_DATE)
WEEKS_START_DATE = (_first_day - dt.timedelta(days=_first_day.weekday())).isoformat()
week_partitions = WeeklyPartitionsDefinition(start_date=WEEKS_START_DATE, day_offset=1, timezone=DAY_ZONE)
tenant_week_partitions = MultiPartitionsDefinition({"tenant": tenant_partitions, "week": week_partitions})


def tenant_week_key(tenant: str, week: IsoWeek) -> MultiPartitionKey:
    """The report partition key of one tenant and week (the week named by its Monday)."""
    return MultiPartitionKey({"tenant": tenant, "week": week.monday.isoformat()})


def split_tenant_week(key: str | MultiPartitionKey) -> tuple[str, IsoWeek]:
    """(tenant, week) of a report partition key (a MultiPartitionKey or its string form)."""
    if not isinstance(key, MultiPartitionKey):
        key = tenant_week_partitions.get_partition_key_from_str(key)
    dims = key.keys_by_dimension
    return dims["tenant"], IsoWeek.of(dt.date.fromisoformat(dims["week"]))


def is_offered_week(week: IsoWeek, moment: dt.datetime | None = None) -> bool:
    """Whether `week` is a week partition at `moment`: from the first one to the newest ended one."""
    first = dt.date.fromisoformat(WEEKS_START_DATE)
    return first <= week.monday and week.sunday < local_today(DAY_ZONE, moment)

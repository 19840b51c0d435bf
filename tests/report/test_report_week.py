"""ISO weeks in the tenant's calendar, and the tenant × week partition keys."""

import datetime as dt

import pytest
from dagster import MultiPartitionKey

from askpro_pipelines.report.week import (
    BadWeek,
    IsoWeek,
    check_week,
    in_progress,
    last_complete_week,
    split_tenant_week,
    tenant_week_key,
    tenant_week_partitions,
)


def test_parse_and_name():
    week = IsoWeek.parse("2026-W48")
    assert (week.monday, week.sunday) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert str(week) == "2026-W48" and len(week.days) == 7
    assert str(IsoWeek.parse("2026-W01")) == "2026-W01"
    assert IsoWeek.parse("2026-W01").monday == dt.date(2025, 12, 29)  # ISO week 1 starts in the old year
    assert IsoWeek.parse("2026-W53").monday == dt.date(2026, 12, 28)  # 2026 has 53 weeks


@pytest.mark.parametrize("text", ["2026-48", "2026W48", "2026-W4", "2026-W00", "2027-W53", "week 48", ""])
def test_bad_weeks_are_refused(text):
    with pytest.raises(BadWeek):
        IsoWeek.parse(text)


def test_last_complete_week_is_the_tenants():
    # Monday 2026-11-30 00:30 in Berlin is still Sunday 23:30 UTC and Sunday afternoon in New York.
    moment = dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)
    assert last_complete_week("Europe/Berlin", moment) == IsoWeek(2026, 48)
    assert last_complete_week("America/New_York", moment) == IsoWeek(2026, 47)
    assert last_complete_week("UTC", moment) == IsoWeek(2026, 47)


def test_window_is_local_midnight_to_midnight():
    start, end = IsoWeek(2026, 48).window("Europe/Berlin")
    assert start == dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.UTC)
    start, end = IsoWeek(2026, 13).window("Europe/Berlin")  # summer time begins on Sunday 2026-03-29
    assert end - start == dt.timedelta(hours=167)


def test_weeks_not_begun_are_refused_and_the_current_one_is_in_progress():
    now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)  # Tuesday of 2026-W49
    check_week(IsoWeek(2026, 49), "Europe/Berlin", now)
    assert in_progress(IsoWeek(2026, 49), "Europe/Berlin", now)
    assert not in_progress(IsoWeek(2026, 48), "Europe/Berlin", now)
    with pytest.raises(BadWeek, match="has not begun"):
        check_week(IsoWeek(2026, 50), "Europe/Berlin", now)


def test_partition_keys_round_trip():
    key = tenant_week_key("praxis-report", IsoWeek(2026, 48))
    assert isinstance(key, MultiPartitionKey)
    assert str(key) == "praxis-report|2026-11-23"  # dimensions ordered by name: tenant, week
    assert split_tenant_week(key) == ("praxis-report", IsoWeek(2026, 48))
    assert split_tenant_week(str(key)) == ("praxis-report", IsoWeek(2026, 48))
    weeks = tenant_week_partitions.get_partitions_def_for_dimension("week")
    assert weeks.has_partition_key("2026-11-23")
    assert weeks.start_time_for_partition_key("2026-11-23").weekday() == 0

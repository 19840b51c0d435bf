"""Fact partitions: which days the UI offers, and that days not yet begun for a tenant are skipped."""

import datetime as dt
import logging
from types import SimpleNamespace

import pytest

from askpro_pipelines.assets.facts import tenant_days
from askpro_pipelines.partitions import (
    DAY_ZONE,
    FACTS_START_DATE,
    day_partitions,
    easternmost_zone,
    facts_start_date,
    has_begun,
    newest_day,
    tenant_day_key,
)
from askpro_pipelines.tenants import parse_tenants

TODAY = dt.date(2026, 12, 1)


def test_history_defaults_to_ninety_days_from_a_month_start():
    assert facts_start_date({}, today=TODAY) == dt.date(2026, 9, 1)  # 90 days back is 2026-09-02
    assert facts_start_date({}, today=dt.date(2026, 11, 15)) == dt.date(2026, 8, 1)
    assert facts_start_date({"ASKPRO_HISTORY_DAYS": "400"}, today=TODAY) == dt.date(2025, 10, 1)


def test_an_explicit_start_date_wins():
    env = {"ASKPRO_FACTS_START_DATE": "2026-01-01", "ASKPRO_HISTORY_DAYS": "5"}
    assert facts_start_date(env, today=TODAY) == dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ASKPRO_FACTS_START_DATE": "2026-11-31"}, "ASKPRO_FACTS_START_DATE"),
        ({"ASKPRO_FACTS_START_DATE": "2027-01-01"}, "ASKPRO_FACTS_START_DATE"),
        ({"ASKPRO_HISTORY_DAYS": "0"}, "ASKPRO_HISTORY_DAYS"),
        ({"ASKPRO_HISTORY_DAYS": "ninety"}, "ASKPRO_HISTORY_DAYS"),
    ],
)
def test_a_bad_setting_names_the_variable(env, named):
    with pytest.raises(ValueError, match=named):
        facts_start_date(env, today=TODAY)


def test_the_newest_day_is_the_easternmost_tenants_today():
    winter = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
    assert easternmost_zone(["America/New_York", "Europe/Berlin", "Europe/Lisbon"], winter) == "Europe/Berlin"
    assert easternmost_zone(["Europe/Berlin", "Pacific/Auckland"], winter) == "Pacific/Auckland"
    assert easternmost_zone(["UTC"], winter) == "UTC"


def test_the_day_dimension_never_offers_tomorrow():
    # The demo tenants are all in Berlin: the last day is Berlin's today, never the day after.
    assert DAY_ZONE == "Europe/Berlin"
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)
    late = dt.datetime.combine(day, dt.time(23, 30), tzinfo=dt.UTC)  # already the next day in Berlin
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    assert day_partitions.get_partition_keys(current_time=late)[-1] == str(day + dt.timedelta(days=1))
    keys = day_partitions.get_partition_keys(current_time=noon)
    assert keys[-1] == str(day) and keys[0] == FACTS_START_DATE
    assert newest_day(late) == day + dt.timedelta(days=1) and newest_day(noon) == day


def test_a_day_has_begun_in_the_tenants_own_zone():
    late = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)
    assert has_begun(dt.date(2026, 11, 25), "Europe/Berlin", late)
    assert not has_begun(dt.date(2026, 11, 25), "America/New_York", late)
    assert has_begun(dt.date(2026, 11, 24), "America/New_York", late)


def test_fact_assets_skip_days_that_have_not_begun_for_the_tenant(caplog):
    config = parse_tenants(
        "tenants:\n  - slug: ny-salon\n    name: NY\n    timezone: America/New_York\n"
        "    calcom: {api_key_env: NY_CALCOM_KEY}\n"
    )
    today = dt.datetime.now(dt.UTC).date()
    past, future = today - dt.timedelta(days=3), today + dt.timedelta(days=2)  # future in every zone
    context = SimpleNamespace(
        partition_keys=[str(tenant_day_key("ny-salon", d)) for d in (past, future)],
        log=logging.getLogger("test-facts"),
    )
    with caplog.at_level(logging.WARNING, logger="test-facts"):
        walked = list(tenant_days(context, config.get))
    assert [(t.slug, d) for t, d in walked] == [("ny-salon", past)]
    assert f"tenant ny-salon: day {future} has not begun in America/New_York" in caplog.text

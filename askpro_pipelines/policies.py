"""Policies applied once, centrally: how stale each table may get, and what follows its upstreams.

Freshness (shown in the UI; stale tables turn red there):
- dimensions (event types, staff, working hours, Retell agents and numbers, phone assignments)
  are synced hourly: warn after 2 h, fail after 4 h;
- facts (bookings, calls, transcripts, outcomes) every 15 minutes: warn after 45 min, fail after 2 h.

Declarative automation: `phone_assignments`, `booking_outcomes` and `booking_success` are derived
only from other tables, so they follow their upstreams eagerly instead of waiting for a schedule;
for the two daily ones every day whose upstreams changed, not only the newest (a backfill of past
days refreshes their figures; see `follows_every_updated_day` in assets/askpro.py).
"""

import datetime as dt

from dagster import (
    AssetSelection,
    AssetSpec,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    FreshnessPolicy,
)

from askpro_pipelines.partitions import tenant_day_partitions
from askpro_pipelines.warehouse.tables import HISTORY_TABLES

DIMENSION_FRESHNESS = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=4), warn_window=dt.timedelta(hours=2))
FACT_FRESHNESS = FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=2), warn_window=dt.timedelta(minutes=45))
# The weekly report is written on Monday mornings: a week plus a day of slack before it is late.
REPORT_FRESHNESS = FreshnessPolicy.time_window(
    fail_window=dt.timedelta(days=8), warn_window=dt.timedelta(days=7, hours=6)
)

# The history assets only report what the writer recorded with their table; they follow it too.
DERIVED_ASSETS = (
    "phone_assignments",
    "booking_outcomes",
    "call_analysis",
    "booking_success",
    *(f"{table}_history" for table in HISTORY_TABLES),
)


def with_freshness(spec: AssetSpec) -> AssetSpec:
    """Attach the freshness policy of the spec's kind (external assets have none)."""
    if spec.key.to_user_string() == "webhook_events":
        return spec
    if spec.key.to_user_string() == "tenant_report":
        return spec.replace_attributes(freshness_policy=REPORT_FRESHNESS)
    policy = FACT_FRESHNESS if spec.partitions_def == tenant_day_partitions else DIMENSION_FRESHNESS
    return spec.replace_attributes(freshness_policy=policy)


# The automation's runs carry this tag; the instance config lets one of them run at a time. A tick
# asks for several runs at once (one per changed tenant-day), each paying a process start and a code
# load (2-3 s of CPU): started together on 2 cores they held back the runs that land webhooks for
# 10-20 s (benchmarks/freshness.py). Derived tables can wait; fresh mirror rows cannot.
DERIVED_RUN_TAG = "askpro/derived"

derived_assets_automation = AutomationConditionSensorDefinition(
    "derived_assets_automation",
    target=AssetSelection.assets(*DERIVED_ASSETS),
    run_tags={DERIVED_RUN_TAG: "automation"},
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Refreshes phone_assignments, booking_outcomes, call_analysis and booking_success when their "
    "upstream tables change.",
)

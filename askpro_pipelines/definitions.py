"""The one place that builds the code location's Definitions."""

import os

from dagster import Definitions, EnvVar, in_process_executor

from askpro_pipelines.assets.api_health import API_STATS_HOOKS, api_health
from askpro_pipelines.assets.availability import (
    availability_every_30_minutes,
    branch_availability,
    branch_availability_is_consistent,
    refresh_availability_job,
)
from askpro_pipelines.assets.booking_success import booking_success_rate_steady
from askpro_pipelines.assets.catalog import with_catalog
from askpro_pipelines.assets.landing import webhook_events
from askpro_pipelines.assets.tenant_report import tenant_report, tenant_reports_job, tenant_reports_weekly
from askpro_pipelines.deployment import check_mode
from askpro_pipelines.jobs import SYNCED_ASSETS, sync_dimensions_job, sync_facts_job
from askpro_pipelines.policies import derived_assets_automation, with_freshness
from askpro_pipelines.prompts.job import push_agent_prompt
from askpro_pipelines.resources.alerts import AlertsResource
from askpro_pipelines.resources.calcom import CalcomResource
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.schedules import schedules
from askpro_pipelines.sensors.alerts import (
    check_failure_alert_sensor,
    run_failure_alert_sensor,
)
from askpro_pipelines.sensors.tenants import tenant_partitions_sensor
from askpro_pipelines.sensors.webhooks import (
    calcom_webhook_sensor,
    retell_webhook_sensor,
)
from askpro_pipelines.table_checks import all_checks
from askpro_pipelines.tenants import TENANTS_FILE_ENV
from askpro_pipelines.warehouse.store import WAREHOUSE_URL_ENV


def env_setting(name: str) -> EnvVar | None:
    """Bind a resource field to an environment variable that Dagster resolves, when it is set.

    Dagster reads an `EnvVar` when the resource is initialised and shows only the variable's name in
    the UI and run config, never the value. An `EnvVar` whose variable is unset fails every run, so
    optional settings (alerts, or the warehouse URL whose absence means the local SQLite file) are
    bound only when the variable exists when the code location loads; only presence is looked at here.
    """
    return EnvVar(name) if os.environ.get(name) else None


# A deployment refuses to load on the demo defaults (no tenants file, no warehouse URL, a
# simulator URL), and demo mode refuses a real key: the code location fails with one line
# naming the setting, or the tenant and variable.
check_mode()

# One Definitions object at module scope, so `dagster ... -m askpro_pipelines.definitions` finds it
# without `-a`. Freshness, owners, tags and column docs hold for every table: applied here once.
defs = Definitions(
    # Every asset that calls an API flushes its request figures after its step (assets/api_health.py).
    assets=[
        webhook_events,
        *SYNCED_ASSETS,
        api_health,
        branch_availability.with_hooks(API_STATS_HOOKS),
        tenant_report,
    ],
    asset_checks=[*all_checks, branch_availability_is_consistent, booking_success_rate_steady],
    jobs=[sync_dimensions_job, sync_facts_job, refresh_availability_job, push_agent_prompt, tenant_reports_job],
    schedules=[*schedules, availability_every_30_minutes, tenant_reports_weekly],
    sensors=[
        tenant_partitions_sensor,
        calcom_webhook_sensor,
        retell_webhook_sensor,
        run_failure_alert_sensor,
        check_failure_alert_sensor,
        derived_assets_automation,
    ],
    resources={
        "calcom": CalcomResource(),
        "retell": RetellResource(),
        # Secrets (the warehouse URL may carry a password; the alert webhook URL and SMTP password are
        # credentials) are resolved by Dagster from these variables. Per-tenant API keys cannot be:
        # see `ApiResource`.
        "warehouse": WarehouseResource(url=env_setting(WAREHOUSE_URL_ENV)),
        "tenants": TenantsResource(path=env_setting(TENANTS_FILE_ENV)),
        # Alerts are optional: a field without its variable set stays off (or is read at send time).
        "alerts": AlertsResource(
            webhook_url=env_setting("ASKPRO_ALERT_WEBHOOK_URL"),
            smtp_password=env_setting("ASKPRO_SMTP_PASSWORD"),
            smtp_username=env_setting("ASKPRO_SMTP_USERNAME"),
            smtp_host=env_setting("ASKPRO_SMTP_HOST"),
        ),
    },
    # One process per run: steps of a tenant run share the HTTP pool and never contend for a
    # SQLite file; parallelism comes from running tenants as separate runs.
    executor=in_process_executor,
).map_resolved_asset_specs(func=lambda spec: with_catalog(with_freshness(spec)))

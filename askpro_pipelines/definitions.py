"""The one place that builds the code location's Definitions."""

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from askpro_pipelines.assets.askpro import askpro_assets
from askpro_pipelines.assets.calcom import calcom_assets
from askpro_pipelines.assets.retell import retell_assets
from askpro_pipelines.checks import all_checks
from askpro_pipelines.resources.calcom import CalcomResource
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.sensors.tenants import tenant_partitions_sensor

retell_sync_job = define_asset_job(
    "retell_sync",
    selection=AssetSelection.groups("retell", "askpro"),
    description="Sync one tenant's Retell agents, versions and phone numbers, then the phone assignments.",
)

calcom_sync_job = define_asset_job(
    "calcom_sync",
    selection=AssetSelection.groups("calcom"),
    description="Sync one tenant's Cal.com event types, staff, links and working hours (one tenant per run).",
)

sync_all_job = define_asset_job(
    "sync_all",
    selection=AssetSelection.all(),
    description="Full sync of one tenant: every table. `askpro sync` runs this once per tenant.",
)

defs = Definitions(
    assets=[*calcom_assets, *retell_assets, *askpro_assets],
    asset_checks=all_checks,
    jobs=[calcom_sync_job, retell_sync_job, sync_all_job],
    sensors=[tenant_partitions_sensor],
    resources={
        "calcom": CalcomResource(),
        "retell": RetellResource(),
        "warehouse": WarehouseResource(),
        "tenants": TenantsResource(),
    },
    # One process per run: steps of a tenant run share the HTTP pool and never contend for a
    # SQLite file; parallelism comes from running tenants as separate runs.
    executor=in_process_executor,
)

"""Jobs: a job runs assets of one partitions definition, so dimensions (by tenant) and facts
(by tenant × day) are two jobs."""

from dagster import AssetSelection, define_asset_job

from askpro_pipelines.assets.api_health import API_STATS_HOOKS, api_health
from askpro_pipelines.assets.askpro import askpro_assets
from askpro_pipelines.assets.booking_success import booking_success
from askpro_pipelines.assets.calcom import calcom_assets
from askpro_pipelines.assets.call_analysis import call_analysis_assets
from askpro_pipelines.assets.history import history_assets
from askpro_pipelines.assets.retell import retell_assets
from askpro_pipelines.deployment import mode_tags
from askpro_pipelines.partitions import tenant_day_partitions, tenant_partitions

# The hooks flush each API step's request figures (assets/api_health.py), on the steps that make
# requests only: on every step of a run they cost two events each (36 steps in a dimensions run).
API_ASSETS = [asset.with_hooks(API_STATS_HOOKS) for asset in [*calcom_assets, *retell_assets]]
SYNCED_ASSETS = [
    *API_ASSETS,
    *askpro_assets,
    *call_analysis_assets,
    booking_success,
    *history_assets,
]
DIMENSIONS = AssetSelection.assets(*[a for a in SYNCED_ASSETS if a.partitions_def == tenant_partitions])
FACTS = AssetSelection.assets(*[a for a in SYNCED_ASSETS if a.partitions_def == tenant_day_partitions])
# api_health (unpartitioned) follows the API assets in both jobs and sums their figures.
HEALTH = AssetSelection.assets(api_health)

sync_dimensions_job = define_asset_job(
    "sync_dimensions",
    selection=DIMENSIONS | HEALTH,
    description="Full sync of one tenant's dimensions: Cal.com event types, staff, working hours, Retell agents, "
    "numbers and the phone assignments. `askpro sync` runs it once per tenant.",
    # askpro/mode: demo (the simulator) or production, on every run of the job, as loaded.
    tags=mode_tags(),
)

sync_facts_job = define_asset_job(
    "sync_facts",
    selection=FACTS | HEALTH,
    description="Bookings, calls, transcripts, outcomes, call analysis and booking success of one tenant and day "
    "(or a day range in one run).",
    tags=mode_tags(),
)

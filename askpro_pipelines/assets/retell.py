"""Retell dimension tables, one partition per tenant."""

from dagster import AssetExecutionContext, AssetSpec, MaterializeResult, asset, multi_asset

from askpro_pipelines.assets.table_metadata import table_metadata
from askpro_pipelines.partitions import tenant_partitions
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.rows import agent_version_rows, latest_agent_rows, phone_number_rows

GROUP = "retell"
KINDS = {"retell", "sql"}
POOL = "retell_api"


@multi_asset(
    specs=[
        AssetSpec(
            "retell_agents",
            description="Retell agents at their latest version: voice, language, LLM, redacted prompt and its hash.",
            kinds=KINDS,
        ),
        AssetSpec(
            "retell_agent_versions",
            description="Every version of every agent: published flag, modified time, prompt hash.",
            kinds=KINDS,
        ),
    ],
    partitions_def=tenant_partitions,
    group_name=GROUP,
    pool=POOL,
    can_subset=True,
)
def retell_agent_tables(
    context: AssetExecutionContext, retell: RetellResource, warehouse: WarehouseResource, tenants: TenantsResource
):
    """One pass over the agents (and their LLMs) feeds both tables."""
    tenant = tenants.get(context.partition_key)
    client = retell.client_for(tenant)
    versions = client.agent_versions()
    tables = {
        "retell_agents": latest_agent_rows(versions, client.agent_tags),
        "retell_agent_versions": agent_version_rows(versions),
    }
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    for table, rows in tables.items():
        if table in selected:
            stats = warehouse.warehouse.replace_slice(table, tenant.slug, rows)
            yield MaterializeResult(
                asset_key=table, metadata=table_metadata(stats, warehouse.display_url, extra=client.metadata())
            )


@asset(
    partitions_def=tenant_partitions,
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    description="Retell phone numbers (E.164) with their inbound/outbound agent, version or tag, and weights.",
)
def retell_phone_numbers(
    context: AssetExecutionContext, retell: RetellResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult:
    tenant = tenants.get(context.partition_key)
    client = retell.client_for(tenant)
    stats = warehouse.warehouse.replace_slice("retell_phone_numbers", tenant.slug, phone_number_rows(client.phone_numbers()))
    return MaterializeResult(metadata=table_metadata(stats, warehouse.display_url, extra=client.metadata()))


retell_assets = [retell_agent_tables, retell_phone_numbers]

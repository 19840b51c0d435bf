"""The linked `askpro` tables: where Retell and Cal.com meet."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from askpro_pipelines.assets.calcom import calcom_event_types, staff_event_types
from askpro_pipelines.assets.table_metadata import table_metadata
from askpro_pipelines.partitions import tenant_partitions
from askpro_pipelines.phone_chain import assignment_rows
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource

GROUP = "askpro"


@asset(
    partitions_def=tenant_partitions,
    group_name=GROUP,
    kinds={"sql"},
    deps=["retell_phone_numbers", "retell_agent_versions", "retell_agents", calcom_event_types, staff_event_types],
    description=(
        "The resolved chain per phone number: Retell agent + version, branch (tenants file), "
        "the branch's Cal.com event type, its title and how many staff host it."
    ),
)
def phone_assignments(
    context: AssetExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult:
    tenant = tenants.get(context.partition_key)
    rows = assignment_rows(tenant, warehouse.warehouse)
    stats = warehouse.warehouse.replace_slice("phone_assignments", tenant.slug, rows)
    return MaterializeResult(
        metadata=table_metadata(
            stats,
            warehouse.display_url,
            lineage={
                "phone_number": [("retell_phone_numbers", "phone_number")],
                "agent_id": [("retell_phone_numbers", "inbound_agent_id")],
                "agent_version": [("retell_phone_numbers", "inbound_agent_version")],
                "agent_version_resolved": [("retell_agent_versions", "version"), ("retell_agents", "tags")],
                "agent_version_published": [("retell_agent_versions", "is_published")],
                "agent_name": [("retell_agent_versions", "agent_name")],
                "event_type_title": [("calcom_event_types", "title")],
                "hosting_staff_count": [("staff_event_types", "staff_id")],
            },
        )
    )


askpro_assets = [phone_assignments]

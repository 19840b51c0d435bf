"""What the asset catalog shows beside the data: owners, tags and each table's documented columns.

Applied to every asset once, in definitions.py (as freshness is), so the column descriptions of
the table contract show on an asset's page before its first materialization, and ops staff can
filter the catalog by owner, provider and layer.
"""

from dagster import AssetSpec

from askpro_pipelines.assets.table_metadata import column_schema
from askpro_pipelines.partitions import tenant_day_partitions

OWNERS = ["team:data-ops"]
# The asset group names the provider a table comes from; `askpro` tables are derived from both.
PROVIDER_BY_GROUP = {"calcom": "calcom", "retell": "retell", "askpro": "askpro", "landing": "webhooks"}
# Assets that write files, not warehouse tables: no table name or column schema.
REPORTS = frozenset({"tenant_report"})


def layer(spec: AssetSpec) -> str:
    """landing (webhooks as received), dimension (per tenant), fact (per tenant and day), report (a
    file) or operations (unpartitioned: api_health, rows per run)."""
    if spec.group_name == "landing":
        return "landing"
    if spec.key.to_user_string() in REPORTS:
        return "report"
    if spec.partitions_def is None:
        return "operations"
    return "fact" if spec.partitions_def == tenant_day_partitions else "dimension"


def with_catalog(spec: AssetSpec) -> AssetSpec:
    """The spec with owners, provider/layer tags and the table's column schema."""
    table = spec.key.to_user_string()
    tagged = spec.replace_attributes(owners=OWNERS).merge_attributes(
        tags={"provider": PROVIDER_BY_GROUP[spec.group_name or ""], "layer": layer(spec)}
    )
    if table in REPORTS:
        return tagged
    return tagged.merge_attributes(
        metadata={"dagster/table_name": table, "dagster/column_schema": column_schema(table)},
    )

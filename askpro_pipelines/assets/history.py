"""The type-2 history tables in the asset graph, each beside (downstream of) its current table.

The slice writer records history in the same transaction as the table itself (warehouse/store.py),
so this step writes nothing: it reports the history's version counts and runs its checks (no
overlapping validity per key, exactly one open version per live key) in one step for all tables.
"""

from collections.abc import Callable, Iterator
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetExecutionContext,
    AssetSpec,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from askpro_pipelines.assets.askpro import askpro_assets
from askpro_pipelines.assets.calcom import calcom_assets
from askpro_pipelines.assets.retell import retell_assets
from askpro_pipelines.assets.table_metadata import column_lineage, column_schema
from askpro_pipelines.checks import check_result, history_check_specs, open_version_problems, overlapping_versions
from askpro_pipelines.partitions import tenant_partitions
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.history import summarize, versions
from askpro_pipelines.warehouse.tables import CONTRACTS, HISTORY, HISTORY_TABLES, history_name

# Each history table sits in its current table's group in the UI.
GROUPS = {
    spec.key.to_user_string(): spec.group_name
    for assets_def in (*calcom_assets, *retell_assets, *askpro_assets)
    for spec in assets_def.specs
    if spec.key.to_user_string() in HISTORY_TABLES
}
CHECKS = {table: history_check_specs(table, history_name(table)) for table in HISTORY_TABLES}
VERSION_COLUMNS = ["valid_from", "valid_to", "change_kind", "is_current"]


@multi_asset(
    specs=[
        AssetSpec(
            history_name(table),
            deps=[table],
            group_name=GROUPS[table],
            kinds={"sql"},
            automation_condition=AutomationCondition.eager(),
            description=f"Every version of each {table} row: its values, valid from / to, and whether it "
            "was changed or deleted at the source (type-2 history, written with the table).",
        )
        for table in HISTORY_TABLES
    ],
    check_specs=[spec for specs in CHECKS.values() for spec in specs.values()],
    partitions_def=tenant_partitions,
    can_subset=True,
)
def dimension_history(
    context: AssetExecutionContext, warehouse: WarehouseResource, tenants: TenantsResource
) -> Iterator[MaterializeResult[Any] | AssetCheckResult]:
    """Version counts and the history checks of one tenant, for each selected history table."""
    tenant = tenants.get(context.partition_key).slug
    wh = warehouse.warehouse
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    selected_checks = set(context.selected_asset_check_keys)
    for table in HISTORY_TABLES:
        name = history_name(table)
        if name not in selected:
            continue
        key = CONTRACTS[table].row_key
        found = versions(wh, table, tenant, [*key, *VERSION_COLUMNS])
        counts = summarize(found)
        yield MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": MetadataValue.int(counts["versions"]),
                "dagster/table_name": name,
                "dagster/column_schema": column_schema(name),
                "dagster/column_lineage": column_lineage(
                    {c.name: [(table, c.name)] for c in HISTORY[table].columns if c.name in CONTRACTS[table].table.c}
                ),
                **{f"versions/{kind}": MetadataValue.int(n) for kind, n in counts.items()},
            },
        )
        live = {tuple(r[k] for k in key) for r in wh.read_slice(table, tenant, key)}
        rules: dict[str, tuple[str, Callable[[], list[dict[str, Any]]]]] = {
            f"{table}_history_no_overlaps": ("overlapping versions", lambda: overlapping_versions(found, key)),  # noqa: B023 - called in this iteration
            f"{table}_history_one_open_version": (
                "rows without exactly one open version",
                lambda: open_version_problems(found, live, key),  # noqa: B023 - called in this iteration
            ),
        }
        for check_name, (what, rule) in rules.items():
            if AssetCheckKey(CHECKS[table][check_name].asset_key, check_name) in selected_checks:
                yield check_result(tenant, what, rule(), len(found), asset_key=name, check_name=check_name)


history_assets = [dimension_history]

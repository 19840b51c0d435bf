"""Materialization metadata for warehouse tables: row count, schema, lineage and write counts."""

from collections.abc import Mapping

from dagster import (
    AssetKey,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
)

from askpro_pipelines.warehouse import WriteStats
from askpro_pipelines.warehouse.tables import metadata


def column_schema(table: str) -> TableSchema:
    """The table's columns as Dagster shows them in the UI."""
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=str(column.type),
                description=column.comment,
                constraints=TableColumnConstraints(nullable=bool(column.nullable)),
            )
            for column in metadata.tables[table].columns
        ]
    )


def column_lineage(sources: Mapping[str, list[tuple[str, str]]]) -> TableColumnLineage:
    """{column: [(upstream asset, upstream column), ...]} as Dagster column lineage."""
    return TableColumnLineage(
        deps_by_column={
            column: [TableColumnDep(asset_key=AssetKey(asset), column_name=upstream) for asset, upstream in deps]
            for column, deps in sources.items()
        }
    )


def table_metadata(
    stats: WriteStats,
    warehouse_url: str,
    *,
    lineage: Mapping[str, list[tuple[str, str]]] | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Everything a materialization of one tenant slice reports."""
    metadata: dict[str, object] = {
        "dagster/row_count": MetadataValue.int(stats.rows),
        "dagster/table_name": stats.table,
        "dagster/column_schema": column_schema(stats.table),
        "inserted": MetadataValue.int(stats.inserted),
        "updated": MetadataValue.int(stats.updated),
        "deleted": MetadataValue.int(stats.deleted),
        "warehouse": warehouse_url,
    }
    if lineage:
        metadata["dagster/column_lineage"] = column_lineage(lineage)
    if extra:
        metadata.update(extra)
    return metadata

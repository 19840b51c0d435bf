"""Materialization metadata for warehouse tables: row count, schema, lineage and write counts."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
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
from askpro_pipelines.warehouse.tables import metadata as warehouse_tables


def column_description(column: sa.Column[Any]) -> str | None:
    """A column's description: its `doc`, else its (older, DDL) comment."""
    return column.doc or column.comment or None


def column_schema(table: str) -> TableSchema:
    """The table's columns as Dagster shows them in the UI, each with its description."""
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=str(column.type),
                description=column_description(column),
                constraints=TableColumnConstraints(nullable=bool(column.nullable)),
            )
            for column in warehouse_tables.tables[table].columns
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


def _epoch_seconds(value: object) -> float | None:
    """A rate-limit reset as epoch seconds (seconds or milliseconds given), else None (a delta)."""
    try:
        number = float(str(value))
    except ValueError:
        return None
    if number >= 1e12:  # milliseconds
        return number / 1000.0
    return number if number >= 1e9 else None


def request_metadata(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """API request figures as shown: rate-limit reset headers that carry an instant become
    timestamps (the UI shows a time), everything else as given."""
    shown: dict[str, Any] = {}
    for key, value in (values or {}).items():
        name = key.rsplit("/", 1)[-1].lower()
        epoch = _epoch_seconds(value) if "/ratelimit/" in key and "reset" in name else None
        shown[key] = MetadataValue.timestamp(epoch) if epoch is not None else value
    return shown


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> MetadataValue:
    """A small table people read on the asset page ('-' for empty cells, pipes escaped)."""

    def cell(value: object) -> str:
        text = "-" if value is None or value == "" else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return MetadataValue.md("\n".join(lines))


def table_metadata(
    stats: WriteStats,
    warehouse_url: str,
    *,
    lineage: Mapping[str, list[tuple[str, str]]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a materialization of one tenant slice reports."""
    metadata: dict[str, Any] = {
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
    metadata.update(request_metadata(extra))
    return metadata


# How many record pages a materialization lists; the rest are in the table's dashboard_url column.
DASHBOARD_PAGES_SHOWN = 25


def markdown_link(label: str, url: str) -> str:
    """A markdown link; brackets in the label are escaped, the URL is already percent-encoded."""
    text = label.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"[{text}]({url})"


def dashboard_metadata(
    list_page: str, rows: Iterable[Mapping[str, Any]], label: Callable[[Mapping[str, Any]], str]
) -> dict[str, MetadataValue]:
    """Where ops staff change these records by hand: `dashboard`, the list page (a link), and
    `dashboard_pages`, a table of the first records' own pages by name (when they have their own)."""
    pages: dict[str, str] = {}
    for row in rows:
        url = row.get("dashboard_url")
        if url and url != list_page and url not in pages:
            pages[url] = label(row)
    metadata: dict[str, MetadataValue] = {"dashboard": MetadataValue.url(list_page)}
    if pages:
        shown = sorted(pages.items(), key=lambda page: (page[1].casefold(), page[0]))
        table = [(markdown_link(name, url),) for url, name in shown[:DASHBOARD_PAGES_SHOWN]]
        if len(shown) > DASHBOARD_PAGES_SHOWN:
            table.append((f"… {len(shown) - DASHBOARD_PAGES_SHOWN} more in the dashboard_url column",))
        metadata["dashboard_pages"] = markdown_table(["dashboard page"], table)
    return metadata

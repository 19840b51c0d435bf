"""Shared pieces of the warehouse tables: the metadata, the UTC instant type, bookkeeping columns and
the table contract (a table and its natural key)."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """An instant stored as UTC and always read back timezone-aware.

    PostgreSQL's timestamptz does this by itself; SQLite hands back naive datetimes, which readers
    would otherwise each have to patch.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


# Column descriptions are `doc=` (shown in the Dagster UI), not `comment=`: a comment is DDL and
# would need a schema migration; the few older comments stay and serve as descriptions too.
TENANT_DOC = "tenant slug from the tenants file (the partition key)"

# Bookkeeping columns every table carries; they are not part of the row's content hash.
BOOKKEEPING_COLUMNS = ("row_hash", "synced_at")


def bookkeeping_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column(
            "row_hash",
            sa.String(40),
            nullable=False,
            comment="sha1 of the row's content; unchanged rows are not rewritten",
        ),
        sa.Column(
            "synced_at", UtcDateTime(), nullable=False, comment="when this row was last inserted or changed (UTC)"
        ),
    ]


@dataclass(frozen=True)
class TableContract:
    """A table and its natural key (tenant first)."""

    table: sa.Table
    key: tuple[str, ...]

    @property
    def by_day(self) -> bool:
        """Fact tables are replaced per tenant and day, dimensions per tenant."""
        return "day" in self.key

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def content_columns(self) -> list[str]:
        """Columns the writer fills from records: everything except tenant and bookkeeping."""
        scope = {"tenant", "day"} if self.by_day else {"tenant"}
        return [c.name for c in self.table.columns if c.name not in scope and c.name not in BOOKKEEPING_COLUMNS]

    @property
    def row_key(self) -> tuple[str, ...]:
        """The natural key within one slice (without tenant, and day for facts)."""
        return tuple(k for k in self.key if k not in ("tenant", "day"))

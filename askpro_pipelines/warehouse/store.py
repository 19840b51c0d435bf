"""The one place that writes warehouse tables.

Every sync replaces one tenant's slice of a table atomically: readers see the old slice or the
new one, never a mix. Only rows whose content changed are rewritten (compared by a content
hash per natural key), so a second sync with nothing changed writes nothing.
"""

import datetime as dt
import hashlib
import io
import os
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from askpro_pipelines.json_codec import dumps_json
from askpro_pipelines.warehouse import migrate
from askpro_pipelines.warehouse.engine import create_engine, json_text
from askpro_pipelines.warehouse.tables import CHANGED, CONTRACTS, DELETED, HISTORY, TableContract, metadata

WAREHOUSE_URL_ENV = "ASKPRO_WAREHOUSE_URL"
DATA_DIR_ENV = "ASKPRO_DATA_DIR"
DEFAULT_DATA_DIR = ".askpro"
_CHUNK = 500


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where local state lives when nothing else is configured (ASKPRO_DATA_DIR, else ./.askpro)."""
    env = os.environ if environ is None else environ
    return Path(env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).resolve()


def resolve_warehouse_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Explicit URL, else ASKPRO_WAREHOUSE_URL, else a SQLite file in the local data dir."""
    env = os.environ if environ is None else environ
    chosen = url or env.get(WAREHOUSE_URL_ENV)
    if chosen:
        return chosen
    data_dir = default_data_dir(env)
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'warehouse.db'}"


def display_url(url: str) -> str:
    """The URL with any password masked, safe for logs and metadata."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class WriteStats:
    """What one slice replacement did, by natural key."""

    table: str
    tenant: str
    rows: int
    inserted: int
    updated: int
    deleted: int
    day: dt.date | None = None
    # A digest of the slice's content after the write (its row hashes): equal when nothing changed,
    # so an asset can hand it to Dagster as its data version (`phone_assignments`).
    content_version: str = ""

    @property
    def unchanged(self) -> bool:
        return not (self.inserted or self.updated or self.deleted)


def _row_hash(row: Mapping[str, Any], columns: list[str]) -> str:
    """Content hash of a row (sorted keys, dates and times as ISO text, anything else JSON lacks as str)."""
    return hashlib.sha1(dumps_json([row.get(c) for c in columns], sort_keys=True, default=str)).hexdigest()


def _dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    """Rows as plain dicts (zip with the keys once: far cheaper than a RowMapping per row)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: Any, column: sa.Column[Any], dialect: sa.Dialect) -> str:
    """One value in COPY's text format, converted as an INSERT would bind it."""
    if isinstance(column.type, sa.types.TypeDecorator):
        value = column.type.process_bind_param(value, dialect)
    if value is None:
        return "\\N"
    if isinstance(column.type, sa.JSON):
        text = json_text(value)
    elif isinstance(value, bool):
        text = "t" if value else "f"
    elif isinstance(value, dt.date | dt.time):  # datetime is a date: ISO 8601 with its offset
        text = value.isoformat()
    else:
        text = str(value)
    return text.translate(_COPY_ESCAPES)


def _copy_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows with PostgreSQL's COPY, in the caller's transaction.

    On a large sync the multi-row INSERTs were most of the PostgreSQL run's extra time over SQLite;
    COPY skips parsing and planning one statement per batch.
    """
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    dialect = conn.dialect
    buffer = io.StringIO()
    for row in rows:
        buffer.write(
            "\t".join(_copy_field(row[name], column, dialect) for name, column in zip(names, columns, strict=True))
        )
        buffer.write("\n")
    buffer.seek(0)
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    raw, dbapi = conn.connection.dbapi_connection, dialect.dbapi
    assert raw is not None and dbapi is not None  # an open psycopg2 connection
    cursor = raw.cursor()
    try:
        cursor.copy_expert(statement, buffer)
    except dbapi.Error as exc:  # the same SQLAlchemy error (IntegrityError, ...) an INSERT raises
        raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
    finally:
        cursor.close()


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows in the caller's transaction: COPY on PostgreSQL (psycopg2), chunked INSERTs elsewhere."""
    if rows and conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        _copy_rows(conn, table, rows)
    else:
        for start in range(0, len(rows), _CHUNK):
            conn.execute(table.insert(), rows[start : start + _CHUNK])


def _key_chunks(table: sa.Table, key_names: Iterable[str], keys: list[tuple[Any, ...]]) -> Iterator[Any]:
    """WHERE clauses matching `keys` (natural keys within a slice), a chunk of IN list at a time."""
    key_cols = [table.c[k] for k in key_names]
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        if len(key_cols) == 1:
            yield key_cols[0].in_([k[0] for k in chunk])
        else:
            yield sa.tuple_(*key_cols).in_(chunk)


def _held_keys(
    key_cols: tuple[str, ...], missing: list[tuple[Any, ...]], keep: Mapping[str, Collection[Any]] | None
) -> set[tuple[Any, ...]]:
    """The missing keys whose rows stay: a key column's value names a quarantined record."""
    if not keep or not missing:
        return set()
    positions = [(key_cols.index(column), set(values)) for column, values in keep.items() if values]
    return {k for k in missing if any(k[i] in values for i, values in positions)}


def _record_history(
    conn: sa.Connection,
    contract: TableContract,
    tenant: str,
    now: dt.datetime,
    updated: list[tuple[Any, ...]],
    deleted: list[tuple[Any, ...]],
    fresh: list[dict[str, Any]],
) -> None:
    """Type-2 history in the slice's transaction: close the open version of each changed or deleted
    key, open a version for each new or changed row. An unchanged slice writes nothing."""
    history = HISTORY[contract.name]
    open_versions = [history.c.tenant == tenant, history.c.valid_to.is_(None)]
    for keys, kind in ((updated, CHANGED), (deleted, DELETED)):
        for match in _key_chunks(history, contract.row_key, keys):
            conn.execute(
                history.update().where(*open_versions, match).values(valid_to=now, is_current=False, change_kind=kind)
            )
    versions = [
        {
            **{k: v for k, v in row.items() if k != "synced_at"},
            "valid_from": now,
            "valid_to": None,
            "change_kind": None,
            "is_current": True,
        }
        for row in fresh
    ]
    _insert(conn, history, versions)


ALLOW_DELETIONS_CONFIG = {"resources": {"warehouse": {"config": {"allow_mass_delete": True}}}}


class MassDeletionError(RuntimeError):
    """A sync would delete too much of a tenant's table at once; the old rows were kept."""


@dataclass(frozen=True)
class DeleteGuard:
    """How much of a tenant's dimension table one sync may delete before it is refused.

    An API that suddenly answers with few or no records (a revoked permission, a bug on their
    side) must not wipe a tenant's table. Facts are replaced per day and are not guarded.
    """

    max_share: float = 0.5
    min_rows: int = 5
    allow: bool = False

    def check(self, table: str, tenant: str, deleting: int, existing: int) -> None:
        if self.allow or deleting < self.min_rows or deleting <= self.max_share * existing:
            return
        raise MassDeletionError(
            f"tenant {tenant}, table {table}: this sync would delete {deleting} of {existing} rows "
            f"(more than {self.max_share:.0%} and at least {self.min_rows}); kept the old rows. If the source "
            "really lost them, re-run with `askpro sync --allow-deletions` or the run config "
            "resources.warehouse.config.allow_mass_delete: true"
        )


class Warehouse:
    """Tables on one database; the slice writer and the readers the assets and checks use."""

    def __init__(self, engine: Engine, guard: DeleteGuard | None = None):
        self.engine = engine
        self.guard = guard or DeleteGuard()

    @classmethod
    def from_url(cls, url: str, guard: DeleteGuard | None = None) -> "Warehouse":
        return cls(create_engine(url), guard)

    def create_tables(self) -> None:
        """Bring the database to this release's schema through the migrations (idempotent).

        Tests and tools call this; runs go through `ensure_schema`'s policy instead (see migrate.py).
        """
        migrate.ensure_schema(self.engine, auto_upgrade=True)

    def dispose(self) -> None:
        self.engine.dispose()

    def replace_slice(
        self,
        table: str,
        tenant: str,
        records: Iterable[Mapping[str, Any]],
        *,
        day: dt.date | None = None,
        keep: Mapping[str, Collection[Any]] | None = None,
    ) -> WriteStats:
        """Make `tenant`'s rows of `table` (of `day`, for fact tables) equal `records`.

        One transaction; only keys whose content changed are deleted and re-inserted. `keep`
        ({key column: values}) names records quarantined in this listing: their existing rows stay
        as they were instead of being taken for deleted at the source.
        """
        contract = CONTRACTS[table]
        if contract.by_day != (day is not None):
            raise ValueError(f"{table}: {'a day is required' if contract.by_day else 'takes no day'} for a slice")
        columns = contract.content_columns
        key_cols = contract.row_key
        now = dt.datetime.now(dt.UTC)
        t = contract.table
        scope = [t.c.tenant == tenant] + ([t.c.day == day] if day is not None else [])

        new_groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        count = 0
        for record in records:
            row = {c: record.get(c) for c in columns}
            row["tenant"] = tenant
            if day is not None:
                row["day"] = day
            row["row_hash"] = _row_hash(row, columns)
            row["synced_at"] = now
            new_groups[tuple(row[k] for k in key_cols)].append(row)
            count += 1

        with self.engine.begin() as conn:
            old_groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
            query = sa.select(*[t.c[k] for k in key_cols], t.c.row_hash).where(*scope)
            for found in conn.execute(query):
                old_groups[tuple(found[:-1])].append(found[-1])

            inserted = [k for k in new_groups if k not in old_groups]
            held = _held_keys(key_cols, [k for k in old_groups if k not in new_groups], keep)
            deleted = [k for k in old_groups if k not in new_groups and k not in held]
            updated = [
                k
                for k, rows in new_groups.items()
                if k in old_groups and sorted(r["row_hash"] for r in rows) != sorted(old_groups[k])
            ]
            if not contract.by_day:
                self.guard.check(table, tenant, len(deleted), len(old_groups))
            stale = deleted + updated
            if stale and len(stale) == len(old_groups):
                conn.execute(t.delete().where(*scope))
            else:
                for match in _key_chunks(t, key_cols, stale):
                    conn.execute(t.delete().where(*scope, match))
            fresh = [row for k in inserted + updated for row in new_groups[k]]
            _insert(conn, t, fresh)
            if contract.name in HISTORY:
                _record_history(conn, contract, tenant, now, updated, deleted, fresh)

        kept = sum(len(old_groups[k]) for k in held)
        hashes = [r["row_hash"] for rows in new_groups.values() for r in rows] + [
            h for k in held for h in old_groups[k]
        ]
        version = hashlib.sha1("\n".join(sorted(hashes)).encode("ascii")).hexdigest()
        return WriteStats(table, tenant, count + kept, len(inserted), len(updated), len(deleted), day, version)

    def read_slice(
        self, table: str, tenant: str, columns: Iterable[str] | None = None, *, day: dt.date | None = None
    ) -> list[dict[str, Any]]:
        """One tenant's rows of a table (of one day, for facts) as dicts, for downstream assets and checks.

        Any table on the warehouse metadata, whether or not it has a contract in CONTRACTS.
        """
        t = metadata.tables[table]
        selected = [t.c[c] for c in columns] if columns else [t]
        query = sa.select(*selected).where(t.c.tenant == tenant)
        if day is not None:
            query = query.where(t.c.day == day)
        with self.engine.connect() as conn:
            return _dicts(conn.execute(query))

    def read_range(
        self, table: str, tenant: str, column: str, lo: Any, hi: Any, columns: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """A tenant's rows with lo <= column < hi, across all days (e.g. bookings created in a window)."""
        t = CONTRACTS[table].table
        selected = [t.c[c] for c in columns] if columns else [t]
        query = sa.select(*selected).where(t.c.tenant == tenant, t.c[column] >= lo, t.c[column] < hi)
        with self.engine.connect() as conn:
            return _dicts(conn.execute(query))

    def read_in(
        self, table: str, tenant: str, column: str, values: Iterable[Any], columns: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """A tenant's rows whose `column` is one of `values` (chunked IN lists)."""
        t = CONTRACTS[table].table
        selected = [t.c[c] for c in columns] if columns else [t]
        wanted, rows = list(dict.fromkeys(values)), []
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                query = sa.select(*selected).where(
                    t.c.tenant == tenant, t.c[column].in_(wanted[start : start + _CHUNK])
                )
                rows += _dicts(conn.execute(query))
        return rows

    def read_all(self, table: str, columns: Iterable[str]) -> list[dict[str, Any]]:
        """Every tenant's rows of a table (for checks that look across tenants)."""
        t = CONTRACTS[table].table
        with self.engine.connect() as conn:
            return _dicts(conn.execute(sa.select(*[t.c[c] for c in columns])))

    def duplicate_keys(
        self, table: str, tenant: str, days: Iterable[dt.date] | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """(rows, keys found more than once with their count) in a tenant's slice, per day for facts.

        Counted by the database (GROUP BY … HAVING), so a check does not pull the table into Python.
        """
        contract = CONTRACTS[table]
        t = contract.table
        group = ([t.c.day] if contract.by_day else []) + [t.c[k] for k in contract.row_key]
        scope = [t.c.tenant == tenant] + ([t.c.day.in_(list(days))] if days is not None else [])
        found = sa.func.count().label("count")
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(t).where(*scope)).scalar_one()
            query = sa.select(*group, found).where(*scope).group_by(*group).having(sa.func.count() > 1)
            duplicates = _dicts(conn.execute(query.order_by(*group)))
        return rows, duplicates

    def count(self, table: str, tenant: str | None = None) -> int:
        """Row count of a table, for one tenant or all."""
        t = CONTRACTS[table].table
        query = sa.select(sa.func.count()).select_from(t)
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

"""A fact day's slices written chunk by chunk in one transaction (memory flat in calls per day).

`replace_slice` takes a whole day at once, so a busy tenant's day of calls and transcripts had to be
held in memory before it was written (issue 15: ~40 KB per daily call). Here the day's old keys and
row hashes are read once (small), each chunk of records is compared and written as it arrives, and
the keys no chunk brought are deleted at the end: all in one transaction on one connection, so
readers still see the old day or the new one, never a mix, and SQLite's single writer is never
asked for twice (every table of the day shares the connection).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.warehouse.store import _CHUNK, Warehouse, WriteStats, _insert, _key_chunks, _row_hash
from askpro_pipelines.warehouse.tables import CONTRACTS, HISTORY


class _TableDay:
    """One table's part of a day stream: the stored hashes per key, what this stream has written."""

    def __init__(self, conn: sa.Connection, table: str, tenant: str, day: dt.date) -> None:
        self.contract = CONTRACTS[table]
        if not self.contract.by_day or table in HISTORY:  # dimensions keep history and a delete guard
            raise ValueError(f"{table}: takes no day; a day stream writes fact tables only")
        t = self.contract.table
        self.scope = [t.c.tenant == tenant, t.c.day == day]
        self.old: dict[tuple[Any, ...], list[str]] = defaultdict(list)
        query = sa.select(*[t.c[k] for k in self.contract.row_key], t.c.row_hash).where(*self.scope)
        for found in conn.execute(query):
            self.old[tuple(found[:-1])].append(found[-1])
        self.seen: set[tuple[Any, ...]] = set()
        self.held: dict[str, set[Any]] = {}
        self.rows = self.inserted = self.updated = 0

    def gone(self) -> tuple[list[tuple[Any, ...]], int]:
        """(keys no chunk brought, stored rows kept because a held value names them)."""
        key_cols = self.contract.row_key
        positions = [(key_cols.index(column), values) for column, values in self.held.items() if values]
        gone, kept = [], 0
        for key, hashes in self.old.items():
            if key in self.seen:
                continue
            if any(key[i] in values for i, values in positions):
                kept += len(hashes)
            else:
                gone.append(key)
        return gone, kept


class DayStream:
    """`with DayStream(warehouse, tenant, day, tables) as day: day.add(table, records)` per chunk;
    the day is committed when the block ends normally, rolled back on an error (the old day stays)."""

    def __init__(self, warehouse: Warehouse, tenant: str, day: dt.date, tables: Iterable[str]):
        self.warehouse, self.tenant, self.day = warehouse, tenant, day
        self.table_names = list(tables)
        self.now = dt.datetime.now(dt.UTC)
        self.stats: dict[str, WriteStats] = {}

    def __enter__(self) -> "DayStream":
        self._conn = self.warehouse.engine.connect()
        self._transaction = self._conn.begin()
        try:
            self._tables = {name: _TableDay(self._conn, name, self.tenant, self.day) for name in self.table_names}
        except BaseException:
            self._close(commit=False)
            raise
        return self

    def add_all(self, table: str, records: Iterable[Mapping[str, Any]], chunk: int = _CHUNK) -> None:
        """Write an iterable of any length `chunk` records at a time."""
        it = iter(records)
        while batch := list(islice(it, chunk)):
            self.add(table, batch)

    def add(self, table: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Write one chunk of `table`'s records of the day: new and changed keys only."""
        part = self._tables[table]
        contract, conn = part.contract, self._conn
        columns, key_cols = contract.content_columns, contract.row_key
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            row = {c: record.get(c) for c in columns}
            row["tenant"], row["day"] = self.tenant, self.day
            row["row_hash"] = _row_hash(row, columns)
            row["synced_at"] = self.now
            groups[tuple(row[k] for k in key_cols)].append(row)
            part.rows += 1
        fresh: list[dict[str, Any]] = []
        stale: list[tuple[Any, ...]] = []
        for key, rows in groups.items():
            if key in part.seen:  # a key an earlier chunk brought: its rows so far stay, these join them
                fresh += rows
                continue
            part.seen.add(key)
            old = part.old.get(key)
            if old is None:
                part.inserted += 1
                fresh += rows
            elif sorted(r["row_hash"] for r in rows) != sorted(old):
                part.updated += 1
                stale.append(key)
                fresh += rows
        self._delete(part, stale)
        _insert(conn, contract.table, fresh)

    def hold(self, table: str, keep: Mapping[str, Iterable[Any]]) -> None:
        """Keep the stored rows whose key column holds one of these values although no chunk brought
        them ({key column: values}: records quarantined in this listing are not deleted at the source)."""
        part = self._tables[table]
        for column, values in keep.items():
            part.held.setdefault(column, set()).update(values)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if kind is not None:
            self._close(commit=False)
            return
        try:
            for name, part in self._tables.items():
                gone, kept = part.gone()
                self._delete(part, gone)
                self.stats[name] = WriteStats(
                    name, self.tenant, part.rows + kept, part.inserted, part.updated, len(gone), self.day
                )
        except BaseException:
            self._close(commit=False)
            raise
        self._close(commit=True)

    def _delete(self, part: _TableDay, keys: list[tuple[Any, ...]]) -> None:
        for match in _key_chunks(part.contract.table, part.contract.row_key, keys):
            self._conn.execute(part.contract.table.delete().where(*part.scope, match))

    def _close(self, *, commit: bool) -> None:
        try:
            if commit:
                self._transaction.commit()
            else:
                self._transaction.rollback()
        finally:
            self._conn.close()

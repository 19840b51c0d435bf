"""The webhook landing table: accepted deliveries, deduplicated, with their processing status.

The receiver answers a provider only after `land`/`land_many` committed, so an accepted event survives a
crash. Sensors move events pending -> queued (with the run that carries them) -> processed, or
back to pending on failure until they are dead after too many attempts; `requeue` replays them.
Every method is one transaction and works on SQLite and PostgreSQL. Status changes are plain
UPDATE statements without a preceding read, so concurrent writers on SQLite never deadlock on a
read lock upgrade.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from askpro_pipelines.warehouse.tables import metadata, webhook_events

PENDING = "pending"
QUEUED = "queued"
PROCESSED = "processed"
DEAD = "dead"
STATUSES = (PENDING, QUEUED, PROCESSED, DEAD)
_CHUNK = 500
_T = webhook_events


class UnstorableEvent(ValueError):
    """An event holding text that a database cannot store (see `unstorable_reason`); nothing was written."""


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored alike on SQLite and PostgreSQL, or None when it can.

    PostgreSQL text cannot hold NUL (SQLite would keep it), and an unpaired surrogate is not
    Unicode at all, so UTF-8 drivers of both refuse it. Checking here makes both databases
    refuse the same events, before any of them is sent.
    """
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (not valid Unicode)"
    return None


@dataclass(frozen=True)
class NewEvent:
    """A delivery to land: what the receiver derived from one request."""

    tenant: str
    provider: str
    event_type: str
    dedup_key: str
    entity_id: str | None
    event_day: dt.date | None
    payload: str

    @property
    def key(self) -> tuple[str, str, str]:
        """The delivery's identity: the table's unique key."""
        return (self.provider, self.tenant, self.dedup_key)

    def check_storable(self) -> None:
        """Raise `UnstorableEvent` naming tenant, provider, entity and the field when a text field cannot be stored."""
        for field in ("tenant", "provider", "event_type", "dedup_key", "entity_id", "payload"):
            value = getattr(self, field)
            reason = value is not None and unstorable_reason(value)
            if reason:
                entity = repr(self.entity_id[:80]) if self.entity_id else "unknown"
                raise UnstorableEvent(
                    f"webhook event not stored: tenant {self.tenant[:64]!r}, provider {self.provider[:16]!r}, "
                    f"entity {entity}: {field} {reason}"
                )


@dataclass(frozen=True)
class LandedEvent:
    """One stored delivery as the sensors and the CLI see it."""

    id: int
    tenant: str
    provider: str
    event_type: str
    dedup_key: str
    entity_id: str | None
    event_day: dt.date | None
    received_at: dt.datetime
    status: str
    attempts: int
    run_key: str | None
    last_error: str | None
    processed_at: dt.datetime | None
    payload: str


def _to_event(row: sa.Row[Any]) -> LandedEvent:
    m = row._mapping
    return LandedEvent(
        id=m["id"],
        tenant=m["tenant"],
        provider=m["provider"],
        event_type=m["event_type"],
        dedup_key=m["dedup_key"],
        entity_id=m["entity_id"],
        event_day=m["event_day"],
        received_at=m["received_at"],
        status=m["status"],
        attempts=m["attempts"],
        run_key=m["run_key"],
        last_error=m["last_error"],
        processed_at=m["processed_at"],
        payload=m["payload"],
    )


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


class WebhookStore:
    """Land, list and move webhook events in the `webhook_events` table of one database."""

    def __init__(self, engine: Engine):
        self.engine = engine
        metadata.create_all(engine, tables=[_T])
        self._dialect = engine.dialect.name
        # psycopg2 (and other format-style PostgreSQL drivers) take `_insert_new_postgresql`'s plain statement.
        self._one_statement_insert = self._dialect == "postgresql" and engine.dialect.paramstyle in (
            "format",
            "pyformat",
        )
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def dispose(self) -> None:
        self.engine.dispose()

    # -- landing ---------------------------------------------------------------------------

    def land(
        self,
        *,
        tenant: str,
        provider: str,
        event_type: str,
        dedup_key: str,
        entity_id: str | None,
        event_day: dt.date | None,
        payload: str,
    ) -> tuple[int, bool]:
        """Store one delivery; returns (id, duplicate). A repeated (provider, tenant, dedup_key) stores nothing.

        Race-safe: the unique constraint decides, so two deliveries of the same event arriving at
        once on different connections still yield one row and the same id for both.
        """
        event = NewEvent(tenant, provider, event_type, dedup_key, entity_id, event_day, payload)
        return self.land_many([event])[0]

    def land_many(self, events: Sequence[NewEvent]) -> list[tuple[int, bool]]:
        """Store many deliveries in one transaction; (id, duplicate) for each, in the given order.

        The receiver groups concurrent deliveries through this, so a burst costs one commit
        instead of one per event. A key repeated within the batch is stored once; the later
        copies report the same id as duplicates. An event no database can hold fails the batch
        with `UnstorableEvent` before anything is written, on SQLite as on PostgreSQL.
        """
        if not events:
            return []
        for event in events:
            event.check_storable()
        now = dt.datetime.now(dt.UTC)
        first_of: dict[tuple[str, str, str], NewEvent] = {}
        for event in events:
            first_of.setdefault(event.key, event)
        # Rows in key order: concurrent batches lock conflicting keys in the same order and cannot deadlock.
        rows = [
            {
                "tenant": e.tenant,
                "provider": e.provider,
                "event_type": e.event_type,
                "dedup_key": e.dedup_key,
                "entity_id": e.entity_id,
                "event_day": e.event_day,
                "received_at": now,
                "payload": e.payload,
                "status": PENDING,
                "attempts": 0,
            }
            for _, e in sorted(first_of.items())
        ]
        # On PostgreSQL the insert is one statement, atomic by itself: autocommit spares the BEGIN and
        # COMMIT round trips, each of which the receiver's writer thread waits for and then waits again
        # for the interpreter lock.
        with self._autocommit.connect() if self._one_statement_insert else self.engine.begin() as conn:
            new_ids = self._insert_new(conn, rows)
            missing = [key for key in first_of if key not in new_ids]
            old_ids = self._existing_ids(conn, missing) if missing else {}
        results = []
        seen: set[tuple[str, str, str]] = set()
        for event in events:
            key = event.key
            if key in new_ids and key not in seen:
                results.append((new_ids[key], False))
            else:
                results.append((new_ids.get(key) or old_ids[key], True))
            seen.add(key)
        return results

    def _insert_new(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
        """Insert rows whose key is not stored yet; {key: new id} for those actually inserted."""
        if self._one_statement_insert:
            return self._insert_new_postgresql(conn, rows)
        returned = (_T.c.provider, _T.c.tenant, _T.c.dedup_key, _T.c.id)
        if self._dialect in ("postgresql", "sqlite"):
            dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
            statement = (
                dialect_insert(_T)
                .on_conflict_do_nothing(index_elements=["provider", "tenant", "dedup_key"])
                .returning(*returned)
            )
            return {(p, t, k): i for p, t, k, i in conn.execute(statement, rows)}
        inserted = {}
        for row in rows:  # other databases: a savepoint per row keeps the batch alive past a duplicate
            try:
                with conn.begin_nested():
                    primary_key = conn.execute(_T.insert().values(row)).inserted_primary_key
                    assert primary_key is not None
                    new_id = primary_key[0]
            except IntegrityError:
                continue
            inserted[(row["provider"], row["tenant"], row["dedup_key"])] = new_id
        return inserted

    def _insert_new_postgresql(
        self, conn: sa.Connection, rows: list[dict[str, Any]]
    ) -> dict[tuple[str, str, str], int]:
        """`_insert_new` as one plain multi-row statement: a third of the CPU of SQLAlchemy's insert.

        The receiver's writer spent ~260 µs per event in the compiled insert's per-parameter
        processing (benchmarks/RESULTS.md, figure 5); psycopg2 binds these types itself (text, date,
        aware datetime, integer), so the stored values are the same. `exec_driver_sql` keeps
        SQLAlchemy's error wrapping and disconnect handling.
        """
        names = list(rows[0])  # every row has the same columns (`land_many` builds them)
        preparer = conn.dialect.identifier_preparer
        columns = ", ".join(preparer.quote(name) for name in names)
        key = ", ".join(preparer.quote(name) for name in ("provider", "tenant", "dedup_key"))
        one_row = "(" + ", ".join(["%s"] * len(names)) + ")"
        statement = (
            f"INSERT INTO {preparer.format_table(_T)} ({columns}) VALUES {', '.join([one_row] * len(rows))} "
            f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}, {preparer.quote('id')}"
        )
        parameters = tuple(row[name] for row in rows for name in names)
        return {(p, t, k): i for p, t, k, i in conn.exec_driver_sql(statement, parameters)}

    @staticmethod
    def _existing_ids(conn: sa.Connection, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        found = {}
        columns = sa.tuple_(_T.c.provider, _T.c.tenant, _T.c.dedup_key)
        for start in range(0, len(keys), _CHUNK):
            query = sa.select(_T.c.provider, _T.c.tenant, _T.c.dedup_key, _T.c.id).where(
                columns.in_(keys[start : start + _CHUNK])
            )
            found.update({(p, t, k): i for p, t, k, i in conn.execute(query)})
        return found

    # -- the sensor's cycle ----------------------------------------------------------------

    def pending(self, provider: str, limit: int = 1000) -> list[LandedEvent]:
        """The oldest pending events of a provider, in arrival order."""
        query = sa.select(_T).where(_T.c.provider == provider, _T.c.status == PENDING).order_by(_T.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_to_event(row) for row in conn.execute(query)]

    def mark_queued(self, ids: Sequence[int], run_key: str) -> None:
        """Hand pending events to a run; events no longer pending (e.g. queued by another tick) are left alone."""
        with self.engine.begin() as conn:
            for chunk in _chunks(ids):
                conn.execute(
                    _T.update().where(_T.c.id.in_(chunk), _T.c.status == PENDING).values(status=QUEUED, run_key=run_key)
                )

    def queued(self, provider: str) -> list[LandedEvent]:
        """Events handed to runs that have not reported back yet, in arrival order."""
        query = sa.select(_T).where(_T.c.provider == provider, _T.c.status == QUEUED).order_by(_T.c.id)
        with self.engine.connect() as conn:
            return [_to_event(row) for row in conn.execute(query)]

    def mark_processed(self, run_key: str) -> int:
        """The run succeeded: its queued events are done. Returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(
                _T.update()
                .where(_T.c.run_key == run_key, _T.c.status == QUEUED)
                .values(status=PROCESSED, processed_at=dt.datetime.now(dt.UTC), last_error=None)
            )
            return result.rowcount

    def mark_failed(self, run_key: str, error: str, max_attempts: int) -> tuple[int, int]:
        """The run failed: count an attempt; events go back to pending, or dead at `max_attempts`.

        Returns (retried, dead).
        """
        carried = sa.and_(_T.c.run_key == run_key, _T.c.status == QUEUED)
        with self.engine.begin() as conn:
            dead = conn.execute(
                _T.update()
                .where(carried, _T.c.attempts + 1 >= max_attempts)
                .values(status=DEAD, attempts=_T.c.attempts + 1, last_error=error)
            ).rowcount
            retried = conn.execute(
                _T.update()
                .where(carried)
                .values(status=PENDING, attempts=_T.c.attempts + 1, last_error=error, run_key=None)
            ).rowcount
        return retried, dead

    def requeue(
        self,
        *,
        ids: Sequence[int] | None = None,
        since: dt.datetime | None = None,
        tenant: str | None = None,
        provider: str | None = None,
    ) -> int:
        """Replay events: dead, processed or queued ones matching every given filter go back to pending.

        Attempts restart at zero; the last error is kept so the replay's reason stays visible.
        Returns how many events were requeued.
        """
        conditions: list[sa.ColumnElement[bool]] = [_T.c.status.in_((DEAD, PROCESSED, QUEUED))]
        if since is not None:
            aware = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            conditions.append(_T.c.received_at >= aware.astimezone(dt.UTC))
        if tenant is not None:
            conditions.append(_T.c.tenant == tenant)
        if provider is not None:
            conditions.append(_T.c.provider == provider)
        values = {"status": PENDING, "attempts": 0, "run_key": None, "processed_at": None}
        with self.engine.begin() as conn:
            if ids is None:
                return conn.execute(_T.update().where(*conditions).values(values)).rowcount
            return sum(
                conn.execute(_T.update().where(_T.c.id.in_(chunk), *conditions).values(values)).rowcount
                for chunk in _chunks(ids)
            )

    # -- inspection ------------------------------------------------------------------------

    def counts(self) -> dict[tuple[str, str], int]:
        """(provider, status) -> number of events, for health checks and the CLI."""
        query = sa.select(_T.c.provider, _T.c.status, sa.func.count()).group_by(_T.c.provider, _T.c.status)
        with self.engine.connect() as conn:
            return {(provider, status): n for provider, status, n in conn.execute(query)}

    def max_id(self, provider: str) -> int:
        """The highest event id of a provider (0 when none): a cursor for sensors."""
        query = sa.select(sa.func.max(_T.c.id)).where(_T.c.provider == provider)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def list(
        self,
        *,
        status: str | None = None,
        tenant: str | None = None,
        provider: str | None = None,
        limit: int = 100,
    ) -> list[LandedEvent]:
        """The newest events matching the filters, newest first."""
        query = sa.select(_T).order_by(_T.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(_T.c.status == status)
        if tenant is not None:
            query = query.where(_T.c.tenant == tenant)
        if provider is not None:
            query = query.where(_T.c.provider == provider)
        with self.engine.connect() as conn:
            return [_to_event(row) for row in conn.execute(query)]

"""Schema migrations of the warehouse (Alembic), and the `askpro warehouse upgrade|status` commands.

`create_all` never alters an existing table, so the first new column would break every insert into
an older warehouse. Every schema change ships as a migration under warehouse/migrations/versions/,
and each run checks where its warehouse stands before writing:

- an empty database is created at the newest revision (nothing to decide);
- a behind SQLite warehouse (the embedded default) is upgraded on the spot;
- a behind PostgreSQL warehouse stops the run with a one-line instruction: an operator upgrades
  production on purpose (`askpro warehouse upgrade`), after a backup if they want one.

A warehouse made by the first release (tables from `create_all`, no `alembic_version`) is adopted:
when its tables match the frozen baseline, the baseline revision is stamped and the newer
migrations run from there.
"""

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from askpro_pipelines.file_lock import file_lock
from askpro_pipelines.warehouse.engine import create_engine
from askpro_pipelines.warehouse.migrations import baseline_schema

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BASELINE = "0001_baseline"
LOCK_TIMEOUT_S = 120
_PG_LOCK_KEY = 0x61736B70726F  # "askpro": one advisory lock id for schema changes


class WarehouseSchemaError(RuntimeError):
    """The warehouse is not at this release's schema and will not be changed automatically."""


@dataclass(frozen=True)
class SchemaStatus:
    """Where one warehouse stands."""

    url: str
    current: str | None
    head: str
    state: str  # empty | first-release | behind | current | unknown

    def describe(self) -> str:
        at = self.current or "no revision"
        texts = {
            "empty": "empty database: the first sync (or `askpro warehouse upgrade`) creates every table",
            "first-release": f"first-release tables without a revision, this release needs {self.head}: run `askpro warehouse upgrade`",
            "behind": f"at {at}, this release needs {self.head}: run `askpro warehouse upgrade`",
            "current": f"at {self.head} (current)",
            "unknown": f"at {at}, which this release does not know (a newer release wrote it?)",
        }
        return f"warehouse {self.url}: {texts[self.state]}"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the migrations directory has one head
    return head


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions())


def _display(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _inspect(conn: Connection) -> tuple[str | None, str]:
    """(current revision, state) of the database behind `conn`."""
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        if current == head_revision():
            return current, "current"
        return current, "behind" if current in _known_revisions() else "unknown"
    existing = set(sa.inspect(conn).get_table_names())
    baseline = set(baseline_schema.metadata.tables)
    if not existing & baseline:
        return None, "empty"
    return None, "first-release"


def status(engine: Engine) -> SchemaStatus:
    """Where the warehouse stands, without changing it."""
    with engine.connect() as conn:
        current, state = _inspect(conn)
    return SchemaStatus(_display(engine), current, head_revision(), state)


def _mismatches(conn: Connection) -> list[str]:
    """Differences between an unversioned warehouse's tables and the frozen baseline (missing columns)."""
    inspector = sa.inspect(conn)
    problems = []
    existing = set(inspector.get_table_names())
    for name, table in baseline_schema.metadata.tables.items():
        if name not in existing:
            continue  # created by the baseline migration (checkfirst)
        columns = {c["name"] for c in inspector.get_columns(name)}
        missing = [c.name for c in table.columns if c.name not in columns]
        if missing:
            problems.append(f"{name} lacks {', '.join(missing)}")
    return problems


@contextlib.contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """One schema change at a time: a file lock beside a SQLite file (PostgreSQL locks in-transaction)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with file_lock(
        f"{database}.migrate-lock",
        LOCK_TIMEOUT_S,
        lambda: WarehouseSchemaError(
            f"warehouse {_display(engine)}: another process held the schema lock for {LOCK_TIMEOUT_S} s"
        ),
    ):
        yield


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the warehouse to this release's schema: (revision before, revision after).

    Adopts a first-release warehouse (stamps the baseline when its tables match it). Runs in one
    transaction on PostgreSQL, under an advisory lock so two processes never migrate at once.
    """
    with _schema_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'"))
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        before, state = _inspect(conn)  # again, under the lock: another process may have done it
        if state == "current":
            assert before is not None  # a current warehouse has a revision
            return before, before
        if state == "unknown":
            raise WarehouseSchemaError(SchemaStatus(_display(engine), before, head_revision(), state).describe())
        config = _config(conn)
        if state == "first-release":
            problems = _mismatches(conn)
            if problems:
                raise WarehouseSchemaError(
                    f"warehouse {_display(engine)} has tables but no revision, and they do not match the "
                    f"first release: {'; '.join(problems)}"
                )
            baseline_schema.metadata.create_all(conn, checkfirst=True)
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        return before, head_revision()


def _receiver_only(engine: Engine) -> bool:
    """Only `webhook_events` exists, as the webhook receiver creates it on its own: adopting it alters
    nothing, so it needs no operator (a fresh PostgreSQL warehouse whose receiver started first)."""
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() is not None:
            return False
        return set(sa.inspect(conn).get_table_names()) & set(baseline_schema.metadata.tables) == {"webhook_events"}


def ensure_schema(engine: Engine, *, auto_upgrade: bool | None = None) -> None:
    """Before a run writes: make sure the warehouse is at this release's schema.

    `auto_upgrade` None means the policy above: SQLite upgrades itself, PostgreSQL stops with
    an instruction when it holds an older schema. An empty database is always created.
    """
    current = status(engine)
    if current.state == "current":
        return
    if auto_upgrade is None:
        auto_upgrade = engine.dialect.name == "sqlite"
    if (
        current.state == "empty"
        or _receiver_only(engine)
        or (auto_upgrade and current.state in ("behind", "first-release"))
    ):
        upgrade(engine)
        return
    raise WarehouseSchemaError(current.describe())


def ensure_schema_at(url: str) -> None:
    """`ensure_schema` for a URL (the CLI's check before it starts any run)."""
    engine = create_engine(url)
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()


# ---- commands (wired into cli.py as `askpro warehouse status|upgrade`) --------------------------


def cmd_status(url: str) -> int:
    """Print where the warehouse stands; exit 0 only when it is current."""
    engine = create_engine(url)
    try:
        found = status(engine)
    finally:
        engine.dispose()
    print(found.describe())
    return 0 if found.state == "current" else 1


def cmd_upgrade(url: str) -> int:
    """Upgrade the warehouse to this release's schema and say from where to where."""
    engine = create_engine(url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"warehouse {where}: already at {after}")
    else:
        print(f"warehouse {where}: upgraded from {before or 'the first release (no revision)'} to {after}")
    return 0

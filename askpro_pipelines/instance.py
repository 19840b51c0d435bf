"""The one local Dagster instance that `askpro sync`/`backfill` record in and `make dev` shows.

Default home: `$ASKPRO_DATA_DIR/dagster_home` (`./.askpro/dagster_home`); `DAGSTER_HOME` overrides.

Dagster creates its SQLite storage lazily and only when a database file is missing, so a process
killed while creating it leaves a file without tables (or without the alembic stamp written last),
and every later start fails ("dynamic partitions table does not exist"). Before opening the
instance we therefore remove any storage database that is unstamped and holds no rows (it can
only be such a leftover), so Dagster creates it again whole; an unstamped database that does hold
rows is migrated as `dagster instance migrate` would. Creation and repair run under a file lock,
so a second command started meanwhile never sees, or removes, a database being created.
"""

import contextlib
import io
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml
from dagster import DagsterInstance

from askpro_pipelines.file_lock import file_lock
from askpro_pipelines.warehouse.store import default_data_dir

DAGSTER_HOME_ENV = "DAGSTER_HOME"
HOME_DIR_NAME = "dagster_home"
LOCK_TIMEOUT_S = 120.0

# Dagster's default (SQLite) storage layout under the home directory.
STORAGE_DATABASES = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")
# Keys of dagster.yaml that move storage elsewhere (e.g. PostgreSQL): then there is nothing local to repair.
_STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")

LOCAL_CONFIG = """\
# Written by askpro: the local instance that `askpro sync`, `askpro backfill` and `make dev` share.
# Telemetry is off so that no first-use banner lands in the middle of a sync summary.
telemetry:
  enabled: false
"""


class InstanceError(RuntimeError):
    """The local instance cannot be prepared (its lock is held too long, or it cannot be repaired)."""


def dagster_home(environ: Mapping[str, str] | None = None) -> Path:
    """The instance directory: DAGSTER_HOME if set, else $ASKPRO_DATA_DIR/dagster_home."""
    env = os.environ if environ is None else environ
    explicit = env.get(DAGSTER_HOME_ENV)
    return Path(explicit).resolve() if explicit else default_data_dir(env) / HOME_DIR_NAME


def _home_lock(home: Path, timeout_s: float) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on the home, polled so that the wait is bounded."""
    return file_lock(
        home / ".askpro-instance.lock",
        timeout_s,
        lambda: InstanceError(
            f"the Dagster instance at {home} stayed locked by another askpro command for {timeout_s:.0f}s"
        ),
    )


def _uses_local_storage(home: Path) -> bool:
    config = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    return not any(key in config for key in _STORAGE_KEYS)


def _database_state(path: Path) -> str:
    """'complete' (stamped), 'empty' (unstamped, no rows: a leftover of creation) or 'unstamped' (rows, no stamp)."""
    if path.stat().st_size == 0:
        return "empty"
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        tables = [row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")]
        if "alembic_version" in tables and conn.execute("select count(*) from alembic_version").fetchone()[0]:
            return "complete"
        has_rows = any(conn.execute(f'select 1 from "{table}" limit 1').fetchone() for table in tables)
    return "unstamped" if has_rows else "empty"


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def repair_storage(home: Path) -> list[str]:
    """Remove half-created storage databases; returns the ones that hold rows but need a migration."""
    needs_migration = []
    for relative in STORAGE_DATABASES:
        path = home / relative
        if not path.exists():
            continue
        state = _database_state(path)
        if state == "empty":
            _remove_database(path)
        elif state == "unstamped":
            needs_migration.append(relative)
    return needs_migration


def _open(home: Path, timeout_s: float) -> DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    with _home_lock(home, timeout_s):
        config = home / "dagster.yaml"
        if not config.exists():
            partial = config.with_name(f".dagster.yaml.{os.getpid()}")
            partial.write_text(LOCAL_CONFIG)
            partial.replace(config)  # atomic: the file is whole or absent
        to_migrate = repair_storage(home) if _uses_local_storage(home) else []
        instance = DagsterInstance.from_config(str(home))  # creates missing storage, under the lock
        if to_migrate:
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # Dagster prints progress lines
                    instance.upgrade()
            except Exception as exc:
                instance.dispose()
                raise InstanceError(
                    f"the Dagster instance at {home} could not be migrated ({', '.join(to_migrate)}): {exc}"
                ) from exc
    return instance


@contextlib.contextmanager
def open_instance(
    environ: Mapping[str, str] | None = None, timeout_s: float = LOCK_TIMEOUT_S
) -> Iterator[DagsterInstance]:
    """The shared local instance, created or repaired first; disposed on exit."""
    instance = _open(dagster_home(environ), timeout_s)
    try:
        yield instance
    finally:
        instance.dispose()


def prepare_home(environ: Mapping[str, str] | None = None, timeout_s: float = LOCK_TIMEOUT_S) -> Path:
    """Create (or repair) the instance and return its directory, for `make dev` to hand to `dagster dev`."""
    with open_instance(environ, timeout_s) as instance:
        return Path(instance.root_directory)

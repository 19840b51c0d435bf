"""The warehouse engine: one place that sets each backend up (WAL and a busy timeout on SQLite).

Its own module so the schema migrations (migrate.py) and the slice writer (store.py) both use it
without importing each other.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from askpro_pipelines.json_codec import dumps_json, loads_json


def json_text(value: Any) -> str:
    """JSON text of a value through json_codec (orjson where it is exact)."""
    return dumps_json(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_engine(url: str, *, pre_ping: bool = True) -> Engine:
    """An engine with the settings each backend needs (WAL and a busy timeout on SQLite).

    `pre_ping=False` is for hot paths (the webhook receiver's writer): no round trip per checkout;
    connections are recycled after 5 minutes instead, and a dropped one is invalidated on its error.
    """
    options = {"pool_pre_ping": True} if pre_ping else {"pool_recycle": 300}
    # JSON columns (hosts, tags, metadata, ...) through json_codec: orjson where it is exact.
    engine = sa.create_engine(url, json_serializer=json_text, json_deserializer=loads_json, **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine

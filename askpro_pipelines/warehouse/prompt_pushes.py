"""The audit of prompt pushes: one `prompt_pushes` row per push, updated after every step.

The row is written when the push starts (outcome `running`) and again after each step, so a
push that dies part-way (a crash, a lost connection) still shows what it had done.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.warehouse.store import Warehouse
from askpro_pipelines.warehouse.tables import prompt_pushes

OUTCOMES = ("running", "succeeded", "refused", "failed")


def start_push(warehouse: Warehouse, row: Mapping[str, Any]) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(prompt_pushes.insert().values(**{"outcome": "running", "steps": [], **row}))


def update_push(warehouse: Warehouse, push_id: str, **values: Any) -> None:
    if values.get("outcome", "running") not in OUTCOMES:
        raise ValueError(f"prompt push {push_id}: unknown outcome {values['outcome']!r}")
    with warehouse.engine.begin() as conn:
        conn.execute(prompt_pushes.update().where(prompt_pushes.c.push_id == push_id).values(**values))


def read_pushes(warehouse: Warehouse, tenant: str | None = None, agent_id: str | None = None) -> list[dict[str, Any]]:
    """Pushes, oldest first (of one tenant and agent when given)."""
    query = sa.select(prompt_pushes).order_by(prompt_pushes.c.started_at)
    if tenant is not None:
        query = query.where(prompt_pushes.c.tenant == tenant)
    if agent_id is not None:
        query = query.where(prompt_pushes.c.agent_id == agent_id)
    with warehouse.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

"""Quarantined records: one malformed record stops only itself.

A record that fails validation is kept here (tenant, entity, record id, the error, the redacted
payload, first and last seen) while the rest of its table lands. Each complete listing of an
entity settles its quarantine: records that failed again stay (last_seen moves), records that now
parse (or are gone at the source) leave. Facts are listed per day, so their scope is the day.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.json_codec import dumps_json
from askpro_pipelines.models.errors import Rejected, RejectedLog
from askpro_pipelines.warehouse.store import Warehouse, _dicts
from askpro_pipelines.warehouse.tables import quarantined_records as Q

# Which quarantined entities feed which table (for the tables' quarantine checks).
ENTITIES_BY_TABLE = {
    "calcom_event_types": ("event_types",),
    "staff": ("staff",),
    "working_hours": ("schedules",),
    "retell_agent_versions": ("retell_agents", "retell_llms"),
    "retell_phone_numbers": ("retell_phone_numbers",),
    "calcom_bookings": ("calcom_bookings",),
    "retell_calls": ("retell_calls",),
}


def settle(
    wh: Warehouse, tenant: str, api: str, entity: str, rejected: Sequence[Rejected], scope: str = ""
) -> dict[str, int]:
    """After a complete listing: quarantine = exactly this listing's rejects. Counts quarantined / released."""
    now = dt.datetime.now(dt.UTC)
    current = {r.record_id: r for r in rejected}
    where = [Q.c.tenant == tenant, Q.c.entity == entity, Q.c.scope == scope]
    with wh.engine.begin() as conn:
        known = {row.record_id for row in conn.execute(sa.select(Q.c.record_id).where(*where))}
        released = sorted(known - set(current))
        for start in range(0, len(released), 500):
            conn.execute(Q.delete().where(*where, Q.c.record_id.in_(released[start : start + 500])))
        for record_id, item in current.items():
            values = {"error": item.error, "payload": item.payload, "last_seen": now}
            if record_id in known:
                conn.execute(Q.update().where(*where, Q.c.record_id == record_id).values(**values))
            else:
                conn.execute(
                    Q.insert().values(
                        tenant=tenant,
                        api=api,
                        entity=entity,
                        scope=scope,
                        record_id=record_id,
                        first_seen=now,
                        **values,
                    )
                )
    return {"quarantined": len(current), "released": len(released)}


def listed(
    wh: Warehouse, tenant: str | None = None, entities: Iterable[str] | None = None, scopes: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Quarantined records, oldest first, optionally of one tenant, some entities and scopes."""
    query = sa.select(Q).order_by(Q.c.tenant, Q.c.first_seen, Q.c.id)
    if tenant:
        query = query.where(Q.c.tenant == tenant)
    if entities is not None:
        query = query.where(Q.c.entity.in_(list(entities)))
    if scopes is not None:
        query = query.where(Q.c.scope.in_(list(scopes)))
    with wh.engine.connect() as conn:
        return _dicts(conn.execute(query))


def cmd_list(url: str, tenant: str | None = None, show_payload: bool = False) -> int:
    """`askpro quarantine list`: one line per record; exit 0 either way (it is a report)."""
    wh = Warehouse.from_url(url)
    try:
        rows = listed(wh, tenant)
    finally:
        wh.dispose()
    if not rows:
        print("no quarantined records")
        return 0
    for r in rows:
        scope = f" day {r['scope']}" if r["scope"] else ""
        print(
            f"{r['tenant']}  {r['api']}/{r['entity']}{scope}  record {r['record_id']}  "
            f"first seen {r['first_seen']:%Y-%m-%d %H:%M}, last seen {r['last_seen']:%Y-%m-%d %H:%M} UTC\n    {r['error']}"
        )
        if show_payload:
            print(f"    payload: {dumps_json(r['payload'], default=str).decode()}")
    print(f"\n{len(rows)} quarantined record(s)")
    return 0


def settle_log(
    wh: Warehouse, tenant: str, api: str, log: RejectedLog, entities: Iterable[str], scope: str = ""
) -> dict[str, int]:
    """Settle each entity a complete listing read from the client's log; per-entity counts for metadata."""
    return {
        f"quarantined/{entity}": settle(wh, tenant, api, entity, log.drain(entity, scope), scope)["quarantined"]
        for entity in entities
    }

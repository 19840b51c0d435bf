"""Reading the type-2 history: what a row said at an instant, the phone chain as it was, the
prompt a call ran with, and the `askpro history phone` command.

The writer (store.py) keeps, per dimension row, versions valid from one instant to the next; a
version holds at `at` when valid_from <= at < valid_to (valid_to null: still current).
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from askpro_pipelines.warehouse.store import Warehouse, _dicts
from askpro_pipelines.warehouse.tables import CONTRACTS, HISTORY, retell_agent_versions, retell_calls


def _holds_at(history: sa.Table, at: dt.datetime) -> list[Any]:
    return [history.c.valid_from <= at, sa.or_(history.c.valid_to.is_(None), history.c.valid_to > at)]


def rows_at(wh: Warehouse, table: str, at: dt.datetime, **equal: Any) -> list[dict[str, Any]]:
    """The versions of `table`'s rows that held at `at`, filtered by column equality."""
    history = HISTORY[table]
    where = _holds_at(history, at) + [history.c[name] == value for name, value in equal.items()]
    with wh.engine.connect() as conn:
        return _dicts(conn.execute(sa.select(history).where(*where)))


def versions(wh: Warehouse, table: str, tenant: str, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every version of a tenant's rows of `table`, ordered by key then valid_from (for the checks)."""
    history = HISTORY[table]
    key = [history.c[k] for k in CONTRACTS[table].row_key]
    selected = [history.c[c] for c in columns] if columns else [history]
    query = sa.select(*selected).where(history.c.tenant == tenant).order_by(*key, history.c.valid_from)
    with wh.engine.connect() as conn:
        return _dicts(conn.execute(query))


@dataclass
class ChainAt:
    """One number's chain as it stood at an instant (one per branch the number rang at)."""

    tenant: str
    phone_number: str
    at: dt.datetime
    assignment: dict[str, Any]
    agent_version: dict[str, Any] | None
    event_type: dict[str, Any] | None
    staff: list[dict[str, Any]] = field(default_factory=list)


def phone_chain_at(wh: Warehouse, number: str, at: dt.datetime, tenant: str | None = None) -> list[ChainAt]:
    """phone → agent + version (+ prompt) → branch → event type → staff, as the history held it at `at`."""
    from askpro_pipelines.phone_chain import normalize_phone_number

    e164 = normalize_phone_number(number)
    filters = {"phone_number": e164} | ({"tenant": tenant} if tenant else {})
    chains = []
    for assignment in sorted(
        rows_at(wh, "phone_assignments", at, **filters), key=lambda r: (r["tenant"], r["branch_id"] or "")
    ):
        slug = assignment["tenant"]
        version = None
        if assignment["agent_id"] and assignment["agent_version_resolved"] is not None:
            found = rows_at(
                wh,
                "retell_agent_versions",
                at,
                tenant=slug,
                agent_id=assignment["agent_id"],
                version=assignment["agent_version_resolved"],
            )
            version = found[0] if found else None
        event_type, staff = None, []
        if assignment["event_type_id"]:
            found = rows_at(wh, "calcom_event_types", at, tenant=slug, event_type_id=assignment["event_type_id"])
            event_type = found[0] if found else None
            links = rows_at(wh, "staff_event_types", at, tenant=slug, event_type_id=assignment["event_type_id"])
            names = {}
            for link in links:
                member = rows_at(wh, "staff", at, tenant=slug, staff_id=link["staff_id"])
                names[link["staff_id"]] = {**link, "name": member[0]["name"] if member else None}
            staff = [names[k] for k in sorted(names)]
        chains.append(ChainAt(slug, e164, at, assignment, version, event_type, staff))
    return chains


def call_agent_version(wh: Warehouse, tenant: str, call_id: str) -> dict[str, Any] | None:
    """The agent version (with prompt and prompt hash) a call actually ran with.

    The version row as it held when the call started (a draft version's prompt can still change);
    for calls older than the history, the version row as synced now. None when the call or its
    version is unknown. The same in SQL, for the app team:

        select c.call_id, h.version, h.prompt_hash, h.prompt
        from retell_calls c join retell_agent_versions_history h
          on h.tenant = c.tenant and h.agent_id = c.agent_id and h.version = c.agent_version
         and h.valid_from <= c.start_utc and (h.valid_to is null or h.valid_to > c.start_utc)
    """
    with wh.engine.connect() as conn:
        call = conn.execute(
            sa.select(retell_calls.c.agent_id, retell_calls.c.agent_version, retell_calls.c.start_utc).where(
                retell_calls.c.tenant == tenant, retell_calls.c.call_id == call_id
            )
        ).first()
    if call is None or call.agent_id is None or call.agent_version is None:
        return None
    if call.start_utc is not None:
        found = rows_at(
            wh,
            "retell_agent_versions",
            call.start_utc,
            tenant=tenant,
            agent_id=call.agent_id,
            version=call.agent_version,
        )
        if found:
            return found[0]
    t = retell_agent_versions
    with wh.engine.connect() as conn:
        rows = _dicts(
            conn.execute(
                sa.select(t).where(
                    t.c.tenant == tenant, t.c.agent_id == call.agent_id, t.c.version == call.agent_version
                )
            )
        )
    return rows[0] if rows else None


# ---- `askpro history phone NUMBER --at TIME` ----------------------------------------------------


def parse_instant(text: str | None) -> dt.datetime:
    """ISO time, UTC unless it carries an offset; now when not given."""
    if not text:
        return dt.datetime.now(dt.UTC)
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _describe(chain: ChainAt) -> list[str]:
    a, v, et = chain.assignment, chain.agent_version, chain.event_type
    agent = f"{a['agent_id']} {a['agent_name'] or ''}".strip() if a["agent_id"] else "(no agent)"
    lines = [f"{chain.phone_number}  tenant {chain.tenant}  as of {chain.at.isoformat()}"]
    lines.append(
        f"  agent:       {agent}, bound to {a['agent_version']}, answering with version {a['agent_version_resolved']}"
    )
    if v is not None:
        published = "published" if v["is_published"] else "draft"
        lines.append(
            f"  version:     {v['version']} {v['version_title'] or ''} ({published}), LLM {v['llm_id']} v{v['llm_version']}"
        )
        lines.append(f"  prompt:      sha256 {v['prompt_hash']}  (since {v['valid_from'].isoformat()})")
    else:
        lines.append("  version:     not in the history at that time")
    lines.append(f"  branch:      {a['branch_id'] or '-'} {a['branch_name'] or ''}".rstrip())
    if et is not None:
        lines.append(f"  event type:  {et['event_type_id']} {et['title']} ({et['length_minutes']} min)")
    else:
        lines.append(f"  event type:  {a['event_type_id'] or '-'} (not in Cal.com at that time)")
    staff = ", ".join(f"{s['name'] or s['staff_id']} ({s['role']})" for s in chain.staff) or "-"
    lines.append(f"  staff:       {staff}")
    return lines


def cmd_history_phone(url: str, number: str, at: str | None, tenant: str | None = None) -> int:
    """Print the number's chain at the instant; exit 1 when the history has nothing for it."""
    wh = Warehouse.from_url(url)
    try:
        moment = parse_instant(at)
        chains = phone_chain_at(wh, number, moment, tenant)
    finally:
        wh.dispose()
    if not chains:
        print(f"{number}: no assignment in the history at {moment.isoformat()}")
        return 1
    for chain in chains:
        print("\n".join(_describe(chain)))
    return 0


def summarize(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Version counts of one table's history for a tenant: all, open, closed as changed / deleted."""
    counts = {"versions": 0, "open": 0, "changed": 0, "deleted": 0}
    for row in rows:
        counts["versions"] += 1
        if row["valid_to"] is None:
            counts["open"] += 1
        elif row["change_kind"] in ("changed", "deleted"):
            counts[row["change_kind"]] += 1
    return counts

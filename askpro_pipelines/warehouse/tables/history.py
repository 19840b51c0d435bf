"""History (slowly changing dimensions, type 2) of the mirror's dimensions, and the quarantine."""

import sqlalchemy as sa

from askpro_pipelines.warehouse.tables.base import UtcDateTime, metadata
from askpro_pipelines.warehouse.tables.mirror import CONTRACTS

# ---- history (slowly changing dimensions, type 2) and quarantine --------------------------------

# The dimension tables whose every version is kept; facts are replaced per day and need none.
HISTORY_TABLES = (
    "calcom_event_types",
    "staff",
    "staff_event_types",
    "working_hours",
    "working_hour_overrides",
    "retell_agents",
    "retell_agent_versions",
    "retell_phone_numbers",
    "phone_assignments",
)
CHANGED, DELETED = "changed", "deleted"


def history_name(table: str) -> str:
    return f"{table}_history"


def _history_table(current: sa.Table, key: tuple[str, ...]) -> sa.Table:
    """`<table>_history`: the current table's columns (without synced_at) plus a validity interval."""
    copied = [
        sa.Column(c.name, c.type, nullable=c.nullable, comment=c.comment, doc=c.doc)
        for c in current.columns
        if c.name != "synced_at"
    ]
    return sa.Table(
        history_name(current.name),
        metadata,
        *copied,
        sa.Column("valid_from", UtcDateTime(), nullable=False, comment="when the sync first saw these values (UTC)"),
        sa.Column("valid_to", UtcDateTime(), comment="when they stopped holding; null while current"),
        sa.Column("change_kind", sa.String(8), comment="why the version closed: changed | deleted (at the source)"),
        sa.Column(
            "is_current", sa.Boolean, nullable=False, doc="true for the version that holds now (valid_to is null)"
        ),
        sa.Index(f"ix_{current.name}_history_key", *key, "valid_from"),
    )


HISTORY: dict[str, sa.Table] = {
    name: _history_table(CONTRACTS[name].table, CONTRACTS[name].key) for name in HISTORY_TABLES
}

quarantined_records = sa.Table(
    "quarantined_records",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("api", sa.String(16), nullable=False, comment="calcom | retell"),
    sa.Column("entity", sa.String(32), nullable=False, comment="event_types, schedules, agents, calls, ..."),
    sa.Column("scope", sa.String(16), nullable=False, comment="'' for dimensions; the day for facts listed per day"),
    sa.Column(
        "record_id",
        sa.String(128),
        nullable=False,
        comment="the record's id, or payload:<sha1> when the id itself is unreadable",
    ),
    sa.Column("error", sa.Text, nullable=False, comment="field paths and messages, no values"),
    sa.Column("payload", sa.JSON, comment="the record as received, secrets redacted"),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant", "entity", "scope", "record_id", name="uq_quarantined_records_record"),
)

"""History of every dimension (type 2), the quarantine table, and each agent version's prompt.

Revision ID: 0002_history_quarantine
Revises: 0001_baseline

The history tables are seeded from the current rows (valid from their synced_at), so a warehouse
upgraded from the first release has one open version per row from the start.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from askpro_pipelines.warehouse.migrations import baseline_schema

revision = "0002_history_quarantine"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

_INSTANT = sa.DateTime(timezone=True)
# table -> its natural key, as of this revision
_HISTORY_KEYS = {
    "calcom_event_types": ("tenant", "event_type_id"),
    "staff": ("tenant", "staff_id"),
    "staff_event_types": ("tenant", "staff_id", "event_type_id"),
    "working_hours": ("tenant", "staff_id", "schedule_id", "weekday", "start_time"),
    "working_hour_overrides": ("tenant", "staff_id", "schedule_id", "date", "start_time"),
    "retell_agents": ("tenant", "agent_id"),
    "retell_agent_versions": ("tenant", "agent_id", "version"),
    "retell_phone_numbers": ("tenant", "phone_number"),
    "phone_assignments": ("tenant", "phone_number", "branch_id"),
}
_PROMPT_COMMENT = "this version's general prompt + state prompts, secrets redacted (added in 0002)"


def _content_columns(table: str) -> list[sa.Column[Any]]:
    columns = [
        sa.Column(c.name, c.type, nullable=c.nullable, comment=c.comment)
        for c in baseline_schema.metadata.tables[table].columns
        if c.name != "synced_at"
    ]
    if table == "retell_agent_versions":
        columns.append(sa.Column("prompt", sa.Text, comment=_PROMPT_COMMENT))
    return columns


def upgrade() -> None:
    op.add_column("retell_agent_versions", sa.Column("prompt", sa.Text, comment=_PROMPT_COMMENT))
    bind = op.get_bind()
    for table, key in _HISTORY_KEYS.items():
        content = _content_columns(table)
        names = [c.name for c in content]
        history = op.create_table(
            f"{table}_history",
            *content,
            sa.Column("valid_from", _INSTANT, nullable=False, comment="when the sync first saw these values (UTC)"),
            sa.Column("valid_to", _INSTANT, comment="when they stopped holding; null while current"),
            sa.Column("change_kind", sa.String(8), comment="why the version closed: changed | deleted (at the source)"),
            sa.Column("is_current", sa.Boolean, nullable=False),
        )
        op.create_index(f"ix_{table}_history_key", f"{table}_history", [*key, "valid_from"])
        current = sa.table(table, *[sa.column(n) for n in [*names, "synced_at"]])
        seed = sa.select(*[current.c[n] for n in names], current.c.synced_at, sa.null(), sa.null(), sa.true())
        bind.execute(
            history.insert().from_select([*names, "valid_from", "valid_to", "change_kind", "is_current"], seed)
        )
    op.create_table(
        "quarantined_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("api", sa.String(16), nullable=False, comment="calcom | retell"),
        sa.Column("entity", sa.String(32), nullable=False, comment="event_types, schedules, agents, calls, ..."),
        sa.Column(
            "scope", sa.String(16), nullable=False, comment="'' for dimensions; the day for facts listed per day"
        ),
        sa.Column(
            "record_id",
            sa.String(128),
            nullable=False,
            comment="the record's id, or payload:<sha1> when the id itself is unreadable",
        ),
        sa.Column("error", sa.Text, nullable=False, comment="field paths and messages, no values"),
        sa.Column("payload", sa.JSON, comment="the record as received, secrets redacted"),
        sa.Column("first_seen", _INSTANT, nullable=False),
        sa.Column("last_seen", _INSTANT, nullable=False),
        sa.UniqueConstraint("tenant", "entity", "scope", "record_id", name="uq_quarantined_records_record"),
    )


def downgrade() -> None:
    op.drop_table("quarantined_records")
    for table in reversed(list(_HISTORY_KEYS)):
        op.drop_table(f"{table}_history")
    with op.batch_alter_table("retell_agent_versions") as batch:
        batch.drop_column("prompt")

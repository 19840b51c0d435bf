"""Availability snapshots (branch_availability, staff_utilisation) and the prompt push audit (prompt_pushes).

Revision ID: 0004_availability_prompt_pushes
Revises: 0003_api_shapes

New tables only; they start empty (the branch_availability asset and `askpro prompts push` fill them).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_availability_prompt_pushes"
down_revision = "0003_api_shapes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "branch_availability",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("branch_id", sa.String(64), nullable=False),
        sa.Column("event_type_id", sa.String(64), nullable=False),
        sa.Column("slots", sa.JSON),
        sa.Column("free_slots", sa.Integer, nullable=False),
        sa.Column("available_minutes", sa.Integer, nullable=False),
        sa.Column("booked_minutes", sa.Integer, nullable=False),
        sa.Column("utilisation", sa.Float),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_branch_availability_key", "branch_availability", ["tenant", "day", "branch_id"])
    op.create_table(
        "staff_utilisation",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("available_minutes", sa.Integer, nullable=False),
        sa.Column("booked_minutes", sa.Integer, nullable=False),
        sa.Column("utilisation", sa.Float),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_utilisation_key", "staff_utilisation", ["tenant", "day", "staff_id"])
    op.create_table(
        "prompt_pushes",
        sa.Column("push_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("llm_id", sa.String(64)),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("published_version_before", sa.Integer),
        sa.Column("draft_version_before", sa.Integer),
        sa.Column("draft_modified_before", sa.BigInteger),
        sa.Column("draft_version_after", sa.Integer),
        sa.Column("published_version", sa.Integer),
        sa.Column("repointed_numbers", sa.JSON),
        sa.Column("diff", sa.Text),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("steps", sa.JSON),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_prompt_pushes_agent", "prompt_pushes", ["tenant", "agent_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_prompt_pushes_agent", table_name="prompt_pushes")
    op.drop_table("prompt_pushes")
    op.drop_index("ix_staff_utilisation_key", table_name="staff_utilisation")
    op.drop_table("staff_utilisation")
    op.drop_index("ix_branch_availability_key", table_name="branch_availability")
    op.drop_table("branch_availability")

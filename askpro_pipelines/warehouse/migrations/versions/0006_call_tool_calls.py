"""retell_call_transcripts.tool_calls: the tool calls of each call, for the call analysis.

Revision ID: 0006_call_tool_calls
Revises: 0005_analytics

The column starts empty; the next sync of a day fetches its calls' tool calls once (a stored
transcript without them is not reused).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_call_tool_calls"
down_revision = "0005_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("retell_call_transcripts", sa.Column("tool_calls", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("retell_call_transcripts") as batch:
        batch.drop_column("tool_calls")

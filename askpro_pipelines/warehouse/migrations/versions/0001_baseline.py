"""Baseline: the schema of the first release (tables created by `create_all` before migrations).

Revision ID: 0001_baseline
Revises:
"""

from alembic import op

from askpro_pipelines.warehouse.migrations import baseline_schema

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # checkfirst: a first-release warehouse may hold some of these already (the webhook receiver
    # creates webhook_events on its own); adoption stamps this revision after filling the gaps.
    baseline_schema.metadata.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    baseline_schema.metadata.drop_all(op.get_bind())

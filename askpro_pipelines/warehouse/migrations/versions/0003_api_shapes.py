"""The response shapes each sync saw per tenant and endpoint, for drift detection (askpro_pipelines/drift.py).

Revision ID: 0003_api_shapes
Revises: 0002_history_quarantine

A derived table: each sync replaces a tenant's rows per asset, so it starts empty.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_api_shapes"
down_revision = "0002_history_quarantine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_shapes",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("api", sa.String(16), nullable=False, comment="calcom | retell"),
        sa.Column("endpoint", sa.String(128), nullable=False, comment="path template, e.g. /v3/list-calls"),
        sa.Column("asset", sa.String(64), nullable=False, comment="the asset whose sync read the endpoint"),
        sa.Column(
            "kind",
            sa.String(16),
            nullable=False,
            comment="key | value (of an enum-like field) | missing (expected key)",
        ),
        sa.Column("field", sa.String(255), nullable=False, comment="the key, or the enum field's path"),
        sa.Column("value", sa.String(255), nullable=False, comment="the enum value; '' for keys"),
        sa.Column("known", sa.Boolean, nullable=False, comment="whether the models know it (always false for missing)"),
        sa.Column("records", sa.Integer, nullable=False, comment="records that showed it"),
        sa.Column("example_record_id", sa.String(128)),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_shapes_tenant_asset", "api_shapes", ["tenant", "asset"])


def downgrade() -> None:
    op.drop_index("ix_api_shapes_tenant_asset", table_name="api_shapes")
    op.drop_table("api_shapes")

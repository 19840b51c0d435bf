"""The raw per-step request figures behind api_health: api_request_stats.

Revision ID: 0007_api_request_stats
Revises: 0006_call_tool_calls

A new table only; it starts empty (the HTTP layer's figures are flushed into it after each step).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_api_request_stats"
down_revision = "0006_call_tool_calls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_request_stats",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("api", sa.String(16), nullable=False),
        sa.Column("step_key", sa.String(255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_request_at", sa.DateTime(timezone=True)),
        sa.Column("last_answer_at", sa.DateTime(timezone=True)),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("errors_4xx", sa.Integer, nullable=False),
        sa.Column("errors_5xx", sa.Integer, nullable=False),
        sa.Column("errors_network", sa.Integer, nullable=False),
        sa.Column("rate_limited", sa.Integer, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("breaker_opens", sa.Integer, nullable=False),
        sa.Column("budget_waits", sa.Integer, nullable=False),
        sa.Column("latency_histogram", sa.JSON, nullable=False),
        sa.Column("min_rate_limit_remaining", sa.Integer),
        sa.Column("rate_limit", sa.Integer),
        sa.Column("summarized", sa.Boolean, nullable=False),
    )
    op.create_index("ix_api_request_stats_run", "api_request_stats", ["run_id", "tenant", "api"])
    op.create_index("ix_api_request_stats_pending", "api_request_stats", ["summarized"])


def downgrade() -> None:
    op.drop_index("ix_api_request_stats_pending", table_name="api_request_stats")
    op.drop_index("ix_api_request_stats_run", table_name="api_request_stats")
    op.drop_table("api_request_stats")

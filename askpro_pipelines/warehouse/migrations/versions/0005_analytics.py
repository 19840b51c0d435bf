"""Operations analytics: call_analysis, booking_success and api_health.

Revision ID: 0005_analytics
Revises: 0004_availability_prompt_pushes

New tables only; they start empty (the analytics assets and the HTTP layer fill them).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_analytics"
down_revision = "0004_availability_prompt_pushes"
branch_labels = None
depends_on = None


def _bookkeeping() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "row_hash",
            sa.String(40),
            nullable=False,
            comment="sha1 of the row's content; unchanged rows are not rewritten",
        ),
        sa.Column(
            "synced_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="when this row was last inserted or changed (UTC)",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "call_analysis",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16)),
        sa.Column("agent_id", sa.String(64)),
        sa.Column("agent_version", sa.Integer),
        sa.Column("branch_id", sa.String(64)),
        sa.Column("language", sa.String(8)),
        sa.Column("intent", sa.String(16), nullable=False),
        sa.Column("booking_tool_generation", sa.String(16)),
        sa.Column("availability_checked", sa.Boolean, nullable=False),
        sa.Column("booking_tool_called", sa.Boolean, nullable=False),
        sa.Column("booking_result", sa.String(16)),
        sa.Column("booked_uid", sa.String(64)),
        sa.Column("calcom_booking_uid", sa.String(64)),
        sa.Column("booking_confirmed", sa.Boolean),
        sa.Column("disconnection_reason", sa.String(64)),
        sa.Column("transferred", sa.Boolean, nullable=False),
        sa.Column("silent", sa.Boolean, nullable=False),
        sa.Column("abandoned", sa.Boolean, nullable=False),
        sa.Column("duration_ms", sa.BigInteger),
        sa.Column("call_successful", sa.Boolean),
        sa.Column("user_sentiment", sa.String(16)),
        sa.Column("call_summary", sa.Text),
        *_bookkeeping(),
    )
    op.create_index("ix_call_analysis_key", "call_analysis", ["tenant", "day", "call_id"])
    op.create_table(
        "booking_success",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("grouping", sa.String(16), nullable=False),
        sa.Column("group_key", sa.String(160), nullable=False),
        sa.Column("branch_id", sa.String(64)),
        sa.Column("agent_id", sa.String(64)),
        sa.Column("agent_version", sa.Integer),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("calls_tried_to_book", sa.Integer, nullable=False),
        sa.Column("bookings_from_calls", sa.Integer, nullable=False),
        sa.Column("bookings_from_calls_cancelled", sa.Integer, nullable=False),
        sa.Column("bookings_from_calls_rescheduled", sa.Integer, nullable=False),
        sa.Column("success_rate", sa.Float),
        sa.Column("median_call_seconds", sa.Float),
        sa.Column("transfer_share", sa.Float),
        sa.Column("hangup_share", sa.Float),
        *_bookkeeping(),
    )
    op.create_index("ix_booking_success_key", "booking_success", ["tenant", "day", "grouping", "group_key"])
    op.create_table(
        "api_health",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("api", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("errors_4xx", sa.Integer, nullable=False),
        sa.Column("errors_5xx", sa.Integer, nullable=False),
        sa.Column("errors_network", sa.Integer, nullable=False),
        sa.Column("rate_limited", sa.Integer, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("breaker_opens", sa.Integer, nullable=False),
        sa.Column("budget_waits", sa.Integer, nullable=False),
        sa.Column("latency_p50_ms", sa.Float),
        sa.Column("latency_p95_ms", sa.Float),
        sa.Column("min_rate_limit_remaining", sa.Integer),
        sa.Column("rate_limit", sa.Integer),
    )
    op.create_index("ix_api_health_key", "api_health", ["tenant", "api", "started_at"])
    op.create_index("ix_api_health_run", "api_health", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_api_health_run", table_name="api_health")
    op.drop_index("ix_api_health_key", table_name="api_health")
    op.drop_table("api_health")
    op.drop_index("ix_booking_success_key", table_name="booking_success")
    op.drop_table("booking_success")
    op.drop_index("ix_call_analysis_key", table_name="call_analysis")
    op.drop_table("call_analysis")

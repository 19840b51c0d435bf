"""Dashboard links: a `dashboard_url` column on the Cal.com and Retell dimensions and their history.

Revision ID: 0008_dashboard_links
Revises: 0007_api_request_stats

Nullable: rows synced before this revision keep null until the next sync fills them (the tenant's
dashboard bases come from the tenants file, which the database does not know). Their history
versions keep null too: the links were not recorded then.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_dashboard_links"
down_revision = "0007_api_request_stats"
branch_labels = None
depends_on = None

# the dimension tables whose rows carry a dashboard page, as of this revision
_TABLES = (
    "calcom_event_types",
    "staff",
    "working_hours",
    "working_hour_overrides",
    "retell_agents",
    "retell_agent_versions",
    "retell_phone_numbers",
)


def _tables() -> list[str]:
    return [name for table in _TABLES for name in (table, f"{table}_history")]


def upgrade() -> None:
    for name in _tables():
        op.add_column(name, sa.Column("dashboard_url", sa.Text))


def downgrade() -> None:
    for name in reversed(_tables()):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("dashboard_url")

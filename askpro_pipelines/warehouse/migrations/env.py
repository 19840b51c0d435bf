"""Alembic environment: always run on a connection handed over by warehouse/migrate.py.

No alembic.ini and no URL here: the warehouse URL is the application's (ASKPRO_WAREHOUSE_URL or
the resource's config), so migrations run against exactly the database the sync writes.
"""

from alembic import context

from askpro_pipelines.warehouse.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table when a migration needs it.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

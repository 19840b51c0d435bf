"""Retell dimension tables, one partition per tenant."""

from collections.abc import Iterator, Mapping
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    asset,
    multi_asset,
)

from askpro_pipelines.assets.facts import ClientPerTenant, fact_metadata, tenant_days
from askpro_pipelines.assets.landing import webhook_events
from askpro_pipelines.assets.table_metadata import dashboard_metadata, table_metadata
from askpro_pipelines.models.retell import AGENTS, LLMS, PHONE_NUMBERS
from askpro_pipelines.partitions import (
    day_window,
    tenant_day_partitions,
    tenant_partitions,
)
from askpro_pipelines.resources.retell import CALLS, RetellResource
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.warehouse.day_stream import DayStream
from askpro_pipelines.warehouse.quarantine import settle_log
from askpro_pipelines.warehouse.rows import (
    agent_version_rows,
    call_rows,
    known_transcripts,
    latest_agent_rows,
    phone_number_rows,
    readable_versions,
    stored_versions,
)
from askpro_pipelines.warehouse.shapes import replace_shapes

GROUP = "retell"
KINDS = {"retell", "sql"}
POOL = "retell_api"


def _agent_label(row: Mapping[str, Any]) -> str:
    return f"{row['agent_name'] or 'agent'} ({row['agent_id']})"


@multi_asset(
    specs=[
        AssetSpec(
            "retell_agents",
            description="Retell agents at their latest version: voice, language, LLM, redacted prompt and its hash.",
            kinds=KINDS,
        ),
        AssetSpec(
            "retell_agent_versions",
            description="Every version of every agent: published flag, modified time, prompt hash.",
            kinds=KINDS,
        ),
    ],
    partitions_def=tenant_partitions,
    group_name=GROUP,
    pool=POOL,
    can_subset=True,
)
def retell_agent_tables(
    context: AssetExecutionContext, retell: RetellResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> Iterator[MaterializeResult[Any]]:
    """One pass over the agents (and their LLMs) feeds both tables."""
    tenant = tenants.get(context.partition_key)
    client = retell.client_for(tenant)
    stored = stored_versions(warehouse.warehouse, tenant.slug)
    versions, touched = readable_versions(client.agent_versions(stored), client.rejected.ids(LLMS))
    links = tenant.dashboard_links()
    tables = {
        "retell_agents": latest_agent_rows(
            [v for v in versions if v.agent_id not in touched], client.agent_tags, links
        ),
        "retell_agent_versions": list(agent_version_rows(versions, links)),
    }
    replace_shapes(warehouse.warehouse, tenant.slug, "retell_agents", client.shapes.rows())
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    held = {"agent_id": client.rejected.ids(AGENTS) | touched}
    quarantined = settle_log(warehouse.warehouse, tenant.slug, "retell", client.rejected, [AGENTS, LLMS])
    for table, rows in tables.items():
        if table in selected:
            stats = warehouse.warehouse.replace_slice(table, tenant.slug, rows, keep=held)
            pages = dashboard_metadata(links.retell.agents(), rows, _agent_label)
            yield MaterializeResult(
                asset_key=table,
                metadata=table_metadata(
                    stats, warehouse.display_url, extra={**client.metadata(), **quarantined, **pages}
                ),
            )


@asset(
    partitions_def=tenant_partitions,
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    description="Retell phone numbers (E.164) with their inbound/outbound agent, version or tag, and weights.",
)
def retell_phone_numbers(
    context: AssetExecutionContext, retell: RetellResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> MaterializeResult[Any]:
    tenant = tenants.get(context.partition_key)
    client = retell.client_for(tenant)
    links = tenant.dashboard_links()
    rows = list(phone_number_rows(client.phone_numbers(), links))
    held = {"phone_number": client.rejected.ids(PHONE_NUMBERS)}
    stats = warehouse.warehouse.replace_slice("retell_phone_numbers", tenant.slug, rows, keep=held)
    quarantined = settle_log(warehouse.warehouse, tenant.slug, "retell", client.rejected, [PHONE_NUMBERS])
    replace_shapes(warehouse.warehouse, tenant.slug, "retell_phone_numbers", client.shapes.rows())
    pages = dashboard_metadata(links.retell.phone_numbers(), rows, lambda r: str(r["phone_number"]))
    return MaterializeResult(
        metadata=table_metadata(stats, warehouse.display_url, extra={**client.metadata(), **quarantined, **pages})
    )


@multi_asset(
    specs=[
        AssetSpec(
            "retell_calls",
            deps=[webhook_events, "retell_agent_versions"],
            description="Retell calls by start day (tenant-local): agent + version, numbers, status, cost, analysis.",
            kinds=KINDS,
        ),
        AssetSpec(
            "retell_call_transcripts",
            deps=[webhook_events],
            description="Call transcripts (secrets redacted), one row per call, kept apart from the call facts.",
            kinds=KINDS,
        ),
    ],
    partitions_def=tenant_day_partitions,
    group_name=GROUP,
    pool=POOL,
    backfill_policy=BackfillPolicy.single_run(),
    can_subset=True,
)
def retell_call_tables(
    context: AssetExecutionContext, retell: RetellResource, warehouse: WarehouseResource, tenants: TenantsResource
) -> Iterator[MaterializeResult[Any]]:
    """One listing per day feeds both tables; a day range runs day by day in one run. Each listing
    page is written as it arrives (the day's write stays one transaction), while the next page's
    transcripts are fetched: memory does not grow with the calls of a day."""
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    clients = ClientPerTenant(retell.client_for)
    written: dict[str, list[Any]] = {"retell_calls": [], "retell_call_transcripts": []}
    with_transcripts = "retell_call_transcripts" in selected
    tables = [table for table in written if table in selected]
    wh = warehouse.warehouse
    for tenant, days in groupby(tenant_days(context, tenants.get), key=lambda pair: pair[0]):
        windows = [(day, *day_window(day, tenant.timezone)) for _, day in days]
        known = partial(known_transcripts, wh, tenant.slug)
        client = clients(tenant)
        pages = client.call_pages_by_window(windows, with_transcripts, known)
        for day, day_pages in groupby(pages, key=itemgetter(0)):
            with DayStream(wh, tenant.slug, day, tables) as stream:
                for _, calls in day_pages:
                    rows = dict(zip(written, call_rows(calls), strict=True))
                    for table in tables:
                        stream.add(table, rows[table])
                held = {"call_id": client.rejected.ids(CALLS, str(day))}  # known once the day is read
                for table in tables:
                    stream.hold(table, held)
            for table in tables:
                written[table].append(stream.stats[table])
            # after the day's commit: on SQLite a second writer would wait for the stream's lock
            settle_log(wh, tenant.slug, "retell", client.rejected, [CALLS], scope=str(day))
    for slug, client in clients.items():
        replace_shapes(wh, slug, "retell_calls", client.shapes.rows())
    requests = {k: v for c in clients.values() for k, v in c.metadata().items()}
    for table, stats in written.items():
        if table in selected:
            yield MaterializeResult(
                asset_key=table, metadata=fact_metadata(table, stats, warehouse.display_url, requests)
            )


retell_assets = [retell_agent_tables, retell_phone_numbers, retell_call_tables]

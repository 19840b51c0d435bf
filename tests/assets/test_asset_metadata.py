"""What ops staff read on an asset page: the phone chain, per-day outcome figures, reset times.

Real syncs of the test tenants against the simulator, on SQLite and PostgreSQL; the metadata is
read back from the instance as the UI reads it.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from dagster import AssetKey, AssetRecordsFilter, MetadataValue

from askpro_pipelines.models.links import DashboardLinks
from askpro_pipelines.partitions import tenant_day_key

TENANT = "praxis-v2"


def _latest(instance, asset: str, partition: str | None = None):
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition] if partition else None), limit=1
    ).records
    return records[0].asset_materialization.metadata


def test_phone_assignments_show_the_chain_as_a_table(sync, warehouse_env):
    assert sync(tenant_slugs=[TENANT]).success
    metadata = _latest(sync.instance, "phone_assignments")
    chain = metadata["phone_chain"]
    assert isinstance(chain, type(MetadataValue.md("")))
    lines = chain.md_str.splitlines()
    assert (
        lines[0].startswith("| phone number | → agent + version |")
        and "→ branch" in lines[0]
        and "→ event type" in lines[0]
    )
    engine = sa.create_engine(warehouse_env)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select phone_number, agent_id, branch_id, branch_name, event_type_id from phone_assignments where tenant = :t"
            ),
            {"t": TENANT},
        ).all()
    engine.dispose()
    assert rows and len(lines) == 2 + len(rows)
    mitte = next(line for line in lines if line.startswith("| [+4930123456701](https://dashboard.retellai.com/"))
    assert "Praxis Mitte (mitte)" in mitte and "(1001)" in mitte
    agent = next(r.agent_id for r in rows if r.phone_number == "+4930123456701")
    assert agent and f"({agent})" in mitte
    columns = {c.name: c.description for c in metadata["dagster/column_schema"].schema.columns}
    assert columns["branch_id"] and columns["tenant"] and columns["row_hash"]


def test_booking_outcomes_figures_are_numbers_per_day(sync, warehouse_env):
    last = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() - dt.timedelta(days=1)
    days = [last - dt.timedelta(days=1), last]
    assert sync(tenant_slugs=[TENANT], days=2, until=last).success  # one range run over both days
    engine = sa.create_engine(warehouse_env)
    for day in days:
        with engine.connect() as conn:
            calls, linked, bookings = conn.execute(
                sa.text(
                    "select sum(inbound_calls), sum(calls_with_booking), sum(bookings_created) "
                    "from booking_outcomes where tenant = :t and day = :d"
                ),
                {"t": TENANT, "d": day},
            ).one()
        figures = _latest(sync.instance, "booking_outcomes", str(tenant_day_key(TENANT, day)))
        assert figures["calls"] == MetadataValue.int(calls), day
        assert figures["linked"] == MetadataValue.int(linked), day
        assert figures["bookings"] == MetadataValue.int(bookings), day
        if calls:
            assert figures["rate"] == MetadataValue.float(round(linked / calls, 4)), day
        else:
            assert "rate" not in figures
    engine.dispose()


def test_rate_limit_resets_are_timestamps(sync):
    assert sync(tenant_slugs=["praxis-v2", "praxis-v1"], select=["calcom_event_types"]).success
    metadata = _latest(sync.instance, "calcom_event_types")
    resets = {k: v for k, v in metadata.items() if "/ratelimit/" in k and "reset" in k}
    assert resets, sorted(metadata)
    for key, value in resets.items():
        assert isinstance(value, type(MetadataValue.timestamp(0.0))), key
        assert dt.datetime.fromtimestamp(value.value, dt.UTC).year >= 2023, key  # an instant, not a raw count
    remaining = [v for k, v in metadata.items() if "/ratelimit/" in k and "remaining" in k]
    assert remaining and not any(isinstance(v, type(MetadataValue.timestamp(0.0))) for v in remaining)


def test_the_chain_says_draft_unresolved_and_unassigned():
    from askpro_pipelines.assets.askpro import chain_table

    base = {
        "agent_id": "agent_1",
        "agent_name": "Empfang",
        "branch_id": "mitte",
        "branch_name": "Mitte",
        "event_type_id": "1001",
        "event_type_title": "Erstbehandlung",
        "hosting_staff_count": 2,
    }
    rows = [
        {
            **base,
            "phone_number": "+491",
            "agent_version": "3",
            "agent_version_resolved": 3,
            "agent_version_published": False,
        },
        {
            **base,
            "phone_number": "+492",
            "agent_version": "prod",
            "agent_version_resolved": None,
            "agent_version_published": None,
        },
        {
            **base,
            "phone_number": "+493",
            "agent_id": None,
            "agent_name": None,
            "agent_version": None,
            "agent_version_resolved": None,
            "agent_version_published": None,
            "branch_id": None,
            "branch_name": None,
            "event_type_id": None,
            "event_type_title": None,
            "hosting_staff_count": None,
        },
    ]
    lines = chain_table(rows, DashboardLinks()).md_str.splitlines()[2:]
    numbers, agent = "https://dashboard.retellai.com/phone-numbers", "https://dashboard.retellai.com/agents/agent_1"
    assert lines[0] == (
        f"| [+491]({numbers}) | [Empfang (agent_1)]({agent}), v3 draft | Mitte (mitte) "
        "| [Erstbehandlung (1001)](https://app.cal.com/event-types/1001) | 2 |"
    )
    assert lines[1].startswith(f"| [+492]({numbers}) | [Empfang (agent_1)]({agent}), prod → unresolved |")
    assert lines[2] == f"| [+493]({numbers}) | - | - | - | - |"


def test_only_reset_instants_become_timestamps():
    from askpro_pipelines.assets.table_metadata import request_metadata

    shown = request_metadata(
        {
            "calcom/requests": 3,
            "calcom/ratelimit/x-ratelimit-reset": "1700000060",
            "calcom/ratelimit/x-ratelimit-reset-default": "1700000060000",  # milliseconds
            "retell/ratelimit/x-ratelimit-reset": "42",  # seconds until the reset, not an instant
            "calcom/ratelimit/x-ratelimit-remaining": "97",
        }
    )
    assert shown["calcom/ratelimit/x-ratelimit-reset"] == MetadataValue.timestamp(1700000060.0)
    assert shown["calcom/ratelimit/x-ratelimit-reset-default"] == MetadataValue.timestamp(1700000060.0)
    assert shown["retell/ratelimit/x-ratelimit-reset"] == "42"
    assert shown["calcom/ratelimit/x-ratelimit-remaining"] == "97" and shown["calcom/requests"] == 3

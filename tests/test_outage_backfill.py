"""The whole webhook path end to end, then an outage and a backfill.

Day 1 arrives as signed webhooks through the receiver, the sensor turns them into runs. Then the
receiver is down and the APIs fail for two days, so the scheduled syncs fail too. After the
outage, `askpro backfill` re-syncs the three days; the fact tables then equal those of a run that
never had an outage.
"""

import datetime as dt
import os
import time

import httpx
import sqlalchemy as sa
from dagster import DagsterInstance, build_sensor_context

from askpro_pipelines.cli import main
from askpro_pipelines.definitions import defs
from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.resources.warehouse import WarehouseResource
from askpro_pipelines.sensors.webhooks import (
    calcom_webhook_sensor,
    retell_webhook_sensor,
)
from askpro_pipelines.sync import FACT_ASSETS, run_sync
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.tables import CONTRACTS
from askpro_pipelines.webhooks.server import ReceiverThread
from askpro_pipelines.webhooks.signatures import retell_signature
from askpro_pipelines.webhooks.store import WebhookStore
from askpro_simulator.server import Fault
from askpro_simulator.webhooks import deliveries_for_day

DAYS = [dt.date(2026, 11, 16), dt.date(2026, 11, 17), dt.date(2026, 11, 18)]
FAST = {
    "resources": {
        "calcom": {"config": {"backoff_base_s": 0.01, "max_attempts": 2}},
        "retell": {"config": {"backoff_base_s": 0.01, "max_attempts": 2}},
    }
}


def _facts(url: str) -> dict[str, list[tuple]]:
    """Fact rows of DAYS by natural key and content hash (synced_at differs by design)."""
    engine = sa.create_engine(url)
    snapshot = {}
    with engine.connect() as conn:
        for name in FACT_ASSETS:
            contract = CONTRACTS[name]
            t = contract.table
            columns = [t.c.tenant, t.c.day, *[t.c[k] for k in contract.row_key], t.c.row_hash]
            rows = conn.execute(sa.select(*columns).where(t.c.day.in_(DAYS))).all()
            snapshot[name] = sorted(tuple(str(v) for v in row) for row in rows)
    engine.dispose()
    return snapshot


def _deliver(receiver_url: str, simulator, day: dt.date) -> int:
    config = load_tenants()
    sent = 0
    with httpx.Client(timeout=10) as client:
        for tenant in config.tenants:
            secret = os.environ[tenant.calcom.webhook_secret_env]
            key = os.environ[tenant.retell.api_key_env]
            for provider, body, headers in deliveries_for_day(simulator.world, tenant.slug, day, secret, key):
                if provider == "retell":  # replayed now: Retell signatures are only valid for 5 minutes
                    headers = {**headers, "x-retell-signature": retell_signature(key, body, int(time.time() * 1000))}
                response = client.post(
                    f"{receiver_url}/webhooks/{provider}/{tenant.slug}", content=body, headers=headers
                )
                assert response.status_code == 200, response.text
                sent += 1
    return sent


def _drain_sensors(instance, url):
    """Tick both sensors, execute what they request (as the daemon would), settle; until quiet."""
    resources = {"warehouse": WarehouseResource(url=url), "tenants": TenantsResource()}
    cursors: dict[str, str | None] = {}
    for _ in range(4):
        requested = 0
        for sensor in (calcom_webhook_sensor, retell_webhook_sensor):
            with build_sensor_context(
                instance=instance, cursor=cursors.get(sensor.name), resources=resources
            ) as context:
                result = sensor(context)
            cursors[sensor.name] = result.cursor
            for request in result.run_requests:
                requested += 1
                job = defs.resolve_job_def(request.job_name)
                outcome = job.execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    asset_selection=request.asset_selection,
                    tags={**request.tags, "dagster/run_key": request.run_key},
                    run_config=FAST,
                    raise_on_error=False,
                )
                assert outcome.success
        if not requested:
            return


def test_outage_then_backfill_equals_a_run_without_outage(
    simulator, tenants_file, warehouse_url, tmp_path, monkeypatch
):
    config = load_tenants()
    baseline_url = f"sqlite:///{tmp_path / 'baseline.db'}"
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", baseline_url)
    baseline = run_sync(
        config, select=FACT_ASSETS, days=len(DAYS), until=DAYS[-1], instance=DagsterInstance.ephemeral()
    )
    assert baseline.success, [t.errors for t in baseline.tenants]
    expected = _facts(baseline_url)
    assert all(expected[name] for name in ("calcom_bookings", "retell_calls", "booking_outcomes"))

    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", warehouse_url)
    warehouse = Warehouse.from_url(warehouse_url)
    warehouse.create_tables()
    store = WebhookStore(warehouse.engine)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", config.slugs)

    # Day 1: webhooks land and the sensors turn them into runs.
    with ReceiverThread(store) as receiver:
        assert _deliver(receiver.url, simulator, DAYS[0]) > 20
    _drain_sensors(instance, warehouse_url)
    assert not store.pending("calcom") and not store.pending("retell")
    assert {status for (_, status) in store.counts()} == {"processed"}

    # Days 2-3: the receiver is down (deliveries are lost) and the APIs fail: the scheduled sync fails.
    for path in ("/calcom/v1/bookings", "/calcom/v2/bookings", "/retell/v3/list-calls"):
        simulator.add_fault(Fault(kind="status", status=503, path_prefix=path, count=-1))
    during = run_sync(config, select=FACT_ASSETS, days=2, until=DAYS[-1], instance=instance, run_config=FAST)
    assert not any(t.success for t in during.tenants)

    # After the outage: one backfill of the three days, through the CLI ops staff use.
    simulator.clear_faults()
    assert main(["backfill", "--from", str(DAYS[0]), "--to", str(DAYS[-1])]) == 0
    assert _facts(warehouse_url) == expected

"""Done-when test of the warehouse under a misbehaving API: 10% 5xx, 5% 429, 2% responses slower
than the timeout and 1% malformed records. The tables equal a fault-free run's except the
malformed records, and those are in quarantine. Real loopback HTTP, SQLite and PostgreSQL."""

import datetime as dt
import random
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from askpro_pipelines.warehouse.quarantine import listed
from askpro_pipelines.warehouse.store import Warehouse, create_engine
from askpro_pipelines.warehouse.tables import CONTRACTS
from askpro_simulator.server import Fault

TIMEOUT_S = 0.5


def _config(url: str) -> dict:
    api = {
        "timeout_s": TIMEOUT_S,
        "max_attempts": 8,
        "backoff_base_s": 0.01,
        "max_backoff_s": 0.05,
        # Faults here are scattered, not an outage: the breaker would only turn them into one.
        "breaker_failure_threshold": 1000,
    }
    return {"resources": {"calcom": {"config": api}, "retell": {"config": api}, "warehouse": {"config": {"url": url}}}}


def _tables(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    try:
        found = {}
        with engine.connect() as conn:
            for name, contract in CONTRACTS.items():
                columns = [c for c in contract.table.columns if c.name != "synced_at"]
                found[name] = sorted((tuple(row) for row in conn.execute(sa.select(*columns))), key=repr)
        return found
    finally:
        engine.dispose()


def _faults(paths: list[str], schedule_paths: list[str], seed: int = 7) -> list[Fault]:
    """One fault per distinct request path (a request fails once, its retry succeeds), at the
    issue's shares of all requests, plus one malformed schedule listing per tenant."""
    rng = random.Random(seed)
    candidates = sorted(set(paths) - set(schedule_paths))
    rng.shuffle(candidates)
    total = len(paths)
    shares = [("5xx", 0.10), ("429", 0.05), ("slow", 0.02)]
    faults, start = [], 0
    for kind, share in shares:
        n = max(1, round(total * share))
        for path in candidates[start : start + n]:
            if kind == "5xx":
                faults.append(Fault(kind="status", status=rng.choice([500, 502, 503, 504]), path_prefix=path))
            elif kind == "429":
                faults.append(Fault(kind="status", status=429, retry_after=0.05, path_prefix=path))
            else:
                faults.append(Fault(kind="slow", delay_s=TIMEOUT_S * 2, path_prefix=path))
        start += n
    assert start <= len(candidates), "not enough distinct paths for one fault each"
    faults += [Fault(kind="malformed", path_prefix=path) for path in schedule_paths]
    return faults


def test_faulty_api_gives_the_fault_free_tables_except_quarantined_records(sync, simulator, warehouse_env, tmp_path):
    # Yesterday's facts: complete days, so both runs read the same calls and bookings.
    yesterday = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() - dt.timedelta(days=1)
    reference = f"sqlite:///{tmp_path / 'fault-free.db'}"
    first = sync(run_config=_config(reference), until=yesterday)
    assert first.success, first
    paths = [urlsplit(path).path for _, path, _ in simulator.request_log]
    schedule_paths = sorted({p for p in paths if p.endswith("/schedules")})
    assert len(schedule_paths) == 2  # one listing per tenant (v1 and v2)

    faults = _faults(paths, schedule_paths)
    for fault in faults:
        simulator.add_fault(fault)
    report = sync(run_config=_config(warehouse_env), until=yesterday)
    assert report.success, [(t.tenant, t.errors) for t in report.tenants]
    assert simulator.faults == []  # every fault was served
    statuses = [status for _, _, status in simulator.request_log[len(paths) :]]
    assert statuses.count(429) >= len(paths) * 0.05 - 1 and sum(s >= 500 for s in statuses) >= len(paths) * 0.10 - 1

    wh = Warehouse.from_url(warehouse_env)
    try:
        held = listed(wh)
    finally:
        wh.dispose()
    assert sorted((r["tenant"], r["entity"]) for r in held) == [("praxis-v1", "schedules"), ("praxis-v2", "schedules")]
    missing = {(r["tenant"], r["record_id"]) for r in held}

    expected, got = _tables(reference), _tables(warehouse_env)
    schedule_at = {
        name: [c.name for c in CONTRACTS[name].table.columns if c.name != "synced_at"].index("schedule_id")
        for name in ("working_hours", "working_hour_overrides")
    }
    for name, rows in expected.items():
        if name in schedule_at:  # the malformed schedules' rows are the only difference
            i = schedule_at[name]
            rows = [r for r in rows if (r[0], r[i]) not in missing]
            assert len(rows) < len(expected[name]) or name == "working_hour_overrides"
        assert got[name] == rows, name

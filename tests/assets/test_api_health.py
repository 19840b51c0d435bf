"""api_health after real syncs of the demo tenants against the simulator: every figure is present
and equals what the simulator itself counted per key (its ground truth), faults included."""

import datetime as dt

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from askpro_pipelines.assets.api_health import headroom_problems
from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.tables import api_health, api_request_stats
from askpro_simulator.demo import simulator_for
from askpro_simulator.responses import Fault

WEEK_END = dt.date(2026, 11, 18)
RETRIES = {
    "resources": {
        api: {"config": {"backoff_base_s": 0.01, "max_backoff_s": 0.05, "breaker_cooldown_s": 60.0}}
        for api in ("calcom", "retell")
    }
}


@pytest.fixture
def demo(monkeypatch, sqlite_url):
    """The bundled demo tenants served by the simulator, into a fresh SQLite warehouse."""
    monkeypatch.delenv("ASKPRO_TENANTS_FILE", raising=False)
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    config = load_tenants()
    with simulator_for(config) as sim:
        yield load_tenants(), sim, Warehouse.from_url(sqlite_url)


def _rows(wh: Warehouse) -> list[dict]:
    with wh.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(api_health))]


def _sum_status(served: dict[int, int], test) -> int:
    return sum(count for status, count in served.items() if test(status))


def test_api_health_matches_the_simulators_count_per_key(demo):
    config, sim, wh = demo
    # Faults the client retries: a 503 on a Cal.com listing, a 429 on a Retell listing.
    sim.add_fault(Fault(kind="status", status=503, path_prefix="/calcom/v2/event-types", tenant="praxis-am-stadtpark"))
    sim.add_fault(Fault(kind="status", status=429, retry_after=0.01, path_prefix="/retell/", tenant="salon-schoenhaar"))

    report = run_sync(config, days=7, until=WEEK_END, instance=DagsterInstance.ephemeral(), run_config=RETRIES)

    assert report.success, [t.errors for t in report.tenants]
    assert not any("api_key_headroom" in t.warned_checks for t in report.tenants), [t.notes for t in report.tenants]
    assert not sim.faults  # both were served
    rows = _rows(wh)
    run_ids = {t.tenant: [r.run_id for r in t.runs] for t in report.tenants}
    truth = sim.served_by_key()
    for tenant in config.tenants:
        apis = ["calcom"] + (["retell"] if tenant.retell else [])
        for api in apis:
            mine = [r for r in rows if r["tenant"] == tenant.slug and r["api"] == api]
            # one row per run that sent requests: the dimension run and the week's facts run
            assert sorted(r["run_id"] for r in mine) == sorted(run_ids[tenant.slug]), (tenant.slug, api)
            served = truth[(tenant.slug, api)]
            assert sum(r["requests"] for r in mine) == sum(served.values()), (tenant.slug, api)
            assert sum(r["errors_5xx"] for r in mine) == _sum_status(served, lambda s: s >= 500)
            assert sum(r["rate_limited"] for r in mine) == served.get(429, 0)
            assert sum(r["errors_4xx"] for r in mine) == _sum_status(served, lambda s: 400 <= s < 500 and s != 429)
            assert sum(r["errors_network"] for r in mine) == 0
            # every 503 and 429 was retried once, and nothing else was
            assert sum(r["retries"] for r in mine) == _sum_status(served, lambda s: s in (429, 503))
            assert all(r["breaker_opens"] == 0 and r["budget_waits"] == 0 for r in mine)
            for r in mine:
                assert r["requests"] > 0
                assert r["started_at"] <= r["finished_at"]
                assert 0 < r["latency_p50_ms"] <= r["latency_p95_ms"] < 60_000
            if api == "calcom":
                lowest, limit = sim.lowest_rate_limit_remaining(tenant.slug)
                assert min(r["min_rate_limit_remaining"] for r in mine) == lowest
                assert {r["rate_limit"] for r in mine} == {limit}
            else:  # Retell sends no rate-limit headers
                assert all(r["min_rate_limit_remaining"] is None and r["rate_limit"] is None for r in mine)
    # the injected faults landed where they were sent
    assert truth[("praxis-am-stadtpark", "calcom")].get(503) == 1
    assert truth[("salon-schoenhaar", "retell")].get(429) == 1
    with wh.engine.connect() as conn:  # everything flushed was summed
        assert conn.execute(sa.select(sa.func.count()).where(api_request_stats.c.summarized.is_(False))).scalar() == 0


def test_headroom_check_warns_on_an_opened_breaker_and_passes_otherwise(demo):
    config, sim, wh = demo
    slug = "salon-schoenhaar"
    clean = run_sync(config, tenant_slugs=[slug], instance=DagsterInstance.ephemeral(), run_config=RETRIES)
    assert clean.success and not clean.tenants[0].warned_checks

    # Cal.com answers 503 five times: the breaker opens (threshold 5) and the dimension run fails
    # before its api_health step; the facts run's api_health sums the failed run's figures too, and warns.
    sim.add_fault(Fault(kind="status", status=503, count=5, path_prefix="/calcom/", tenant=slug))
    run_config = {
        "resources": {
            api: {"config": {"backoff_base_s": 0.01, "max_backoff_s": 0.02, "max_attempts": 8}}
            for api in ("calcom", "retell")
        }
    }
    report = run_sync(config, tenant_slugs=[slug], instance=DagsterInstance.ephemeral(), run_config=run_config)
    result = report.tenants[0]
    dimensions, facts = (run.run_id for run in result.runs)
    assert [run.success for run in result.runs] == [False, True]
    assert result.warned_checks == ["api_key_headroom"]
    note = next(n for n in result.notes if "api_key_headroom" in n)
    assert f"tenant {slug}, api calcom, run {dimensions}: circuit breaker opened 1 time(s)" in note
    assert facts not in note
    rows = {(r["run_id"], r["api"]): r for r in _rows(wh)}
    assert rows[(dimensions, "calcom")]["breaker_opens"] == 1
    assert rows[(dimensions, "calcom")]["errors_5xx"] == 5 == sim.served_by_key()[(slug, "calcom")][503]
    assert rows[(dimensions, "calcom")]["retries"] == 4  # the fifth failure opened the breaker instead
    assert rows[(facts, "calcom")]["breaker_opens"] == 0 and rows[(facts, "calcom")]["errors_5xx"] == 0


def test_headroom_rule_names_tenant_api_and_run():
    row = {"tenant": "t", "api": "calcom", "run_id": "r1", "min_rate_limit_remaining": 11, "rate_limit": 120,
           "breaker_opens": 0}  # fmt: skip
    assert headroom_problems([row]) == ["tenant t, api calcom, run r1: rate limit remaining fell to 11 of 120"]
    assert headroom_problems([{**row, "min_rate_limit_remaining": 12}]) == []  # 10 % of 120 is still headroom
    assert headroom_problems([{**row, "api": "retell"}]) == []  # Retell's headers are not Cal.com's limit
    assert headroom_problems([{**row, "min_rate_limit_remaining": None, "rate_limit": None, "breaker_opens": 2}]) == [
        "tenant t, api calcom, run r1: circuit breaker opened 2 time(s)"
    ]

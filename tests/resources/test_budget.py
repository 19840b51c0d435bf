"""The per-key request budget: one token bucket in a file, shared by threads and processes.

Rates are checked by counting grants (the clock read inside the bucket's lock at each grant), never
by timing thresholds: in any interval [t_i, t_j], the grants in it may not exceed
burst + rate * (t_j - t_i).
"""

import json
import subprocess
import sys
import threading

import httpx
import pytest

from askpro_pipelines.resources.budget import (
    BudgetExhausted,
    BudgetSettings,
    RequestBudget,
    bucket_path,
    budget_settings,
)
from askpro_pipelines.resources.http import BudgetExhaustedError, ResilientClient

RATE_PER_MINUTE = 600.0  # 10 a second
BURST = 4
PER_PROCESS = 12

_TAKER = """
import json, sys
from askpro_pipelines.resources.budget import BudgetSettings, RequestBudget
grants = []
budget = RequestBudget(sys.argv[1], BudgetSettings(float(sys.argv[2]), int(sys.argv[3])), on_grant=grants.append)
sys.stdin.readline()  # start together
for _ in range(int(sys.argv[4])):
    budget.take(wait_s=30.0)
print(json.dumps(grants))
"""


def _assert_within_rate(grants: list[float], per_s: float, burst: int) -> None:
    grants = sorted(grants)
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            allowed = burst + per_s * (grants[j] - grants[i]) + 1e-6
            assert j - i + 1 <= allowed, f"{j - i + 1} grants in {grants[j] - grants[i]:.3f} s"


def test_two_processes_together_never_exceed_the_keys_rate(tmp_path):
    path = tmp_path / "calcom-key.bucket"
    args = [str(path), str(RATE_PER_MINUTE), str(BURST), str(PER_PROCESS)]
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", _TAKER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for taker in takers:
        taker.stdin.write("go\n")
        taker.stdin.flush()
    outputs = [taker.communicate(timeout=60)[0] for taker in takers]
    assert [taker.returncode for taker in takers] == [0, 0]
    grants = [json.loads(out) for out in outputs]
    assert [len(g) for g in grants] == [PER_PROCESS, PER_PROCESS]
    every = sorted(grants[0] + grants[1])
    _assert_within_rate(every, RATE_PER_MINUTE / 60.0, BURST)
    # the pair was held to the one bucket: 24 tokens at 10/s after a burst of 4 need at least 2 s
    assert every[-1] - every[0] >= (2 * PER_PROCESS - BURST) / (RATE_PER_MINUTE / 60.0) - 1e-6


def test_threads_of_one_process_share_the_bucket_too(tmp_path):
    grants: list[float] = []
    budget = RequestBudget(tmp_path / "b.bucket", BudgetSettings(1200.0, 3), on_grant=grants.append)
    threads = [threading.Thread(target=lambda: [budget.take(10.0) for _ in range(5)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(grants) == 20
    _assert_within_rate(grants, 20.0, 3)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_take_waits_for_the_next_token_and_says_it_waited(tmp_path):
    clock = _Clock()
    budget = RequestBudget(tmp_path / "b.bucket", BudgetSettings(60.0, 2), clock=clock, sleep=clock.sleep)
    assert [budget.take(5.0), budget.take(5.0)] == [False, False]  # the burst
    assert budget.take(5.0) is True  # one a second after it
    assert clock.now == pytest.approx(1001.0)


def test_a_take_that_cannot_get_a_token_within_its_wait_fails_at_once(tmp_path):
    clock = _Clock()
    budget = RequestBudget(tmp_path / "b.bucket", BudgetSettings(1.0, 1), clock=clock, sleep=clock.sleep)
    budget.take(1.0)
    with pytest.raises(BudgetExhausted):
        budget.take(5.0)  # the next token comes in 60 s
    assert clock.now == 1000.0  # it did not sleep towards a token it could not reach


def test_a_request_without_a_token_fails_unsent_naming_tenant_api_entity_and_record(tmp_path):
    budget = RequestBudget(tmp_path / "b.bucket", BudgetSettings(1.0, 1))
    budget.take(1.0)
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json={}))
    client = ResilientClient(
        base_url="https://api.cal.com",
        tenant="praxis-v2",
        api="calcom",
        secrets=["cal_live_secret"],
        headers={"Authorization": "Bearer cal_live_secret"},
        budget=budget,
        budget_wait_s=0.5,
        http=httpx.Client(transport=transport),
    )
    with pytest.raises(BudgetExhaustedError) as raised:
        client.get_json("/v2/event-types/1001", entity="event_types", record_id="1001")
    message = str(raised.value)
    assert "[tenant=praxis-v2 api=calcom entity=event_types record=1001]" in message
    assert "request budget of 1 requests/minute (burst 1)" in message and "not sent" in message
    assert "cal_live_secret" not in message
    assert sent == [] and client.stats.requests == 0


def test_budget_waits_are_counted_by_the_client(tmp_path):
    clock = _Clock()
    budget = RequestBudget(tmp_path / "b.bucket", BudgetSettings(60.0, 1), clock=clock, sleep=clock.sleep)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    client = ResilientClient(base_url="https://x.test", tenant="t", api="calcom", secrets=[], budget=budget,
                             http=httpx.Client(transport=transport))  # fmt: skip
    for _ in range(3):
        client.get_json("/a", entity="e")
    assert (client.stats.requests, client.stats.budget_waits) == (3, 2)


def test_settings_come_from_the_tenants_file_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv("ASKPRO_CALCOM_REQUESTS_PER_MINUTE", raising=False)
    monkeypatch.delenv("ASKPRO_CALCOM_REQUEST_BURST", raising=False)
    assert budget_settings("calcom", None, None) == BudgetSettings(100.0, 10)
    monkeypatch.setenv("ASKPRO_CALCOM_REQUESTS_PER_MINUTE", "50")
    monkeypatch.setenv("ASKPRO_CALCOM_REQUEST_BURST", "3")
    assert budget_settings("calcom", None, None) == BudgetSettings(50.0, 3)
    assert budget_settings("calcom", 25.0, 2) == BudgetSettings(25.0, 2)


def test_the_bucket_file_is_named_by_a_hash_never_by_the_key(tmp_path):
    path = bucket_path("calcom", "cal_live_abc123", tmp_path)
    assert "cal_live_abc123" not in str(path) and path.parent == tmp_path
    assert bucket_path("calcom", "cal_live_abc123", tmp_path) == path != bucket_path("calcom", "other", tmp_path)

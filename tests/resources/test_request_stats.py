"""Request instrumentation against the simulator with injected faults: every counter equals what
the simulator served, in the run's process and in the detail helper processes alike."""

import pytest

from askpro_pipelines.resources.calcom import CalcomResource
from askpro_pipelines.resources.details import DetailRequest, ProcessDetails
from askpro_pipelines.resources.http import ApiError
from askpro_pipelines.resources.request_stats import RequestStats, latency_bucket, percentile_ms
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.tenants import load_tenants
from askpro_simulator.server import Fault

FAST = dict(backoff_base_s=0.01, max_backoff_s=0.02)


def _served(simulator, slug, api):
    return simulator.served_by_key().get((slug, api), {})


def test_calcom_counters_match_what_the_simulator_served(simulator):
    tenant = load_tenants().get("praxis-v2")
    resource = CalcomResource(**FAST, timeout_s=0.3, breaker_failure_threshold=50)
    client = resource.client_for(tenant)
    try:
        simulator.add_fault(Fault(kind="status", status=503, path_prefix="/calcom/v2/event-types", count=2))
        simulator.add_fault(Fault(kind="status", status=429, retry_after=0.01, path_prefix="/calcom/v2/teams"))
        list(client.event_types())
        list(client.staff())
        with pytest.raises(ApiError):  # a 404 is not retried
            client.http.get_json("/v2/event-types/999999", entity="event_types", record_id="999999")
        stats = client.stats
        served = _served(simulator, "praxis-v2", "calcom")
        assert stats.requests == sum(served.values())
        assert stats.server_errors == served[503] == 2
        assert stats.rate_limited == served[429] == 1
        assert stats.client_errors == served[404] == 1
        assert stats.retries == 2 + 1
        assert sum(stats.latency.values()) == stats.requests
        assert stats.first_at is not None and stats.first_at <= stats.last_at
        # one 60 s window: the simulator counted Remaining down from 119 once per request
        assert (stats.min_remaining, stats.rate_limit) == simulator.lowest_rate_limit_remaining("praxis-v2")
        assert stats.min_remaining == 120 - stats.requests

        # an answer slower than the timeout: a network error, then a retry
        simulator.add_fault(Fault(kind="slow", delay_s=0.6, path_prefix="/calcom/v2/me"))
        client.http.get_json("/v2/me", entity="staff")
        assert (stats.transport_errors, stats.retries) == (1, 4)
        # the simulator never finished answering it (the client hung up): it counts answers only
        assert sum(_served(simulator, "praxis-v2", "calcom").values()) == stats.requests - 1
        assert sum(stats.latency.values()) == stats.requests - 1  # no answer time for the timed-out one
    finally:
        resource.teardown_after_execution(None)
    # the resource hands the counters over once: a second take has nothing new
    taken = resource.take_request_stats()
    assert taken[("praxis-v2", "calcom")].requests == stats.requests
    assert resource.take_request_stats() == {}


def test_requests_in_the_helper_processes_are_counted_with_their_faults(simulator):
    tenant = load_tenants().get("praxis-v2")
    resource = RetellResource(**FAST, max_attempts=3, breaker_failure_threshold=50)
    client = resource.client_for(tenant)
    details = ProcessDetails(workers=4, helpers=2, small_batch=0)  # every batch to the helpers
    try:
        agents = client.http.post_json("/v2/list-agents", entity="retell_agents", json={})["items"]
        ids = [a["agent_id"] for a in agents]
        requests = [DetailRequest(f"/get-agent-versions/{ids[i % len(ids)]}", "retell_agents", ids[i % len(ids)])
                    for i in range(40)]  # fmt: skip
        simulator.add_fault(Fault(kind="status", status=500, path_prefix="/retell/get-agent-versions/", count=3))
        assert len(list(details.fetch(client.http, requests))) == 40
    finally:
        details.close()
        resource.teardown_after_execution(None)
    stats = client.stats
    served = _served(simulator, "praxis-v2", "retell")
    assert stats.requests == sum(served.values()) == 1 + 40 + 3
    assert stats.server_errors == served[500] == 3 and stats.retries == 3
    assert sum(stats.latency.values()) == stats.requests
    assert stats.min_remaining is None  # Retell sends no rate-limit headers


def test_percentiles_from_the_histogram_are_within_two_percent():
    stats = RequestStats()
    times = [float(ms) for ms in range(1, 1001)]  # 1 .. 1000 ms
    for ms in times:
        stats.note_answer(0.0, ms / 1000.0)
    assert percentile_ms(stats.latency, 0.5) == pytest.approx(500.0, rel=0.02)
    assert percentile_ms(stats.latency, 0.95) == pytest.approx(950.0, rel=0.02)
    assert percentile_ms({}, 0.5) is None
    # histograms merge exactly: two halves give the whole
    first, second = RequestStats(), RequestStats()
    for ms in times[:500]:
        first.note_answer(0.0, ms / 1000.0)
    for ms in times[500:]:
        second.note_answer(0.0, ms / 1000.0)
    first.merge(second)
    assert first.latency == stats.latency
    assert latency_bucket(0.0) == 0


def test_the_lowest_remaining_keeps_the_limit_of_the_same_header_family():
    stats = RequestStats()
    stats.note_headers({"x-ratelimit-remaining-default": "40", "x-ratelimit-limit-default": "120"})
    stats.note_headers({"x-ratelimit-limit": "30", "x-ratelimit-remaining": "7"})
    stats.note_headers({"x-ratelimit-remaining-default": "39", "x-ratelimit-limit-default": "120"})
    assert (stats.min_remaining, stats.rate_limit) == (7, 30)
    later = RequestStats()
    later.note_headers({"x-ratelimit-remaining-default": "3", "x-ratelimit-limit-default": "120"})
    stats.merge(later)
    assert (stats.min_remaining, stats.rate_limit) == (3, 120)

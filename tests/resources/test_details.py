"""Detail requests on threads and in the helper process: same answers, errors, counters and secrets.

Runs against the bundled simulator over real loopback HTTP (fixtures in tests/conftest.py).
"""

import datetime as dt
import logging
import os
import signal
import subprocess

import pytest

from askpro_pipelines.partitions import day_window
from askpro_pipelines.resources.details import SMALL_BATCH, DetailRequest, ProcessDetails, ThreadedDetails
from askpro_pipelines.resources.http import ApiError, CircuitOpenError, RawBody, ResilientClient
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.tenants import load_tenants
from askpro_simulator.demo import simulator_for
from askpro_simulator.server import Fault

FAST = dict(backoff_base_s=0.01, max_backoff_s=0.02, max_attempts=2)


@pytest.fixture
def retell(simulator):
    tenant = load_tenants().get("praxis-v2")
    resource = RetellResource(**FAST)
    client = resource.client_for(tenant)
    yield client
    client.http.close()
    resource.teardown_after_execution(None)


@pytest.fixture
def process_details():
    details = ProcessDetails(workers=4, helpers=2, small_batch=0)  # every batch to the helpers
    yield details
    details.close()


def _pids(details):
    return [worker.process.pid for worker in details._pool]


def _agent_requests(client, n=6):
    """`n` get-agent-versions requests, cycling over the tenant's agents (the test tenant has two)."""
    summaries = client.http.post_json("/v2/list-agents", entity="retell_agents", json={})["items"]
    ids = [s["agent_id"] for s in summaries]
    return [
        DetailRequest(f"/get-agent-versions/{ids[i % len(ids)]}", "retell_agents", ids[i % len(ids)]) for i in range(n)
    ]


def test_the_process_gives_the_threads_answers_in_order_and_counts_its_requests(retell, process_details):
    requests = _agent_requests(retell)
    assert len(requests) >= 3
    before = retell.http.stats.requests
    threaded = list(ThreadedDetails(4).fetch(retell.http, requests))
    assert retell.http.stats.requests == before + len(requests)
    in_process = list(process_details.fetch(retell.http, requests))
    assert in_process == threaded
    assert retell.http.stats.requests == before + 2 * len(requests)


def test_batches_submitted_ahead_are_collected_in_order_by_the_same_helpers(retell, process_details):
    requests = _agent_requests(retell, 7)
    first = process_details.submit(retell.http, requests[:3])
    second = process_details.submit(retell.http, requests[3:])
    pids = _pids(process_details)
    assert len(pids) == 2
    assert [v[0]["agent_id"] for v in process_details.collect(first)] == [r.record_id for r in requests[:3]]
    assert [v[0]["agent_id"] for v in process_details.collect(second)] == [r.record_id for r in requests[3:]]
    assert _pids(process_details) == pids  # the same helpers for the whole run


def test_a_batch_left_uncollected_is_dropped_and_sent_again_if_collected_later(retell, process_details, simulator):
    requests = _agent_requests(retell, 4)
    before = simulator.request_count("/retell/get-agent-versions/")
    skipped = process_details.submit(retell.http, requests[:2])
    later = process_details.submit(retell.http, requests[2:])
    assert [v[0]["agent_id"] for v in process_details.collect(later)] == [r.record_id for r in requests[2:]]
    assert [v[0]["agent_id"] for v in process_details.collect(skipped)] == [r.record_id for r in requests[:2]]
    process_details.close()  # waits for the helpers, so every request sent has been served
    assert simulator.request_count("/retell/get-agent-versions/") == before + 6  # the skipped batch went twice


def test_a_failed_request_raises_the_clients_error_after_its_retries_and_logs_them(
    retell, process_details, simulator, caplog
):
    requests = _agent_requests(retell, 3)[:2]
    simulator.add_fault(Fault(kind="status", status=500, path_prefix=f"/retell{requests[1].path}", count=-1))
    with caplog.at_level(logging.WARNING, logger="askpro_pipelines.http"), pytest.raises(ApiError) as failure:
        list(process_details.fetch(retell.http, requests))
    error = failure.value
    assert (error.tenant, error.api, error.entity, error.record_id, error.status) == (
        "praxis-v2",
        "retell",
        "retell_agents",
        requests[1].record_id,
        500,
    )
    assert error.attempts == 2 and "retrying GET" in caplog.text  # the worker's retry warning reached us
    # The worker survives a failed batch and serves the next one.
    simulator.clear_faults()
    assert len(list(process_details.fetch(retell.http, requests))) == 2


def test_a_body_the_helper_passed_on_undecoded_fails_like_a_malformed_response_here():
    key = "key_0123456789abcdef0123456789abcdef"
    http = ResilientClient(base_url="http://127.0.0.1:9", tenant="praxis-v2", api="retell", secrets=[key])
    assert http.decode_body(RawBody(b'{"ok": true}', 200), method="GET", path="/x", entity="retell_calls") == {
        "ok": True
    }
    with pytest.raises(ApiError) as failure:
        http.decode_body(RawBody(f'{{"key": "{key}", oops'.encode(), 200), method="GET",
                         path="/v2/get-call/call_1", entity="retell_calls", record_id="call_1")  # fmt: skip
    error = failure.value
    assert (error.tenant, error.entity, error.record_id, error.status, error.path) == (
        "praxis-v2",
        "retell_calls",
        "call_1",
        200,
        "/v2/get-call/call_1",
    )
    assert "malformed JSON in response body" in str(error) and key not in str(error)


def test_a_consumer_that_stops_early_drops_the_rest_and_the_next_batch_gets_its_own_answers(retell, process_details):
    requests = _agent_requests(retell)
    answers = process_details.fetch(retell.http, requests)
    next(answers)
    answers.close()  # e.g. the first record was malformed and the caller raised
    later = list(reversed(requests))
    assert [v[0]["agent_id"] for v in process_details.fetch(retell.http, later)] == [r.record_id for r in later]


def test_a_worker_that_dies_mid_batch_is_a_clear_error_and_the_next_batch_gets_a_new_one(
    retell, process_details, simulator
):
    requests = _agent_requests(retell, 2)
    simulator.add_fault(Fault(kind="slow", delay_s=3.0, path_prefix=f"/retell{requests[0].path}"))
    ticket = process_details.submit(retell.http, requests)
    process_details._pool[0].process.kill()
    with pytest.raises(
        ApiError, match=r"tenant=praxis-v2 api=retell entity=retell_agents.*detail request process ended"
    ):
        list(process_details.collect(ticket))
    simulator.clear_faults()
    assert len(list(process_details.fetch(retell.http, requests))) == 2


def test_the_key_reaches_the_worker_over_the_pipe_only(retell, process_details):
    list(process_details.fetch(retell.http, _agent_requests(retell, 1)))
    key = os.environ["TEST_V2_RETELL_API_KEY"]
    for pid in _pids(process_details):
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode()
        assert key not in cmdline and "detail_worker" in cmdline


def test_small_batches_stay_on_threads_until_a_large_one_starts_the_helpers(retell):
    details = ProcessDetails(workers=4, helpers=2, small_batch=5)
    try:
        requests = _agent_requests(retell, 4)
        assert len(list(details.fetch(retell.http, requests))) == 4 and not details._pool
        large = _agent_requests(retell, 6)
        assert [v[0]["agent_id"] for v in details.fetch(retell.http, large)] == [r.record_id for r in large]
        assert len(details._pool) == 2
        assert len(list(details.fetch(retell.http, requests))) == 4  # now small ones go to the helpers too
    finally:
        details.close()


def test_the_resource_starts_its_helpers_once_per_tenant_and_stops_them_at_teardown(simulator):
    tenant = load_tenants().get("praxis-v2")
    resource = RetellResource(**FAST)
    client = resource.client_for(tenant)
    assert resource.client_for(tenant).details is client.details
    assert not client.details._pool  # nothing asked yet: no helper started
    list(client.details.fetch(client.http, _agent_requests(client, SMALL_BATCH)))
    helpers: list[subprocess.Popen] = [worker.process for worker in client.details._pool]
    assert len(helpers) == 2
    resource.teardown_after_execution(None)
    assert [helper.wait(timeout=10) for helper in helpers] == [0, 0]


def test_without_helper_processes_the_requests_run_on_threads(simulator):
    tenant = load_tenants().get("praxis-v2")
    client = RetellResource(detail_processes=0, **FAST).client_for(tenant)
    assert isinstance(client.details, ThreadedDetails)
    assert len(list(client.details.fetch(client.http, _agent_requests(client, 3)))) == 3


def test_json_bodies_decode_fast_and_keep_the_standard_librarys_acceptance():
    from askpro_pipelines.json_codec import loads_json

    assert loads_json(b'{"calls": [{"call_id": "c1"}]}') == {"calls": [{"call_id": "c1"}]}
    nan = loads_json(b'{"cost": NaN}')["cost"]  # orjson refuses NaN; the standard library takes it
    assert nan != nan
    assert loads_json('{"name": "Müller"}'.encode("utf-16")) == {"name": "Müller"}
    assert loads_json(b'{"id": 123456789012345678901234567890}') == {"id": 123456789012345678901234567890}
    assert loads_json('{"id": 18446744073709551616, "n": "0123456789012345678"}') == {
        "id": 2**64,
        "n": "0123456789012345678",
    }
    with pytest.raises(ValueError):
        loads_json(b'{"truncated": ')


# ---- bounded requests in flight, deadlines, one breaker per tenant -------------------------------

BUSY_DAYS = [dt.date(2026, 9, 7) + dt.timedelta(days=i) for i in range(4)]


@pytest.fixture
def busy_simulator(tenants_file):
    """praxis-v2 with 150 calls a day: four days of transcripts outrun a tiny bound many times over."""
    with simulator_for(load_tenants(), spec_overrides={"praxis-v2": {"calls_per_day": 150}}) as sim:
        yield sim


def _calls_by_day(details):
    """calls_by_window over BUSY_DAYS with `details`: the day after is listed and its transcripts
    queued before a day is handed over, as the calls asset does it."""
    tenant = load_tenants().get("praxis-v2")
    resource = RetellResource(**FAST)
    client = resource.client_for(tenant)
    client.details = details
    try:
        windows = [(day, *day_window(day, tenant.timezone)) for day in BUSY_DAYS]
        return {day: [(c.call_id, c.transcript) for c in calls] for day, calls in client.calls_by_window(windows)}
    finally:
        details.close()
        resource.teardown_after_execution(None)


def test_a_backfill_whose_answers_outrun_a_tiny_bound_finishes_with_every_transcript(busy_simulator):
    # The old design hung here for good: the next day's requests went out before this day's answers
    # were taken, the answer queue (bounded) filled, the helpers blocked writing answers, and the run
    # blocked writing requests to them. Now at most `ahead` requests are in flight.
    expected = _calls_by_day(ThreadedDetails(4))
    assert sum(len(calls) for calls in expected.values()) > 500
    assert sum(1 for calls in expected.values() for _, transcript in calls if transcript) > 450
    tiny = ProcessDetails(workers=4, helpers=2, small_batch=0, ahead=2, pipe_bytes=4096, wait_s=120)
    assert _calls_by_day(tiny) == expected
    assert _calls_by_day(ThreadedDetails(4, ahead=2, wait_s=120)) == expected


def test_helpers_that_stop_answering_end_the_wait_with_an_error_naming_the_record(retell, simulator):
    details = ProcessDetails(workers=4, helpers=2, small_batch=0, wait_s=60)  # a slow start is no hang
    try:
        requests = _agent_requests(retell, 4)
        assert len(list(details.fetch(retell.http, requests))) == 4
        details.wait_s = 2.0
        for pid in _pids(details):
            os.kill(pid, signal.SIGSTOP)  # alive, silent: nothing will ever come back
        with pytest.raises(ApiError) as failure:
            list(details.fetch(retell.http, requests))
        error = failure.value
        assert (error.tenant, error.api, error.entity, error.record_id) == (
            "praxis-v2",
            "retell",
            "retell_agents",
            requests[0].record_id,
        )
        assert "no answer from the detail request processes for 2 s" in str(error)
        assert not details._pool  # the silent helpers were ended (killed)
        details.wait_s = 60
        assert len(list(details.fetch(retell.http, requests))) == 4  # fresh ones serve the next batch
    finally:
        details.close()


def test_a_thread_that_never_answers_ends_the_wait_with_an_error_naming_the_record(retell, simulator):
    requests = _agent_requests(retell, 3)
    simulator.add_fault(Fault(kind="slow", delay_s=12.0, path_prefix=f"/retell{requests[1].path}", count=1))
    with pytest.raises(ApiError) as failure:
        list(ThreadedDetails(2, wait_s=4.0).fetch(retell.http, requests))
    error = failure.value
    assert (error.tenant, error.entity, error.record_id) == ("praxis-v2", "retell_agents", requests[1].record_id)
    assert "no answer" in str(error)


def test_the_breaker_is_one_per_tenant_across_the_helpers_and_opens_at_its_threshold(simulator):
    tenant = load_tenants().get("praxis-v2")
    resource = RetellResource(breaker_failure_threshold=3, breaker_cooldown_s=60, max_attempts=1)
    client = resource.client_for(tenant)
    details = ProcessDetails(workers=2, helpers=2, small_batch=0)
    versions = "/retell/get-agent-versions/"

    def one_request_each(requests):
        """Each request its own batch, all sent before any is collected: helper 1, 2, 1, ..."""
        tickets = [details.submit(client.http, [request]) for request in requests]
        outcomes = []
        for ticket in tickets:
            try:
                outcomes.append(len(list(details.collect(ticket))))
            except ApiError as error:
                outcomes.append("refused" if isinstance(error, CircuitOpenError) else error.status)
        return outcomes

    try:
        requests = _agent_requests(client, 3)
        assert one_request_each(requests) == [1, 1, 1]
        assert [worker.in_flight for worker in details._pool] == [0, 0] and len(details._pool) == 2
        simulator.add_fault(Fault(kind="status", status=500, path_prefix=versions, count=-1))
        before = simulator.request_count(versions)
        # Three failures, two in one helper and one in the other: the tenant's threshold is reached.
        assert one_request_each(requests) == [500, 500, 500]
        assert client.http.breaker.state == "open" and client.http.breaker.consecutive_failures == 3
        # Each helper on its own breaker would try again (2 and 1 failures); the shared one refuses.
        assert one_request_each(requests) == ["refused"] * 3
        with pytest.raises(CircuitOpenError):  # the run's own client shares it too
            client.http.get_json(requests[0].path, entity="retell_agents")
        details.close()
        assert one_request_each(requests) == ["refused"] * 3  # new helpers attach to the same breaker
        assert simulator.request_count(versions) - before == 3
    finally:
        details.close()
        resource.teardown_after_execution(None)

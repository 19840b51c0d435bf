"""The landing table on SQLite and PostgreSQL: dedup, status transitions, replay, inspection."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from askpro_pipelines.warehouse.store import create_engine
from askpro_pipelines.webhooks.store import NewEvent, WebhookStore


@pytest.fixture
def store(warehouse_url):
    s = WebhookStore(create_engine(warehouse_url))
    yield s
    s.dispose()


def _land(store, key, *, tenant="t1", provider="retell", event_type="call_ended", payload="{}"):
    return store.land(
        tenant=tenant,
        provider=provider,
        event_type=event_type,
        dedup_key=key,
        entity_id=key.split(":")[-1],
        event_day=dt.date(2026, 9, 17),
        payload=payload,
    )


def test_land_dedups_per_provider_tenant_and_key(store):
    first, duplicate = _land(store, "call_ended:c1", payload='{"a":"Grüße"}')
    assert not duplicate
    assert _land(store, "call_ended:c1", payload='{"other":1}') == (first, True)
    # The same key for another tenant or provider is another delivery.
    assert _land(store, "call_ended:c1", tenant="t2")[1] is False
    assert _land(store, "call_ended:c1", provider="calcom")[1] is False

    (event,) = store.list(tenant="t1", provider="retell")
    assert (event.id, event.status, event.attempts, event.payload) == (first, "pending", 0, '{"a":"Grüße"}')
    assert (event.entity_id, event.event_day, event.event_type) == ("c1", dt.date(2026, 9, 17), "call_ended")
    assert event.received_at.tzinfo is not None
    assert abs(event.received_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert store.counts() == {("retell", "pending"): 2, ("calcom", "pending"): 1}


def test_concurrent_land_of_one_key_yields_one_row(store):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: _land(store, f"call_ended:c{i % 5}"), range(60)))
    assert sum(not duplicate for _, duplicate in results) == 5
    ids = {}
    for (event_id, _), i in zip(results, range(60), strict=True):
        assert ids.setdefault(i % 5, event_id) == event_id
    assert len(store.list(limit=1000)) == 5


def test_pending_queued_processed(store):
    ids = [_land(store, f"k{i}")[0] for i in range(5)]
    _land(store, "other", provider="calcom")
    assert [e.id for e in store.pending("retell")] == ids
    assert [e.id for e in store.pending("retell", limit=2)] == ids[:2]
    assert store.max_id("retell") == ids[-1]
    assert store.max_id("nobody") == 0

    store.mark_queued(ids[:3], "run-1")
    store.mark_queued(ids[:2], "run-2")  # already queued: left with run-1
    assert [e.id for e in store.pending("retell")] == ids[3:]
    assert [(e.id, e.run_key) for e in store.queued("retell")] == [(i, "run-1") for i in ids[:3]]

    assert store.mark_processed("run-1") == 3
    assert store.mark_processed("run-1") == 0
    done = store.list(status="processed")
    assert {e.id for e in done} == set(ids[:3])
    assert all(e.processed_at is not None and e.processed_at.tzinfo for e in done)
    assert store.queued("retell") == []


def test_failed_goes_back_to_pending_then_dead(store):
    (event_id, _), (other_id, _) = _land(store, "k1"), _land(store, "k2")
    store.mark_queued([other_id], "warm-up")
    store.mark_failed("warm-up", "boom", max_attempts=3)  # k2 now has one attempt more than k1

    store.mark_queued([event_id, other_id], "run-1")
    assert store.mark_failed("run-1", "HTTP 500 from Cal.com", max_attempts=3) == (2, 0)
    (first, second) = sorted(store.list(), key=lambda e: e.id)
    assert (first.status, first.attempts, first.run_key, first.last_error) == (
        "pending",
        1,
        None,
        "HTTP 500 from Cal.com",
    )
    assert (second.status, second.attempts) == ("pending", 2)

    store.mark_queued([event_id, other_id], "run-2")
    assert store.mark_failed("run-2", "again", max_attempts=3) == (1, 1)
    store.mark_queued([event_id], "run-3")
    assert store.mark_failed("run-3", "still", max_attempts=3) == (0, 1)
    dead = store.list(status="dead")
    assert {(e.id, e.attempts) for e in dead} == {(event_id, 3), (other_id, 3)}
    assert store.pending("retell") == []
    assert store.mark_failed("run-3", "nothing left", max_attempts=3) == (0, 0)
    assert store.counts() == {("retell", "dead"): 2}


def test_requeue_filters(store):
    a = _land(store, "a", tenant="t1")[0]
    b = _land(store, "b", tenant="t2")[0]
    c = _land(store, "c", tenant="t1", provider="calcom")[0]
    d = _land(store, "d", tenant="t1")[0]  # stays pending: never touched by requeue
    store.mark_queued([a, b, c], "run")
    store.mark_failed("run", "x", max_attempts=1)  # all three dead
    assert {e.status for e in store.list() if e.id != d} == {"dead"}

    assert store.requeue(ids=[a], provider="calcom") == 0  # filters combine
    assert store.requeue(tenant="t1", provider="retell") == 1
    event = next(e for e in store.list() if e.id == a)
    assert (event.status, event.attempts, event.run_key, event.last_error) == ("pending", 0, None, "x")

    assert store.requeue(since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == 0
    assert store.requeue(since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), tenant="t2") == 1
    assert store.requeue(ids=[c, d]) == 1
    assert {e.status for e in store.list()} == {"pending"}

    store.mark_queued([a, b], "run-2")
    store.mark_processed("run-2")
    store.mark_queued([c], "run-3")
    assert store.requeue(ids=[a, b, c]) == 3  # processed and queued ones too
    assert store.counts() == {("retell", "pending"): 3, ("calcom", "pending"): 1}


def test_list_is_newest_first_and_filtered(store):
    ids = [_land(store, f"k{i}", tenant=f"t{i % 2}")[0] for i in range(6)]
    assert [e.id for e in store.list()] == ids[::-1]
    assert [e.id for e in store.list(limit=2)] == ids[:-3:-1]
    assert [e.id for e in store.list(tenant="t1")] == [ids[5], ids[3], ids[1]]
    assert store.list(status="dead") == []


def test_bulk_land_and_mark_queued_over_many_ids(store):
    events = [NewEvent("t1", "retell", "call_ended", f"k{i}", f"c{i}", None, "{}") for i in range(1200)]
    results = store.land_many(events)
    assert not any(duplicate for _, duplicate in results)
    assert store.land_many(events[:700]) == [(event_id, True) for event_id, _ in results[:700]]
    ids = [event_id for event_id, _ in results]
    assert len(set(ids)) == 1200
    store.mark_queued(ids, "big-run")
    assert len(store.queued("retell")) == 1200
    assert store.mark_processed("big-run") == 1200


def test_existing_table_is_reused(warehouse_url):
    first = WebhookStore(create_engine(warehouse_url))
    event_id, _ = _land(first, "k1")
    first.dispose()
    second = WebhookStore(create_engine(warehouse_url))
    assert _land(second, "k1") == (event_id, True)
    second.dispose()


def test_land_many_is_one_batch_with_in_batch_and_stored_duplicates(store):
    def event(key, tenant="t1"):
        return NewEvent(tenant, "retell", "call_ended", key, None, None, "{}")

    (old_id, _) = _land(store, "old")
    results = store.land_many([event("b"), event("a"), event("old"), event("b"), event("a", tenant="t2")])
    assert [duplicate for _, duplicate in results] == [False, False, True, True, False]
    assert results[0][0] == results[3][0] and results[2][0] == old_id
    assert len({event_id for event_id, _ in results}) == 4
    assert store.land_many([]) == []
    assert len(store.list()) == 4

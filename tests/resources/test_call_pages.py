"""Calls handed over a listing page at a time (memory flat in calls per day), over real loopback HTTP."""

import datetime as dt

import pytest

from askpro_pipelines.partitions import day_window
from askpro_pipelines.resources import retell as retell_module
from askpro_pipelines.resources.retell import RetellResource
from askpro_pipelines.tenants import load_tenants
from askpro_simulator.demo import simulator_for

FAST = dict(backoff_base_s=0.01, max_backoff_s=0.02, max_attempts=2)
DAYS = [dt.date(2026, 9, 7), dt.date(2026, 9, 8), dt.date(2026, 9, 9)]


@pytest.fixture
def client(tenants_file):
    with simulator_for(load_tenants(), spec_overrides={"praxis-v2": {"calls_per_day": 150}}):
        tenant = load_tenants().get("praxis-v2")
        resource = RetellResource(**FAST)
        retell = resource.client_for(tenant)
        retell.windows = [(day, *day_window(day, tenant.timezone)) for day in DAYS]
        yield retell
        retell.http.close()
        resource.teardown_after_execution(None)


def test_pages_of_each_window_join_to_its_calls_and_stay_within_a_page(client, monkeypatch):
    whole = {day: [(c.call_id, c.transcript) for c in calls] for day, calls in client.calls_by_window(client.windows)}
    assert sum(len(calls) for calls in whole.values()) > 150
    monkeypatch.setattr(retell_module, "CALL_PAGE", 40)
    pages: dict[dt.date, list] = {}
    for day, page in client.call_pages_by_window(client.windows):
        assert len(page) <= 40
        pages.setdefault(day, []).append([(c.call_id, c.transcript) for c in page])
    assert list(pages) == DAYS and all(len(day_pages) > 1 for day_pages in pages.values())
    assert {day: [call for page in day_pages for call in page] for day, day_pages in pages.items()} == whole


def test_a_window_without_calls_still_gives_one_empty_page(client):
    quiet = (dt.date(2026, 9, 10), *[moment + dt.timedelta(days=400) for moment in client.windows[0][1:]])
    got = list(client.call_pages_by_window([client.windows[0], quiet]))
    assert got[-1] == (dt.date(2026, 9, 10), []) and got[0][0] == DAYS[0] and got[0][1]


def test_stored_transcripts_are_asked_for_per_page_and_save_their_requests(client, monkeypatch):
    monkeypatch.setattr(retell_module, "CALL_PAGE", 40)
    calls = [c for _, page in client.call_pages_by_window(client.windows[:1]) for c in page]
    first = {c.call_id: (c.transcript, c.tool_calls) for c in calls}
    reusable = sum(1 for c in calls if c.call_status == "ended" and c.transcript)
    assert any(c.tool_calls for c in calls)  # the stored tool calls come back with the transcripts
    asked: list[int] = []

    def known_for(day, calls):
        asked.append(len(calls))
        return {
            (c.call_id, c.end_utc): {"transcript": first[c.call_id][0], "tool_calls": first[c.call_id][1]}
            for c in calls
            if c.call_status == "ended" and first[c.call_id][0]
        }

    before = client.http.stats.requests
    again = {
        c.call_id: (c.transcript, c.tool_calls)
        for _, page in client.call_pages_by_window(client.windows[:1], True, known_for)
        for c in page
    }
    assert again == first and len(asked) > 1 and max(asked) <= 40
    listing_pages = len(asked)
    fetched = client.http.stats.requests - before - listing_pages
    assert reusable > 100 and fetched == len(first) - reusable - sum(
        1 for c in calls if c.call_status == "not_connected"
    )

"""A fact day written chunk by chunk: same result as one replace_slice, atomic, on SQLite and PostgreSQL."""

import datetime as dt

import pytest

from askpro_pipelines.warehouse.day_stream import DayStream

DAY = dt.date(2026, 9, 1)
TABLES = ["retell_calls", "retell_call_transcripts"]


def _call(call_id, status="ended"):
    return {"call_id": call_id, "call_status": status, "agent_id": "a1", "agent_version": 1}


def _transcript(call_id, text="Agent: Hallo"):
    return {"call_id": call_id, "transcript": text}


def _stream(warehouse, chunks, day=DAY):
    """Write `chunks` ([(calls, transcripts)]) as one day stream; its stats per table."""
    with DayStream(warehouse, "t", day, TABLES) as stream:
        for calls, transcripts in chunks:
            stream.add("retell_calls", calls)
            stream.add("retell_call_transcripts", transcripts)
    return stream.stats


def _stored(warehouse, table, day=DAY):
    return sorted(tuple(sorted(r.items())) for r in warehouse.read_slice(table, "t", ["call_id", "row_hash"], day=day))


def test_chunks_give_the_rows_and_counts_one_replace_slice_gives(warehouse):
    calls = [_call(f"c{i}") for i in range(1200)]
    transcripts = [_transcript(f"c{i}") for i in range(0, 1200, 2)]
    first = _stream(warehouse, [(calls[:700], transcripts[:350]), (calls[700:], transcripts[350:])])
    assert (first["retell_calls"].rows, first["retell_calls"].inserted) == (1200, 1200)
    assert (first["retell_call_transcripts"].rows, first["retell_call_transcripts"].inserted) == (600, 600)
    other_day = dt.date(2026, 9, 2)
    warehouse.replace_slice("retell_calls", "t", calls, day=other_day)
    assert _stored(warehouse, "retell_calls") == _stored(warehouse, "retell_calls", other_day)

    again = _stream(warehouse, [(calls[:100], transcripts[:50]), (calls[100:], transcripts[50:])])
    assert again["retell_calls"].unchanged and again["retell_call_transcripts"].unchanged

    changed = [_call("c1", "error")] + calls[2:1100] + [_call("new")]
    stats = _stream(warehouse, [(changed[:500], []), (changed[500:], transcripts[1:])])["retell_calls"]
    assert (stats.rows, stats.inserted, stats.updated, stats.deleted) == (1100, 1, 1, 101)
    assert len(_stored(warehouse, "retell_calls")) == 1100
    assert warehouse.count("retell_call_transcripts", "t") == 599


def test_readers_see_the_old_day_until_the_last_chunk_is_in(warehouse):
    _stream(warehouse, [([_call("old1"), _call("old2")], [_transcript("old1")])])
    before = _stored(warehouse, "retell_calls")
    with DayStream(warehouse, "t", DAY, TABLES) as stream:
        stream.add("retell_calls", [_call("new1")])
        stream.add("retell_call_transcripts", [_transcript("new1")])
        assert _stored(warehouse, "retell_calls") == before  # another connection: the old day whole
        stream.add("retell_calls", [_call("new2")])
    assert [row[0][1] for row in _stored(warehouse, "retell_calls")] == ["new1", "new2"]


def test_an_error_midway_leaves_the_old_day_whole(warehouse):
    _stream(warehouse, [([_call("old1"), _call("old2")], [_transcript("old1")])])
    before = (_stored(warehouse, "retell_calls"), _stored(warehouse, "retell_call_transcripts"))
    with pytest.raises(RuntimeError, match="listing page 2"):
        with DayStream(warehouse, "t", DAY, TABLES) as stream:
            stream.add("retell_calls", [_call("new1")])
            stream.add("retell_call_transcripts", [_transcript("new1", "changed")])
            raise RuntimeError("tenant t: retell calls: listing page 2 failed")
    assert (_stored(warehouse, "retell_calls"), _stored(warehouse, "retell_call_transcripts")) == before


def test_a_key_repeated_in_a_later_chunk_keeps_every_row(warehouse):
    _stream(warehouse, [([_call("c1"), _call("c2")], [])])
    stats = _stream(warehouse, [([_call("c1")], []), ([_call("c1", "error"), _call("c2")], [])])["retell_calls"]
    assert stats.rows == 3 and stats.deleted == 0
    assert sorted(r["call_status"] for r in warehouse.read_slice("retell_calls", "t", day=DAY)) == [
        "ended",
        "ended",
        "error",
    ]


def test_held_keys_keep_their_rows_and_chunks_of_any_iterable_are_written(warehouse):
    _stream(warehouse, [([_call("c1"), _call("c2"), _call("c3")], [])])
    with DayStream(warehouse, "t", DAY, ["retell_calls"]) as stream:
        stream.add_all("retell_calls", (_call(f"n{i}") for i in range(7)), chunk=3)
        stream.hold("retell_calls", {"call_id": ["c2"]})
    stats = stream.stats["retell_calls"]
    assert (stats.rows, stats.inserted, stats.deleted) == (8, 7, 2)
    assert sorted(r["call_id"] for r in warehouse.read_slice("retell_calls", "t", ["call_id"], day=DAY)) == ["c2"] + [
        f"n{i}" for i in range(7)
    ]


def test_dimension_tables_are_refused(warehouse):
    with pytest.raises(ValueError, match="staff: takes no day"):
        with DayStream(warehouse, "t", DAY, ["staff"]):
            pass

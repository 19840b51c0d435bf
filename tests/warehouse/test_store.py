"""The slice writer on SQLite and PostgreSQL: diffs, atomic replace, tenant isolation."""

import datetime as dt

import pytest
import sqlalchemy as sa

from askpro_pipelines.warehouse import resolve_warehouse_url


def _staff(staff_id, name="Anna", source="user"):
    return {"staff_id": staff_id, "name": name, "email": f"{staff_id}@x.example", "source": source}


def test_counts_inserts_updates_deletes_and_skips_unchanged(warehouse):
    first = warehouse.replace_slice("staff", "t1", [_staff("1"), _staff("2")])
    assert (first.rows, first.inserted, first.updated, first.deleted) == (2, 2, 0, 0)

    again = warehouse.replace_slice("staff", "t1", [_staff("1"), _staff("2")])
    assert again.unchanged and again.rows == 2

    changed = warehouse.replace_slice("staff", "t1", [_staff("1", "Änne"), _staff("3")])
    assert (changed.inserted, changed.updated, changed.deleted) == (1, 1, 1)
    rows = {r["staff_id"]: r["name"] for r in warehouse.read_slice("staff", "t1", ["staff_id", "name"])}
    assert rows == {"1": "Änne", "3": "Anna"}


def test_the_content_version_follows_the_content_not_the_write(warehouse):
    first = warehouse.replace_slice("staff", "t1", [_staff("1"), _staff("2")])
    again = warehouse.replace_slice("staff", "t1", [_staff("2"), _staff("1")])  # same rows, other order
    assert again.content_version == first.content_version
    changed = warehouse.replace_slice("staff", "t1", [_staff("1"), _staff("2", "Bernd")])
    assert changed.content_version != first.content_version
    back = warehouse.replace_slice("staff", "t1", [_staff("1"), _staff("2")])
    assert back.content_version == first.content_version


def test_unchanged_rows_keep_their_synced_at(warehouse):
    warehouse.replace_slice("staff", "t1", [_staff("1"), _staff("2")])
    before = {r["staff_id"]: r["synced_at"] for r in warehouse.read_slice("staff", "t1", ["staff_id", "synced_at"])}
    warehouse.replace_slice("staff", "t1", [_staff("1"), _staff("2", "Bernd")])
    after = {r["staff_id"]: r["synced_at"] for r in warehouse.read_slice("staff", "t1", ["staff_id", "synced_at"])}
    assert after["1"] == before["1"]
    assert after["2"] >= before["2"]


def test_tenants_are_isolated(warehouse):
    warehouse.replace_slice("staff", "t1", [_staff("1")])
    warehouse.replace_slice("staff", "t2", [_staff("1"), _staff("2")])
    warehouse.replace_slice("staff", "t1", [])
    assert warehouse.count("staff", "t1") == 0
    assert warehouse.count("staff", "t2") == 2


def test_composite_keys_and_dates(warehouse):
    base = {
        "staff_id": "7",
        "schedule_id": "s1",
        "start_time": "08:00",
        "end_time": "12:00",
        "time_zone": "Europe/Berlin",
        "is_day_off": False,
    }
    rows = [{**base, "date": dt.date(2026, 12, 24)}, {**base, "date": dt.date(2026, 12, 31)}]
    assert warehouse.replace_slice("working_hour_overrides", "t", rows).inserted == 2
    rows[1] = {**rows[1], "end_time": "10:00"}
    stats = warehouse.replace_slice("working_hour_overrides", "t", rows[1:])
    assert (stats.inserted, stats.updated, stats.deleted) == (0, 1, 1)
    (row,) = warehouse.read_slice("working_hour_overrides", "t")
    assert row["date"] == dt.date(2026, 12, 31) and row["end_time"] == "10:00"


def test_duplicate_keys_land_so_the_check_can_name_them(warehouse):
    stats = warehouse.replace_slice("staff", "t", [_staff("1"), _staff("1", "Zweite")])
    assert stats.rows == 2 and warehouse.count("staff", "t") == 2
    assert warehouse.replace_slice("staff", "t", [_staff("1"), _staff("1", "Zweite")]).unchanged


def test_duplicate_keys_are_counted_by_the_database_per_tenant_and_day(warehouse):
    warehouse.replace_slice("staff", "t", [_staff("1"), _staff("1", "Zweite"), _staff("2")])
    warehouse.replace_slice("staff", "other", [_staff("2"), _staff("2")])
    assert warehouse.duplicate_keys("staff", "t") == (3, [{"staff_id": "1", "count": 2}])

    day1, day2 = dt.date(2026, 9, 1), dt.date(2026, 9, 2)
    call = {"call_id": "c1", "call_status": "ended"}
    warehouse.replace_slice("retell_calls", "t", [call, call], day=day1)
    warehouse.replace_slice("retell_calls", "t", [call, {**call, "call_id": "c2"}], day=day2)
    rows, duplicates = warehouse.duplicate_keys("retell_calls", "t", days=[day1, day2])
    assert rows == 4 and duplicates == [{"day": day1, "call_id": "c1", "count": 2}]
    assert warehouse.duplicate_keys("retell_calls", "t", days=[day2]) == (2, [])


def test_failure_mid_write_leaves_the_previous_slice(warehouse):
    warehouse.replace_slice("staff", "t", [_staff(str(i)) for i in range(1200)])
    broken = [_staff(str(i), name="neu") for i in range(1200)]
    broken[900]["source"] = None  # NOT NULL violation in the third insert chunk
    with pytest.raises(sa.exc.IntegrityError):
        warehouse.replace_slice("staff", "t", broken)
    names = {r["name"] for r in warehouse.read_slice("staff", "t", ["name"])}
    assert names == {"Anna"} and warehouse.count("staff", "t") == 1200


def test_default_url_is_sqlite_under_the_data_dir(tmp_path):
    url = resolve_warehouse_url(environ={"ASKPRO_DATA_DIR": str(tmp_path)})
    assert url == f"sqlite:///{tmp_path / 'warehouse.db'}"
    assert resolve_warehouse_url(environ={"ASKPRO_WAREHOUSE_URL": "postgresql://u@h/db"}) == "postgresql://u@h/db"


def test_rows_with_values_the_fast_encoder_refuses_still_hash_and_diff(warehouse):
    row = {"call_id": "c1", "call_status": "ended", "metadata": {"big": 2**70, "z": 1, "a": [1, 2]}}
    day = dt.date(2026, 9, 1)
    assert warehouse.replace_slice("retell_calls", "t", [row], day=day).inserted == 1
    assert warehouse.replace_slice("retell_calls", "t", [dict(row)], day=day).unchanged
    changed = {**row, "metadata": {**row["metadata"], "big": 2**70 + 1}}
    assert warehouse.replace_slice("retell_calls", "t", [changed], day=day).updated == 1
    (stored,) = warehouse.read_slice("retell_calls", "t", ["metadata"], day=day)
    assert stored["metadata"]["big"] == 2**70 + 1 and isinstance(stored["metadata"]["big"], int)


def test_every_column_type_survives_the_bulk_load_exactly(warehouse):
    """PostgreSQL takes new rows by COPY: text escapes, NULLs, JSON, booleans, instants and floats
    must come back as an INSERT would have stored them (SQLite runs the same rows through INSERT)."""
    berlin = dt.timezone(dt.timedelta(hours=2))
    tricky = "Tab\there, new\nline, CR\r, back\\slash, \\N literal, Umlaut ÄÖÜß, emoji 📞, quote \" '"
    rows = [
        {"call_id": "c1", "agent_id": None, "agent_version": 3, "call_status": "ended",
         "start_utc": dt.datetime(2026, 9, 1, 10, 0, tzinfo=berlin), "end_utc": dt.datetime(2026, 9, 1, 8, 5, 30, 123456, tzinfo=dt.UTC),
         "duration_ms": 2**40, "cost_cents": 12.375, "call_successful": True, "in_voicemail": False,
         "call_summary": tricky, "metadata": {"note": tricky, "nested": [1, 2.5, None, True, {"k": "\\t"}]},
         "dynamic_variables": {}},
        {"call_id": "c2", "call_status": None, "call_summary": "", "metadata": None, "call_successful": None},
    ]  # fmt: skip
    day = dt.date(2026, 9, 1)
    assert warehouse.replace_slice("retell_calls", "t", rows, day=day).inserted == 2
    stored = {r["call_id"]: r for r in warehouse.read_slice("retell_calls", "t", day=day)}
    first = stored["c1"]
    assert first["call_summary"] == tricky and first["metadata"] == rows[0]["metadata"]
    assert first["start_utc"] == dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC) and first[
        "start_utc"
    ].utcoffset() == dt.timedelta(0)
    assert first["end_utc"] == rows[0]["end_utc"]
    assert (first["duration_ms"], first["cost_cents"], first["call_successful"], first["in_voicemail"]) == (
        2**40,
        12.375,
        True,
        False,
    )
    assert first["agent_id"] is None and first["dynamic_variables"] == {} and first["day"] == day
    second = stored["c2"]
    assert second["call_summary"] == "" and second["call_status"] is None and second["call_successful"] is None
    assert second["metadata"] is None
    # And the diff sees them as unchanged afterwards.
    assert warehouse.replace_slice("retell_calls", "t", rows, day=day).unchanged


def test_kept_keys_stay_as_they_were_and_are_counted(warehouse):
    warehouse.replace_slice("staff", "t", [_staff("1"), _staff("2"), _staff("3")])
    stats = warehouse.replace_slice("staff", "t", [_staff("1", "Neu")], keep={"staff_id": {"2"}})
    assert (stats.rows, stats.updated, stats.deleted) == (2, 1, 1)
    assert {r["staff_id"]: r["name"] for r in warehouse.read_slice("staff", "t", ["staff_id", "name"])} == {
        "1": "Neu",
        "2": "Anna",
    }

"""Guarded deletes: an API that suddenly answers with few or no records must not wipe a tenant's table."""

import datetime as dt

import pytest

from askpro_pipelines.cli import main
from askpro_pipelines.simulator.server import _Listing
from askpro_pipelines.warehouse import DeleteGuard, MassDeletionError, Warehouse
from askpro_pipelines.warehouse.history import versions


def _answer_no_event_types(simulator, slug):
    """The listings answer `data: []` (a revoked permission); the branch's event type is still readable by id."""
    views = simulator._app.views[slug]
    with simulator._app.lock:
        by_id = views.v2_event_type_by_id  # rendered before the listings go empty
        views.__dict__.update(
            v2_event_types=_Listing("v2_event_type", []),
            v2_team_event_types=_Listing("v2_event_type", []),
            v2_event_type_by_id=by_id,
        )


def _staff(n):
    return [{"staff_id": str(i), "name": f"S{i}", "source": "user"} for i in range(n)]


def test_deleting_more_than_half_and_at_least_five_rows_is_refused_and_keeps_the_rows(warehouse):
    warehouse.replace_slice("staff", "t", _staff(10))
    with pytest.raises(MassDeletionError, match=r"tenant t, table staff: this sync would delete 6 of 10 rows"):
        warehouse.replace_slice("staff", "t", _staff(4))
    assert warehouse.count("staff", "t") == 10
    assert all(v["valid_to"] is None for v in versions(warehouse, "staff", "t"))  # nothing closed either

    assert warehouse.replace_slice("staff", "t", _staff(5)).deleted == 5  # exactly half passes
    assert warehouse.replace_slice("staff", "t", _staff(1)).deleted == 4  # fewer than five rows pass
    small = Warehouse(warehouse.engine, DeleteGuard(max_share=0.5, min_rows=2))
    small.replace_slice("staff", "u", _staff(3))
    with pytest.raises(MassDeletionError):
        small.replace_slice("staff", "u", [])


def test_an_explicit_override_accepts_the_deletion_and_history_keeps_the_rows(warehouse):
    warehouse.replace_slice("staff", "t", _staff(8))
    accepting = Warehouse(warehouse.engine, DeleteGuard(allow=True))
    assert accepting.replace_slice("staff", "t", []).deleted == 8
    closed = versions(warehouse, "staff", "t")
    assert len(closed) == 8 and {v["change_kind"] for v in closed} == {"deleted"}


def test_facts_are_replaced_per_day_and_not_guarded(warehouse):
    day = dt.date(2026, 11, 24)
    warehouse.replace_slice("retell_calls", "t", [{"call_id": str(i)} for i in range(10)], day=day)
    assert warehouse.replace_slice("retell_calls", "t", [], day=day).deleted == 10


def test_an_empty_event_type_list_leaves_the_table_intact_and_fails_loudly(sync, simulator, warehouse_env, capsys):
    assert sync(tenant_slugs=["praxis-v2"], select=["calcom_event_types", "staff"]).success
    wh = Warehouse.from_url(warehouse_env)
    try:
        before = wh.read_slice("calcom_event_types", "praxis-v2", ["event_type_id", "row_hash"])
        assert len(before) >= 5
        _answer_no_event_types(simulator, "praxis-v2")

        report = sync(tenant_slugs=["praxis-v2"], select=["calcom_event_types", "staff"])
        (tenant,) = report.tenants
        assert not tenant.success
        message = " ".join(tenant.errors)
        assert (
            f"tenant praxis-v2, table calcom_event_types: this sync would delete {len(before)} of {len(before)} rows"
            in message
        )
        assert sorted(
            wh.read_slice("calcom_event_types", "praxis-v2", ["event_type_id", "row_hash"]), key=str
        ) == sorted(before, key=str)

        # The operator accepts it: the rows go, and the history keeps them as deleted at the source.
        assert main(["sync", "--tenant", "praxis-v2", "--select", "calcom_event_types", "--allow-deletions"]) == 0
        assert wh.count("calcom_event_types", "praxis-v2") == 0
        deleted = [v for v in versions(wh, "calcom_event_types", "praxis-v2") if v["change_kind"] == "deleted"]
        assert len(deleted) == len(before)
    finally:
        wh.dispose()

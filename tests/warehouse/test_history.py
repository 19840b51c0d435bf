"""Type-2 history: written with the slice, read at an instant (the phone chain, a call's prompt)."""

import datetime as dt

import pytest
import sqlalchemy as sa

from askpro_pipelines.cli import main
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.history import call_agent_version, phone_chain_at, versions
from askpro_simulator.views import TenantViews


def _staff(staff_id, name="Anna"):
    return {"staff_id": staff_id, "name": name, "source": "user"}


def _history(wh, tenant="t"):
    return [(r["staff_id"], r["name"], r["valid_to"] is None, r["change_kind"]) for r in versions(wh, "staff", tenant)]


def test_no_change_writes_no_history_a_change_closes_and_opens_a_deletion_closes(warehouse):
    warehouse.replace_slice("staff", "t", [_staff("1"), _staff("2")])
    assert _history(warehouse) == [("1", "Anna", True, None), ("2", "Anna", True, None)]
    warehouse.replace_slice("staff", "t", [_staff("1"), _staff("2")])
    assert len(_history(warehouse)) == 2  # nothing changed: no new version

    warehouse.replace_slice("staff", "t", [_staff("1", "Änne")])
    assert _history(warehouse) == [
        ("1", "Anna", False, "changed"),
        ("1", "Änne", True, None),
        ("2", "Anna", False, "deleted"),
    ]
    rows = versions(warehouse, "staff", "t")
    assert rows[0]["valid_to"] == rows[1]["valid_from"]  # the new version starts where the old one ends
    assert all(r["is_current"] == (r["valid_to"] is None) for r in rows)
    warehouse.replace_slice("staff", "other", [_staff("1")])
    assert len(_history(warehouse)) == 3  # tenants stay apart


def test_a_failed_write_leaves_no_history_either(warehouse):
    warehouse.replace_slice("staff", "t", [_staff("1")])
    with pytest.raises(sa.exc.IntegrityError):
        warehouse.replace_slice("staff", "t", [{"staff_id": "1", "name": "B", "source": None}])
    assert _history(warehouse) == [("1", "Anna", True, None)]


def _edit_world(simulator, slug, edit):
    """Change the simulated account as a user would in Cal.com, then let the simulator re-render."""
    world = simulator.world.tenant(slug)
    edit(world)
    with simulator._app.lock:
        simulator._app.views[slug] = TenantViews(world)


def test_changed_and_deleted_records_at_the_source_close_history_versions(sync, simulator, warehouse_env, capsys):
    first = sync(days=2)  # yesterday too: calls whatever the hour
    assert first.success, first
    before = dt.datetime.now(dt.UTC)

    def rename_and_delete(world):
        branch = next(et for et in world.event_types if et.id == 1001)
        branch.title = "Rückenschule (neu)"
        gone = next(et for et in world.event_types if et.id != 1001 and et.owner_id is not None)
        world.event_types.remove(gone)
        rename_and_delete.gone = str(gone.id)

    _edit_world(simulator, "praxis-v2", rename_and_delete)
    second = sync(
        select=[
            "calcom_event_types",
            "staff",
            "staff_event_types",
            "phone_assignments",
            "calcom_event_types_history",
            "staff_event_types_history",
            "phone_assignments_history",
        ]
    )
    assert second.success, second
    assert not second.tenants[0].failed_checks  # the history checks pass after changes too
    assert second.tenants[0].checks_run >= 6

    wh = Warehouse.from_url(warehouse_env)
    try:
        history = {
            (r["event_type_id"], r["change_kind"], r["valid_to"] is None): r["title"]
            for r in versions(wh, "calcom_event_types", "praxis-v2")
        }
        assert history[("1001", "changed", False)] == "Rückenschule"
        assert history[("1001", None, True)] == "Rückenschule (neu)"
        assert (rename_and_delete.gone, "deleted", False) in history
        assert wh.count("calcom_event_types", "praxis-v2") == len([k for k in history if k[2]])

        (then,) = phone_chain_at(wh, "030 123456701", before)
        (now,) = phone_chain_at(wh, "+49 30 123456701", dt.datetime.now(dt.UTC))
        assert then.event_type["title"] == "Rückenschule" and now.event_type["title"] == "Rückenschule (neu)"
        assert then.agent_version is not None and then.agent_version["prompt_hash"]
        assert then.staff and {s["staff_id"] for s in then.staff} == {s["staff_id"] for s in now.staff}

        # A call joins to the agent version (and prompt) it ran with.
        with wh.engine.connect() as conn:
            call = conn.execute(
                sa.text(
                    "select call_id, agent_id, agent_version from retell_calls where tenant = 'praxis-v2' and agent_id is not null"
                )
            ).first()
        ran = call_agent_version(wh, "praxis-v2", call.call_id)
        assert (ran["agent_id"], ran["version"]) == (call.agent_id, call.agent_version) and ran["prompt"]
    finally:
        wh.dispose()

    assert main(["history", "phone", "+4930123456701", "--at", before.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "event type:  1001 Rückenschule (" in out and "prompt:      sha256" in out and "staff:" in out
    assert main(["history", "phone", "+4930123456701", "--at", "2001-01-01T00:00"]) == 1


def test_history_check_rules_name_overlaps_and_open_version_counts():
    from askpro_pipelines.checks import open_version_problems, overlapping_versions

    t = [dt.datetime(2026, 11, d, tzinfo=dt.UTC) for d in (1, 2, 3)]
    rows = [
        {"staff_id": "1", "valid_from": t[0], "valid_to": t[2]},
        {"staff_id": "1", "valid_from": t[1], "valid_to": None},  # starts before the previous one ends
        {"staff_id": "2", "valid_from": t[0], "valid_to": t[1]},
        {"staff_id": "3", "valid_from": t[0], "valid_to": None},
    ]
    assert [p["staff_id"] for p in overlapping_versions(rows, ("staff_id",))] == ["1"]
    problems = open_version_problems(rows, {("1",), ("2",)}, ("staff_id",))
    assert [(p["staff_id"], p["problem"]) for p in problems] == [
        ("2", "0 open versions"),
        ("3", "open version of a row no longer in the table"),
    ]

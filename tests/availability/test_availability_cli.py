"""`askpro availability` over real loopback HTTP against the simulator, checked against the
simulator's own ground truth (its schedules and bookings): free, the three nearest alternatives
(same day first), across the October DST change, and the three one-line refusals (exit 2)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from askpro_pipelines.availability.cli import cmd_availability
from askpro_pipelines.cli import build_parser
from askpro_pipelines.sync import run_sync
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_pipelines.warehouse.tables import phone_assignments
from askpro_simulator import Fault
from askpro_simulator.demo import simulator_for
from askpro_simulator.slots import free_slots

BERLIN = ZoneInfo("Europe/Berlin")
NUMBER = "+4930123456701"  # praxis-v2, branch mitte, event type 1001 (tests/conftest.py)
CHAIN_ASSETS = [
    "calcom_event_types",
    "staff",
    "staff_event_types",
    "retell_agents",
    "retell_agent_versions",
    "retell_phone_numbers",
    "phone_assignments",
]


@pytest.fixture
def chain(tenants_file, sqlite_url, monkeypatch):
    """The test tenants in the simulator (praxis-v2 with one Retell number no branch lists), its
    phone chain synced into a SQLite warehouse."""
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    with simulator_for(load_tenants(), spec_overrides={"praxis-v2": {"extra_phone_numbers": 1}}) as sim:
        report = run_sync(
            load_tenants(), tenant_slugs=["praxis-v2"], select=CHAIN_ASSETS, instance=DagsterInstance.ephemeral()
        )
        # The unlisted number fails the phone_numbers_mapped_to_branch check, as it should.
        assert all(t.success for t in report.tenants), report
        yield sim


def ask(capsys, *argv, now):
    args = build_parser().parse_args(["availability", *argv])
    code = cmd_availability(args, now=now)
    out, err = capsys.readouterr()
    return code, out, err


def truth(sim, first, last):
    """Every free start of event type 1001 per the simulator's world, in Berlin time."""
    tenant = sim.world.tenants["praxis-v2"]
    return sorted(s for starts in free_slots(tenant, 1001, first, last, "Europe/Berlin").values() for s in starts)


def expected_alternatives(at, starts, now):
    future = [s for s in starts if s >= now and s != at]
    same = sorted((s for s in future if s.date() == at.date()), key=lambda s: (abs(s - at), s))
    return (same + [s for s in future if s.date() > at.date()])[:3]


def shown(out):
    return [line.split("alternative: ")[1] for line in out.splitlines() if "alternative: " in line]


def test_free_and_alternatives_match_the_simulator(chain, capsys):
    now = dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)
    starts = truth(chain, dt.date(2026, 12, 3), dt.date(2026, 12, 10))
    assert starts
    free_at = starts[0]
    code, out, err = ask(capsys, "--phone", "030 123456701", "--at", free_at.strftime("%Y-%m-%dT%H:%M"), now=now)
    assert code == 0, err
    assert out.startswith("free: ") and "Europe/Berlin" in out and "praxis-v2/mitte" in out

    # A time that is not a slot start: 3 alternatives, same day nearest first, as the world says.
    at = dt.datetime(2026, 12, 3, 10, 7, tzinfo=BERLIN)
    code, out, err = ask(capsys, "--phone", NUMBER, "--at", "2026-12-03T10:07", "--tenant", "praxis-v2", now=now)
    assert code == 1, err
    assert out.startswith("not free: Thu 2026-12-03 10:07 Europe/Berlin")
    want = expected_alternatives(at, starts, now)
    assert len(want) == 3
    assert shown(out) == [s.strftime("%a %Y-%m-%d %H:%M") for s in want]


def test_alternatives_across_the_dst_change(chain, capsys):
    """Asked late on Saturday 2026-10-24: alternatives run into the days after the change, in local time."""
    now = dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
    code, out, _ = ask(capsys, "--phone", NUMBER, "--at", "2026-10-24T23:30", now=now)
    assert code == 1
    starts = truth(chain, dt.date(2026, 10, 24), dt.date(2026, 10, 31))
    want = expected_alternatives(dt.datetime(2026, 10, 24, 23, 30, tzinfo=BERLIN), starts, now)
    assert want and all(s.utcoffset() == dt.timedelta(hours=1) for s in want if s.date() > dt.date(2026, 10, 25))
    assert shown(out) == [s.strftime("%a %Y-%m-%d %H:%M") for s in want]


def test_number_with_no_branch(chain, capsys):
    extra = next(p.phone_number for p in chain.world.tenants["praxis-v2"].phone_numbers if p.phone_number != NUMBER)
    code, out, err = ask(
        capsys, "--phone", extra, "--at", "2026-12-03T10:00", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "has no branch" in err and extra in err
    code, _, err = ask(
        capsys, "--phone", "+4989000000", "--at", "2026-12-03T10:00", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    )
    assert code == 2 and "has no branch" in err


def test_branch_with_no_event_type(chain, capsys):
    warehouse = Warehouse.from_url(load_env_url())
    with warehouse.engine.begin() as conn:  # the branch's event type was not found at the last sync
        conn.execute(
            sa.update(phone_assignments).where(phone_assignments.c.phone_number == NUMBER).values(event_type_title=None)
        )
    warehouse.dispose()
    code, _, err = ask(
        capsys, "--phone", NUMBER, "--at", "2026-12-03T10:00", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    )
    assert code == 2 and err.count("\n") == 1
    assert "branch mitte of tenant praxis-v2 has no event type" in err


def test_unreachable_api(chain, capsys):
    chain.add_fault(Fault(kind="status", path_prefix="/calcom/v2/slots", status=503, count=-1))
    code, out, err = ask(
        capsys, "--phone", NUMBER, "--at", "2026-12-03T10:00", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    )
    chain.clear_faults()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "Cal.com unreachable for tenant praxis-v2" in err and "slots" in err and "1001" in err
    assert "cal_" not in err.lower().replace("cal.com", "")  # no key in the message


def load_env_url():
    import os

    return os.environ["ASKPRO_WAREHOUSE_URL"]

"""`askpro sync` end to end, as ops staff run it: SQLite and PostgreSQL, success and failure."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from askpro_pipelines.cli import main
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse import Warehouse
from askpro_simulator.cli import main as demo_main
from askpro_simulator.demo import simulator_for
from askpro_simulator.server import Fault

ROOT = Path(__file__).resolve().parents[1]

TENANTS = """
tenants:
  - slug: praxis-eins
    name: Praxis Eins
    calcom: {api_version: v2, api_key_env: CLI_EINS_CALCOM_KEY}
    retell: {api_key_env: CLI_EINS_RETELL_KEY}
    branches:
      - {id: mitte, name: Mitte, calcom_event_type_id: 5001, phone_numbers: ["+4930111222301"]}
  - slug: praxis-zwei
    name: Praxis Zwei
    calcom: {api_version: v1, api_key_env: CLI_ZWEI_CALCOM_KEY}
    retell: {api_key_env: CLI_ZWEI_RETELL_KEY}
    branches:
      - {id: nord, name: Nord, calcom_event_type_id: 6001, phone_numbers: ["+4940111222301"]}
"""
TABLES = [
    "calcom_event_types", "staff", "staff_event_types", "working_hours", "working_hour_overrides",
    "retell_agents", "retell_agent_versions", "retell_phone_numbers", "phone_assignments",
]


@pytest.fixture
def tenants_file(tmp_path, monkeypatch):
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(TENANTS))
    monkeypatch.setenv("ASKPRO_TENANTS_FILE", str(path))
    for name in ("CLI_EINS_CALCOM_KEY", "CLI_EINS_RETELL_KEY", "CLI_ZWEI_CALCOM_KEY", "CLI_ZWEI_RETELL_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ASKPRO_SIMULATOR_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return path


def test_demo_sync_serves_the_simulator_and_prints_counts(tenants_file, warehouse_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", warehouse_url)
    assert demo_main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "bundled simulator" in out and "Comprehensive Sync" in out
    assert any(line.startswith("DEMO: simulator at http://127.0.0.1:") for line in out.splitlines())
    wh = Warehouse.from_url(warehouse_url)
    for slug in ("praxis-eins", "praxis-zwei"):
        for table in TABLES:
            line = next(line for line in out.splitlines() if line.split()[:2] == [slug, table])
            assert int(line.split()[2]) == wh.count(table, slug)
        assert any(line.split()[:2] == [slug, "ok"] for line in out.splitlines())
    assert demo_main(["sync", "--tenant", "praxis-zwei", "--select", "staff"]) == 0
    out = capsys.readouterr().out
    assert "praxis-eins" not in out and any(line.split()[:2] == ["praxis-zwei", "staff"] for line in out.splitlines())


def test_failed_tenant_gives_exit_1_and_names_it(tenants_file, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    with simulator_for(load_tenants()) as simulator:
        simulator.add_fault(Fault(kind="status", status=500, tenant="praxis-zwei", count=-1))
        code = main(["sync"])
    captured = capsys.readouterr()
    assert code == 1
    assert "ERROR tenant praxis-zwei" in captured.err and "HTTP 500" in captured.err
    assert any(line.split()[:2] == ["praxis-eins", "ok"] for line in captured.out.splitlines())
    assert any(line.split()[:2] == ["praxis-zwei", "FAILED"] for line in captured.out.splitlines())


def test_some_keys_set_is_refused_with_each_missing_variable(tenants_file, monkeypatch, capsys):
    monkeypatch.setenv("CLI_EINS_CALCOM_KEY", "cal_live_only_this_one")
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "praxis-eins: CLI_EINS_RETELL_KEY" in err and "praxis-zwei: CLI_ZWEI_CALCOM_KEY" in err
    assert "cal_live_only_this_one" not in err


def test_unknown_tenant_and_asset_are_clear_errors(tenants_file, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    assert demo_main(["sync", "--tenant", "nope"]) == 2
    assert "unknown tenant 'nope'" in capsys.readouterr().err
    assert demo_main(["sync", "--select", "bookings"]) == 2
    assert "unknown asset(s) bookings" in capsys.readouterr().err


def test_sync_without_keys_is_refused_and_points_at_the_demo(tenants_file, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "praxis-eins: CLI_EINS_CALCOM_KEY" in err and "askpro-demo sync" in err


def test_installed_demo_entry_point_runs_the_main_job(tenants_file, tmp_path):
    """`make sync` runs `askpro-demo sync`: the demo's runs carry askpro/mode=demo."""
    env_home = tmp_path / "dagster_home"
    env_home.mkdir()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("askpro-demo")), "sync"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("CLI_")},
            "ASKPRO_DATA_DIR": str(tmp_path / "data"),
            "DAGSTER_HOME": str(env_home),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "data" / "warehouse.db").exists()
    assert "TOTAL" in result.stdout
    # With DAGSTER_HOME set the runs are recorded there, so they show in the UI.
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(env_home)) as instance:
        runs = instance.get_runs()
        assert {run.tags["askpro/tenant"] for run in runs} == {"praxis-eins", "praxis-zwei"}
        assert {run.tags["askpro/mode"] for run in runs} == {"demo"}

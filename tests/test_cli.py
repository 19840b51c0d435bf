"""`askpro` as ops staff run it: sync end to end on SQLite and PostgreSQL, success and failure,
the shared local instance, and bad arguments (one line, exit 2)."""

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from askpro_pipelines.cli import build_parser, main
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
    "calcom_event_types",
    "staff",
    "staff_event_types",
    "working_hours",
    "working_hour_overrides",
    "retell_agents",
    "retell_agent_versions",
    "retell_phone_numbers",
    "phone_assignments",
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
    monkeypatch.setenv("ASKPRO_DATA_DIR", str(tmp_path / "data"))
    return path


def _rows(out: str, *first_cells: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.split()[: len(first_cells)] == list(first_cells)]


def test_demo_sync_serves_the_simulator_and_prints_counts(tenants_file, warehouse_url, monkeypatch, capsys):
    """`make sync` runs `askpro-demo sync`: the simulator, then `askpro sync` against it."""
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", warehouse_url)
    assert demo_main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "bundled simulator" in out and "\nSync (facts: today)\nDEMO: simulator at http://127.0.0.1:" in out
    wh = Warehouse.from_url(warehouse_url)
    for slug in ("praxis-eins", "praxis-zwei"):
        for table in TABLES:
            (line,) = _rows(out, slug, table)
            assert int(line[2]) == wh.count(table, slug)
        # One row per run, each with its own run id to look up in the UI.
        (dims,) = _rows(out, slug, "sync_dimensions")
        (facts,) = _rows(out, slug, "sync_facts")
        assert dims[2] == facts[2] == "ok"
        assert (
            re.fullmatch(r"[0-9a-f-]{36}", dims[-1])
            and re.fullmatch(r"[0-9a-f-]{36}", facts[-1])
            and dims[-1] != facts[-1]
        )
    assert demo_main(["sync", "--tenant", "praxis-zwei", "--select", "staff"]) == 0
    out = capsys.readouterr().out
    assert "\nSync of staff\n" in out
    assert (
        "praxis-eins" not in out and _rows(out, "praxis-zwei", "staff") and not _rows(out, "praxis-zwei", "sync_facts")
    )


def test_failed_tenant_fits_on_one_screen_with_the_errors_last(tenants_file, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    with simulator_for(load_tenants()) as simulator:
        simulator.add_fault(Fault(kind="status", status=500, tenant="praxis-zwei", count=-1))
        keys = [
            os.environ[name]
            for name in ("CLI_EINS_CALCOM_KEY", "CLI_EINS_RETELL_KEY", "CLI_ZWEI_CALCOM_KEY", "CLI_ZWEI_RETELL_KEY")
        ]
        code = main(["sync"])
    captured = capsys.readouterr()
    assert code == 1
    assert _rows(captured.out, "praxis-eins", "sync_dimensions")[0][2] == "ok"
    assert _rows(captured.out, "praxis-zwei", "sync_dimensions")[0][2] == "FAILED"
    # Facts run even when the dimensions failed (a bad event type must not cost the day's calls);
    # here the API is down for them too.
    assert _rows(captured.out, "praxis-zwei", "sync_facts")[0][2] == "FAILED"
    # The terminal gets the tables, one note and one line per error (tenant named), nothing of Dagster's own output.
    assert len(captured.out.splitlines()) + len(captured.err.splitlines()) <= 50
    lines = captured.err.splitlines()
    assert lines[0] == "NOTE tenant praxis-zwei: facts ran although dimensions failed"
    errors = lines[1:]
    assert errors and all(line.startswith("ERROR tenant praxis-zwei: ") for line in errors)
    assert any(
        "calcom_event_types: ApiError: [tenant=praxis-zwei api=calcom" in line and "HTTP 500" in line for line in errors
    )
    assert "Traceback" not in captured.out + captured.err and "STEP_FAILURE" not in captured.out + captured.err
    # Step logs and stack traces are in the log file the summary names.
    log_path = Path(re.search(r"step logs and stack traces: (\S+)", captured.out).group(1))
    log = log_path.read_text()
    assert log_path.parent == tmp_data_dir() / "logs"
    assert "STEP_FAILURE" in log and "Stack Trace:" in log and "HTTP 500" in log
    assert not [key for key in keys if key in log or key in captured.out + captured.err]


def tmp_data_dir() -> Path:
    return Path(os.environ["ASKPRO_DATA_DIR"])


def test_sync_without_keys_is_refused_and_points_at_the_demo(tenants_file, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "praxis-eins: CLI_EINS_CALCOM_KEY" in err and "askpro-demo sync" in err


def test_some_keys_set_is_refused_with_each_missing_variable(tenants_file, monkeypatch, capsys):
    monkeypatch.setenv("CLI_EINS_CALCOM_KEY", "cal_live_only_this_one")
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "praxis-eins: CLI_EINS_RETELL_KEY" in err and "praxis-zwei: CLI_ZWEI_CALCOM_KEY" in err
    assert "cal_live_only_this_one" not in err


BAD_ARGUMENTS = [
    (["backfill", "--from", "2026-11-31", "--to", "2026-11-30"], "'2026-11-31' is not a calendar day"),
    (["backfill", "--from", "yesterday", "--to", "2026-11-30"], "'yesterday' is not a day; expected YYYY-MM-DD"),
    (["backfill", "--from", "2026-11-24", "--to", "2026-11-20"], "--to 2026-11-20 is before --from 2026-11-24"),
    (["backfill", "--from", "2025-12-30", "--to", "2026-01-02"], "is before the first day of the fact partitions"),
    (
        ["backfill", "--from", "2026-11-20", "--to", "2026-11-24", "--select", "staff"],
        "backfill takes fact assets (calcom_bookings,",
    ),
    (["backfill", "--from", "2026-11-20", "--to", "2026-11-24", "--tenant", "nope"], "unknown tenant 'nope'"),
    (["sync", "--days", "0"], "argument --days: 0 is not allowed"),
    (["sync", "--days", "-2"], "argument --days: -2 is not allowed"),
    (["sync", "--days", "100000"], "reaches back to"),
    (["sync", "--tenant", "nope"], "unknown tenant 'nope'; the tenants file has: praxis-eins, praxis-zwei"),
    (["sync", "--select", "bookings,staff"], "unknown asset(s) bookings; known: api_health, booking_outcomes,"),
    (["sync", "--select", ","], "give one or more comma-separated asset names"),
    (["webhooks", "replay", "--since", "notatime"], "'notatime' is not a time"),
    (["webhooks", "replay"], "give --id (repeatable) or --since"),
    (["webhooks", "list", "--tenant", "nope"], "unknown tenant 'nope'"),
    (["webhooks", "list", "--limit", "0"], "argument --limit: 0 is not allowed"),
    (["webhooks", "serve", "--port", "70000"], "not a port number"),
    (["webhooks", "serve", "--workers", "0"], "argument --workers: 0 is not allowed"),
    (["nonsense"], "invalid choice: 'nonsense'"),
]


def _exit_code_and_stderr(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse rejects the value while parsing
        code = exit_.code
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


@pytest.mark.parametrize(("argv", "message"), BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_and_exit_2(argv, message, tenants_file, capsys):
    code, err = _exit_code_and_stderr(argv, capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err and err.startswith("askpro"), err


def test_backfill_refuses_days_in_the_future(tenants_file, capsys):
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    code, err = _exit_code_and_stderr(["backfill", "--from", "2026-11-20", "--to", str(tomorrow)], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"--to {tomorrow} is in the future for tenant praxis-eins" in err and "backfill refuses future days" in err


def test_every_option_has_help_text():
    def walk(parser: argparse.ArgumentParser, path: str):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction):
                yield f"{path} {'/'.join(action.option_strings) or action.dest}", action.help

    options = list(walk(build_parser(), "askpro"))
    assert len(options) > 20  # the walk found the options (the simulator ones moved to askpro-demo)
    assert [name for name, help_text in options if not help_text] == []


def test_bad_arguments_from_the_installed_script_are_one_line(tenants_file):
    script = str(Path(sys.executable).with_name("askpro"))
    for argv in (["backfill", "--from", "2026-11-31", "--to", "2026-11-30"], ["webhooks", "list", "--tenant", "nope"]):
        result = subprocess.run(
            [script, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ)
        )
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_installed_entry_point_records_in_the_shared_local_instance(tenants_file, tmp_path):
    """`make sync` (`askpro-demo sync`) as a user runs it: no DAGSTER_HOME, so the runs land in
    $ASKPRO_DATA_DIR/dagster_home, where `make dev` (and any fresh DagsterInstance) finds their
    materializations and checks; they carry askpro/mode=demo."""
    data_dir = tmp_path / "fresh-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLI_") and k != "DAGSTER_HOME"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("askpro-demo")), "sync"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "ASKPRO_DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (data_dir / "warehouse.db").exists()
    assert "TOTAL" in result.stdout
    # Nothing of Dagster's own chatter on the terminal: no welcome/telemetry banner, no feature notices.
    assert result.stderr == ""
    for noise in ("Telemetry", "Welcome to Dagster", "Warning", "dagster.yaml", "DEBUG"):
        assert noise not in result.stdout
    run_ids = {
        row[1]: row[-1]
        for row in (line.split() for line in result.stdout.splitlines())
        if row[1:2] in (["sync_dimensions"], ["sync_facts"])
    }

    with DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert {run.tags["askpro/tenant"] for run in runs} == {"praxis-eins", "praxis-zwei"}
        assert {run.tags["askpro/mode"] for run in runs} == {"demo"}
        assert {run.job_name for run in runs} == {"sync_dimensions", "sync_facts"} and len(runs) == 4
        assert set(run_ids.values()) <= {run.run_id for run in runs}
        for table in [*TABLES, "calcom_bookings", "retell_calls", "booking_outcomes"]:
            event = instance.get_latest_materialization_event(AssetKey(table))
            assert event is not None, table
            assert "dagster/row_count" in event.asset_materialization.metadata
        checks = instance.get_asset_check_support()
        assert checks.name == "SUPPORTED"
        evaluations = [
            record
            for run in runs
            for record in instance.all_logs(run.run_id)
            if record.dagster_event and record.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        assert {e.dagster_event.event_specific_data.asset_key.to_user_string() for e in evaluations} >= {
            "staff",
            "phone_assignments",
        }
        assert all(e.dagster_event.event_specific_data.passed for e in evaluations)


def test_backfill_is_recorded_in_the_shared_instance_and_verbose_shows_dagster_logs(
    tenants_file, sqlite_url, monkeypatch, capsys
):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    today = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # today or yesterday in every time zone
    first = today - dt.timedelta(days=1)
    argv = ["backfill", "--tenant", "praxis-eins", "--from", str(first), "--to", str(today), "--verbose"]
    assert demo_main(argv) == 0
    captured = capsys.readouterr()
    assert f"\nBackfill {first}..{today}\n" in captured.out and "log:" not in captured.out
    assert "STEP_SUCCESS" in captured.err  # --verbose: Dagster's step logs on the terminal
    (run_row,) = _rows(captured.out, "praxis-eins", "sync_facts")

    with DagsterInstance.from_config(str(tmp_data_dir() / "dagster_home")) as instance:
        (run,) = instance.get_runs()
        assert run.run_id == run_row[-1] and run.tags["askpro/tenant"] == "praxis-eins"
        for table in ("calcom_bookings", "retell_calls", "booking_outcomes"):
            partitions = {
                record.partition_key for record in instance.fetch_materializations(AssetKey(table), limit=10).records
            }
            assert partitions == {f"{day}|praxis-eins" for day in (first, today)}, table
        evaluations = [
            r
            for r in instance.all_logs(run.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        assert evaluations and all(e.dagster_event.event_specific_data.passed for e in evaluations)


def test_instance_prepare_prints_the_home_make_dev_uses(tmp_path):
    script = str(Path(sys.executable).with_name("askpro"))
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    default = subprocess.run(
        [script, "instance", "prepare"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "ASKPRO_DATA_DIR": str(tmp_path / "d")},
    )
    assert default.returncode == 0 and default.stdout == f"{tmp_path / 'd' / 'dagster_home'}\n" and default.stderr == ""
    assert (tmp_path / "d" / "dagster_home" / "history" / "runs" / "index.db").exists()
    override = subprocess.run(
        [script, "instance", "prepare"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "DAGSTER_HOME": str(tmp_path / "h")},
    )
    assert override.returncode == 0 and override.stdout == f"{tmp_path / 'h'}\n"
    assert "askpro instance prepare" in (ROOT / "Makefile").read_text().split("\ndev:")[1]

"""Demo and production kept apart: real keys never reach the simulator, deployments refuse defaults."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dagster import DagsterInstance

from askpro_pipelines.cli import main
from askpro_pipelines.deployment import ConfigurationError, production_reason, require_production_settings
from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.webhooks.server import serve
from askpro_simulator.cli import main as demo_main
from askpro_simulator.demo import simulator_for

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"

TENANTS = """
tenants:
  - slug: praxis-eins
    name: Praxis Eins
    calcom: {api_version: v2, api_key_env: MODE_EINS_CALCOM_KEY}
    retell: {api_key_env: MODE_EINS_RETELL_KEY}
    branches:
      - {id: mitte, name: Mitte, calcom_event_type_id: 5001, phone_numbers: ["+4930111222301"]}
"""
KEYS = ("MODE_EINS_CALCOM_KEY", "MODE_EINS_RETELL_KEY")


@pytest.fixture
def tenants_file(tmp_path, monkeypatch):
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(TENANTS))
    monkeypatch.setenv("ASKPRO_TENANTS_FILE", str(path))
    for name in (*KEYS, "ASKPRO_SIMULATOR_URL", "ASKPRO_ENV", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    return path


# ---- demo mode ----------------------------------------------------------------------------------


def test_a_real_key_is_never_sent_to_the_simulator(tenants_file, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    with simulator_for(load_tenants()) as simulator:
        monkeypatch.setenv("MODE_EINS_CALCOM_KEY", "cal_live_a_real_key_0123")
        assert main(["sync"]) == 2
        err = capsys.readouterr().err
        (line,) = err.strip().splitlines()  # one line
        assert "praxis-eins" in line and "MODE_EINS_CALCOM_KEY" in line and "ASKPRO_SIMULATOR_URL" in line
        assert "cal_live_a_real_key_0123" not in err
        assert simulator.request_count() == 0  # nothing reached the simulator


def test_loading_tenants_with_a_real_key_and_a_simulator_url_is_refused(tenants_file):
    env = {"ASKPRO_SIMULATOR_URL": "http://127.0.0.1:9", "MODE_EINS_RETELL_KEY": "key_live_0123"}
    with pytest.raises(ValueError, match="tenant praxis-eins: MODE_EINS_RETELL_KEY holds a real API key"):
        load_tenants(str(tenants_file), environ=env)
    # The simulator's own demo keys are what demo mode sends.
    demo = {"ASKPRO_SIMULATOR_URL": "http://127.0.0.1:9", "MODE_EINS_RETELL_KEY": "key_sim_praxis_eins"}
    assert load_tenants(str(tenants_file), environ=demo).tenants[0].retell.base_url == "http://127.0.0.1:9/retell"


def test_the_code_location_refuses_to_load_with_a_real_key_in_demo_mode(tenants_file):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("ASKPRO_ENV", "DAGSTER_HOME")},
        "ASKPRO_SIMULATOR_URL": "http://127.0.0.1:9",
        "MODE_EINS_RETELL_KEY": "key_live_0123456789",
    }
    result = _load_code_location(env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "tenant praxis-eins: MODE_EINS_RETELL_KEY holds a real API key" in last and "key_live" not in result.stderr


def test_the_demo_refuses_when_a_tenant_has_a_key_of_its_own(tenants_file, capsys):
    os.environ["MODE_EINS_CALCOM_KEY"] = "cal_live_a_real_key_0123"
    try:
        assert demo_main(["sync"]) == 2
    finally:
        del os.environ["MODE_EINS_CALCOM_KEY"]
    err = capsys.readouterr().err
    assert "tenant praxis-eins: MODE_EINS_CALCOM_KEY is set" in err and "cal_live" not in err


def test_demo_runs_say_demo_in_the_summary_and_the_run_tags(tenants_file, sqlite_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert demo_main(["sync", "--select", "calcom_event_types"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("DEMO: simulator at http://127.0.0.1:") for line in out.splitlines())
    with DagsterInstance.from_config(str(home)) as instance:
        assert {run.tags["askpro/mode"] for run in instance.get_runs()} == {"demo"}


def test_jobs_carry_the_mode_they_were_loaded_in():
    code = (
        "from askpro_pipelines.definitions import defs; print(defs.resolve_job_def('sync_facts').tags['askpro/mode'])"
    )
    for simulator_url, mode in (("http://127.0.0.1:9", "demo"), (None, "production")):
        env = {k: v for k, v in os.environ.items() if k not in ("ASKPRO_SIMULATOR_URL", "ASKPRO_ENV", "DAGSTER_HOME")}
        if simulator_url:
            env["ASKPRO_SIMULATOR_URL"] = simulator_url
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == mode


# ---- production mode ----------------------------------------------------------------------------


def _production_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    return home


def _load_code_location(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import askpro_pipelines.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _clean_env(**extra: str) -> dict[str, str]:
    drop = ("ASKPRO_TENANTS_FILE", "ASKPRO_WAREHOUSE_URL", "ASKPRO_SIMULATOR_URL", "ASKPRO_ENV", "DAGSTER_HOME")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def test_the_production_instance_config_without_a_tenants_file_refuses_to_load(tmp_path, postgres_url):
    home = _production_home(tmp_path)
    env = _clean_env(DAGSTER_HOME=str(home), DAGSTER_PG_URL=postgres_url, ASKPRO_WAREHOUSE_URL=postgres_url)
    # The instance itself loads (as tests/test_deploy.py does); the code location refuses.
    os.environ["DAGSTER_PG_URL"] = postgres_url
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    finally:
        del os.environ["DAGSTER_PG_URL"]
    result = _load_code_location(env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "ASKPRO_TENANTS_FILE is not set" in last and "PostgreSQL" in last


def test_the_production_instance_loads_with_explicit_settings(tmp_path, postgres_url, tenants_file):
    home = _production_home(tmp_path)
    env = _clean_env(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_URL=postgres_url,
        ASKPRO_WAREHOUSE_URL=postgres_url,
        ASKPRO_TENANTS_FILE=str(tenants_file),
    )
    result = _load_code_location(env)
    assert result.returncode == 0, result.stderr
    refused = _load_code_location({**env, "ASKPRO_SIMULATOR_URL": "http://127.0.0.1:9"})
    assert refused.returncode != 0 and "ASKPRO_SIMULATOR_URL is set" in refused.stderr.strip().splitlines()[-1]


def test_askpro_env_production_refuses_each_missing_setting(tenants_file, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("ASKPRO_ENV", "production")
    monkeypatch.delenv("ASKPRO_WAREHOUSE_URL", raising=False)
    assert main(["tenants", "validate"]) == 2
    assert capsys.readouterr().err.strip() == (
        "askpro tenants validate: error: production (ASKPRO_ENV=production): ASKPRO_WAREHOUSE_URL is not set; "
        "a deployment names its warehouse URL explicitly"
    )
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", sqlite_url)
    monkeypatch.delenv("ASKPRO_TENANTS_FILE")
    assert main(["sync"]) == 2
    assert "ASKPRO_TENANTS_FILE is not set" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="ASKPRO_TENANTS_FILE is not set"):
        serve(port=0)  # the webhook receiver refuses before binding
    assert demo_main(["sync"]) == 2
    assert "the demo and its simulator are refused" in capsys.readouterr().err


def test_production_detection(tmp_path):
    assert production_reason({}) is None
    assert production_reason({"ASKPRO_ENV": "Production"}) == "ASKPRO_ENV=production"
    home = _production_home(tmp_path)
    assert "PostgreSQL" in production_reason({"DAGSTER_HOME": str(home)})
    assert production_reason({"DAGSTER_HOME": str(home), "ASKPRO_ENV": "demo"}) is None  # explicit wins
    sqlite_home = tmp_path / "sqlite_home"
    sqlite_home.mkdir()
    (sqlite_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert production_reason({"DAGSTER_HOME": str(sqlite_home)}) is None
    require_production_settings({})  # a local process keeps its defaults


def test_every_deployment_config_says_production():
    assert "ENV ASKPRO_ENV=production" in (DEPLOY / "Dockerfile").read_text()
    assert "COPY askpro_simulator" not in (DEPLOY / "Dockerfile").read_text()
    assert "ASKPRO_ENV=production" in (DEPLOY / "docker" / "dagster.yaml").read_text()
    import yaml

    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert {"name": "ASKPRO_ENV", "value": "production"} in deployment["env"]
    assert "ASKPRO_ENV=production" in values["runLauncher"]["config"]["k8sRunLauncher"]["envVars"]

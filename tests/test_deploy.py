"""The scale-out configs load as Dagster reads them (no Docker engine or cluster runs here)."""

import shutil
from pathlib import Path

import yaml
from dagster import DagsterInstance

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_docker_instance_config_loads_with_the_docker_run_launcher(postgres_url, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "docker" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    monkeypatch.setenv("ASKPRO_IMAGE", "registry.example/askpro-pipelines:test")
    with DagsterInstance.from_config(str(home)) as instance:
        launcher = instance.run_launcher
        assert type(launcher).__name__ == "DockerRunLauncher"
        assert launcher.image == "registry.example/askpro-pipelines:test"
        assert "ASKPRO_WAREHOUSE_URL" in launcher.env_vars
        assert instance.run_retries_enabled and not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        assert instance.run_coordinator.dequeue_use_threads and instance.run_coordinator.dequeue_num_workers == 4


def test_helm_values_name_the_code_location_and_the_k8s_launcher():
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "askpro_pipelines.definitions", "-a", "defs"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runRetries"]["retryOnAssetOrOpFailure"] is False
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["dequeueIntervalSeconds"] == 1
    assert queue["dequeueUseThreads"] is True and queue["dequeueNumWorkers"] == 4


def test_dockerfile_serves_the_code_location():
    text = (DEPLOY / "Dockerfile").read_text()
    assert "askpro_pipelines.definitions" in text and 'pip install --no-cache-dir ".[docker,k8s]"' in text


def test_the_instance_database_is_reached_through_pgbouncer_with_session_pooling():
    """dagster-postgres connects anew for every storage call: the deployment puts PgBouncer in front of
    the instance database (benchmarks/RESULTS.md, figure 8), pooling sessions and resetting them."""
    import configparser

    ini = configparser.ConfigParser(inline_comment_prefixes=(";",))
    ini.read(DEPLOY / "pgbouncer" / "pgbouncer.ini")
    bouncer = ini["pgbouncer"]
    assert bouncer["pool_mode"] == "session" and bouncer["server_reset_query"] == "DISCARD ALL"
    assert "dagster" in ini["databases"]
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    assert values["postgresql"]["service"]["port"] == int(bouncer["listen_port"])
    assert f":{bouncer['listen_port']}/" in (DEPLOY / "dagster.yaml").read_text()

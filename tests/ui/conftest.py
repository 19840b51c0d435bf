"""Fixtures of the browser test: the simulator, `dagster dev` on a free loopback port, and Chromium.

Everything runs on 127.0.0.1: the simulator serves the demo tenants in this process, `dagster dev`
runs as a subprocess in its own session (so teardown can end the webserver, the daemon, the code
servers and any run worker as one process group), and Playwright drives Debian's Chromium at
/usr/bin/chromium. `scripts/install-ui-test-deps` installs Chromium and Playwright.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# As root, in a sandbox with no network but the package registries (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 120
DEMO_TENANT = "praxis-am-stadtpark"  # the partition the test materializes

# The tmp instance holds runs launched by the schedules (dimensions at :05, facts every 15
# minutes) in the queue, so a test that happens to straddle a tick only runs what it launches
# itself from the UI. Everything else is the default `dagster dev` instance.
DAGSTER_YAML = """\
run_queue:
  tag_concurrency_limits:
    - key: "dagster/schedule_name"
      limit: 0
telemetry:
  enabled: false
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ui: drives the Dagster UI in headless Chromium (needs scripts/install-ui-test-deps)"
    )
    config.addinivalue_line("markers", "ui_synced: the demo tenant is synced into the instance before the UI starts")


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(reason: str):
    """Under CI the UI test must run: fail loudly. Locally, skip with the reason."""
    hint = "run scripts/install-ui-test-deps .venv"
    if _under_ci():
        pytest.fail(f"UI test requirements missing under CI: {reason} ({hint})", pytrace=False)
    pytest.skip(f"{reason} ({hint})")


@pytest.fixture(scope="session")
def playwright_sync_api():
    """The Playwright sync API module, after checking Chromium and Playwright are installed."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _missing(f"{CHROMIUM} is not installed (Debian package chromium)")
    try:
        from playwright import sync_api
    except ImportError as exc:
        _missing(f"Python package playwright is not installed: {exc}")
    return sync_api


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots and, on failure, the dagster log go: $ASKPRO_TEST_ARTIFACTS or test-artifacts/ui."""
    path = Path(os.environ.get("ASKPRO_TEST_ARTIFACTS") or REPO / "test-artifacts" / "ui")
    path.mkdir(parents=True, exist_ok=True)
    for stale in ("failure.png", "dagster-dev.log"):  # kept from an earlier failed run
        (path / stale).unlink(missing_ok=True)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http_json(url: str, payload: dict | None = None, timeout: float = 10.0) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class DagsterUI:
    base_url: str
    dagster_home: Path
    warehouse_url: str
    log_path: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = _http_json(f"{self.base_url}/graphql", {"query": query, "variables": variables or {}})
        assert "errors" not in body, body["errors"]
        return body["data"]

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextmanager
def _sigint_not_ignored():
    """Start children with SIGINT at its default even when pytest runs with it ignored (a background job).

    `dagster dev` treats SIGTERM as SIGINT; it would ignore both if it inherited SIGINT ignored, and
    teardown would then have to wait for the SIGKILL. A handler set here is reset to the default in
    the child at exec (an ignored signal would stay ignored).
    """
    ignored = (
        threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    )
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate_group(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """End `dagster dev` and everything it started: SIGTERM to the group, then SIGKILL to what is left."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = proc.pid  # the leader is gone; its children still carry its group id
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    # Whatever did not stop in time (or outlived the leader: code servers, a run worker) is killed.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _wait_until_ready(ui: DagsterUI, proc: subprocess.Popen) -> None:
    """Bounded wait for GET /server_info, then for the code location to have loaded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = "no answer yet"
    server_up = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"dagster dev exited with code {proc.returncode} while starting:\n{ui.log_tail()}", pytrace=False
            )
        try:
            if not server_up:
                _http_json(f"{ui.base_url}/server_info", timeout=5)
                server_up = True
            data = ui.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
            entries = data["workspaceOrError"]["locationEntries"]
            statuses = {entry["name"]: entry["loadStatus"] for entry in entries}
            if statuses.get("askpro_pipelines") == "LOADED":
                return
            last_error = f"code locations: {statuses}"
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    pytest.fail(
        f"dagster dev not ready within {STARTUP_TIMEOUT_S}s ({last_error}); log tail:\n{ui.log_tail()}", pytrace=False
    )


@pytest.fixture
def dagster_ui(playwright_sync_api, tmp_path, monkeypatch, request, artifacts_dir):
    """`dagster dev -w workspace.yaml` on a free loopback port, syncing the demo tenants from the simulator.

    The simulator runs in this process (`simulator_for` sets the tenants' key variables and
    ASKPRO_SIMULATOR_URL in os.environ); the warehouse is a tmp SQLite file and DAGSTER_HOME a
    tmp folder whose tenant partitions are added before the UI starts (the tenants sensor would
    only add them on the daemon's first tick). A test marked `ui_synced` finds the demo tenant
    synced (dimensions and today's facts, `askpro sync`'s runs) in that instance.
    """
    from dagster import DagsterInstance

    from askpro_pipelines.sync import run_sync
    from askpro_pipelines.tenants import load_tenants
    from askpro_simulator.demo import simulator_for

    # The bundled demo tenants, whatever the calling shell had set.
    monkeypatch.delenv("ASKPRO_TENANTS_FILE", raising=False)
    monkeypatch.setenv("ASKPRO_DATA_DIR", str(tmp_path / "askpro-data"))
    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("ASKPRO_WAREHOUSE_URL", warehouse_url)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))

    config = load_tenants()
    assert DEMO_TENANT in config.slugs, config.slugs

    port = _free_port()
    log_path = tmp_path / "dagster-dev.log"
    with simulator_for(config):
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            instance.add_dynamic_partitions("tenants", list(config.slugs))
            if request.node.get_closest_marker("ui_synced"):  # pages that show a materialization's metadata
                report = run_sync(config, tenant_slugs=[DEMO_TENANT], instance=instance)
                assert report.success, report.tenants
        ui = DagsterUI(
            base_url=f"http://127.0.0.1:{port}",
            dagster_home=dagster_home,
            warehouse_url=warehouse_url,
            log_path=log_path,
        )
        dagster_bin = Path(sys.executable).with_name("dagster")
        if not dagster_bin.exists():
            dagster_bin = Path(shutil.which("dagster") or "dagster")
        command = [str(dagster_bin), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
        with open(log_path, "wb") as log, _sigint_not_ignored():
            proc = subprocess.Popen(
                command,
                cwd=REPO,
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        keep_log = True  # unless the test passes: a failed start or test leaves the log beside the screenshots
        try:
            _wait_until_ready(ui, proc)
            yield ui
            keep_log = getattr(request.node, "ui_failed", False)
        finally:
            _terminate_group(proc)
            if keep_log:
                shutil.copy(log_path, artifacts_dir / "dagster-dev.log")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Mark the test item when its call failed, so fixtures can keep logs and a last screenshot."""
    report = yield
    if report.when == "call" and report.failed:
        item.ui_failed = True
    return report


@pytest.fixture
def page(playwright_sync_api, tmp_path, artifacts_dir, request):
    """A page of headless Debian Chromium with a new, empty profile; on failure its last screen is kept."""
    with playwright_sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(30_000)
            yield page
            if getattr(request.node, "ui_failed", False):
                page.screenshot(path=str(artifacts_dir / "failure.png"), full_page=True)
        finally:
            context.close()

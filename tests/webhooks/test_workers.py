"""`askpro webhooks serve --workers N`: several processes on one port, one landing table, a clean stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from askpro_pipelines.warehouse.store import create_engine
from askpro_pipelines.webhooks.store import WebhookStore
from tests.webhooks.signed import post_retell, retell_body

ASKPRO = Path(sys.executable).parent / "askpro"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


class _Receiver:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def served(tenants_file, postgres_url):
    port = _free_port()
    env = {**os.environ, "ASKPRO_WAREHOUSE_URL": postgres_url}
    command = [str(ASKPRO), "webhooks", "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the receiver did not answer within 60 s"
            time.sleep(0.2)
        yield process, _Receiver(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_two_worker_processes_land_each_event_once_and_stop_cleanly(served, postgres_url):
    process, receiver = served
    workers = _children(process.pid)
    assert len(workers) >= 2, workers  # uvicorn's supervisor and its worker processes
    bodies = [retell_body(f"call_{i}") for i in range(120)] + [retell_body(f"call_{i}") for i in range(0, 120, 4)]
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=16)) as client, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda body: post_retell(client, receiver, body), bodies))

    assert {a.status_code for a in answers} == {200}
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("stored") == 120 and statuses.count("duplicate") == 30
    store = WebhookStore(create_engine(postgres_url))
    try:
        events = store.list(limit=1000)
        assert len(events) == 120
        ids = {e.dedup_key: e.id for e in events}
        for body, answer in zip(bodies, answers, strict=True):
            assert ids[f"call_ended:{json.loads(body)['call']['call_id']}"] == answer.json()["id"]
    finally:
        store.dispose()

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert _wait_gone(workers, timeout_s=10) == set(), "a worker outlived the supervisor"


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child whose new parent has not reaped it yet)."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids: set[int], timeout_s: float) -> set[str]:
    deadline = time.monotonic() + timeout_s
    while (alive := {pid for pid in pids if _running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()[:200]!r}" for pid in alive}

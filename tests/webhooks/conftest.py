"""Receivers on loopback for the webhook tests: a tenants file with secrets set, started receivers, a client."""

import httpx
import pytest

from askpro_pipelines.tenants import load_tenants
from askpro_pipelines.warehouse.store import create_engine
from askpro_pipelines.webhooks.server import ReceiverThread
from askpro_pipelines.webhooks.store import WebhookStore
from tests.webhooks.signed import CAL_SECRET, RETELL_KEY, TENANTS_YAML


@pytest.fixture
def tenants_file(tmp_path, monkeypatch):
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS_YAML, "utf-8")
    monkeypatch.setenv("ASKPRO_TENANTS_FILE", str(path))
    monkeypatch.delenv("ASKPRO_SIMULATOR_URL", raising=False)
    monkeypatch.setenv("TEST_PRAXIS_CAL_WEBHOOK_SECRET", CAL_SECRET)
    monkeypatch.setenv("TEST_PRAXIS_RETELL_KEY", RETELL_KEY)
    return path


@pytest.fixture
def start_receiver(tenants_file):
    """Start receivers on a database URL; every one is stopped at the end of the test."""
    started: list[tuple[ReceiverThread, WebhookStore]] = []

    def start(url: str, **options) -> tuple[ReceiverThread, WebhookStore]:
        store = WebhookStore(create_engine(url))
        receiver = ReceiverThread(store, load_tenants, **options)
        receiver.start()
        started.append((receiver, store))
        return receiver, store

    yield start
    for receiver, store in started:
        receiver.stop()
        store.dispose()


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as c:
        yield c

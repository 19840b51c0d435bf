"""Fixtures shared by the simulator tests: each module's `CONFIG` served once, and an HTTP client."""

import httpx
import pytest

from askpro_simulator import Simulator


@pytest.fixture(scope="module")
def sim(request):
    with Simulator(request.module.CONFIG) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _no_leftover_faults(request):
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").clear_faults()


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=10) as http:
        yield http

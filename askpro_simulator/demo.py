"""Demo wiring: serve a tenants file's tenants from the simulator and point them at it.

This lives in the simulator package because the production package never imports the
simulator: the demo starts here and calls askpro_pipelines' public pieces, not the reverse.
"""

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from askpro_pipelines.tenants import SIMULATOR_URL_ENV, TenantsConfig
from askpro_simulator.accounts import SimulatorConfig, config_from_tenants
from askpro_simulator.server import Simulator


def sim_config_for(
    config: TenantsConfig, seed: int = 42, spec_overrides: Mapping[str, Mapping] | None = None
) -> SimulatorConfig:
    """The simulator config serving these tenants; `spec_overrides` sets fields per slug (size, ...)."""
    sim_config = config_from_tenants(config.tenants, seed=seed)
    sim_config.tenants = [
        dataclasses.replace(spec, **dict((spec_overrides or {}).get(spec.slug, {}))) for spec in sim_config.tenants
    ]
    return sim_config


def demo_keys(config: TenantsConfig, sim_config: SimulatorConfig) -> dict[str, str]:
    """Each tenant's key variables set to the simulator's demo keys for that tenant."""
    env = {}
    for tenant, spec in zip(config.tenants, sim_config.tenants):
        env[tenant.calcom.api_key_env] = spec.calcom_key
        if tenant.retell:
            env[tenant.retell.api_key_env] = spec.retell_key
    return env


# The demo's request budgets (askpro_pipelines/resources/budget.py): the simulator reports Cal.com's
# limits but does not enforce them, and a demo or test sync should not wait on the production budget
# of 100 requests a minute. Variables already set win (a test of the budget sets its own).
DEMO_BUDGETS = {
    "ASKPRO_CALCOM_REQUESTS_PER_MINUTE": "6000",
    "ASKPRO_CALCOM_REQUEST_BURST": "200",
    "ASKPRO_RETELL_REQUESTS_PER_MINUTE": "600000",
    "ASKPRO_RETELL_REQUEST_BURST": "5000",
}


def demo_budgets() -> dict[str, str]:
    """The demo budgets for the variables not set already."""
    return {name: value for name, value in DEMO_BUDGETS.items() if not os.environ.get(name)}


@contextmanager
def simulator_for(
    config: TenantsConfig, seed: int = 42, port: int = 0, spec_overrides: Mapping[str, Mapping] | None = None
) -> Iterator[Simulator]:
    """Serve the tenants from the simulator and point them at it for the duration.

    Sets each tenant's key variables to the simulator's demo keys and ASKPRO_SIMULATOR_URL, and
    restores the environment afterwards. Yields the running simulator (tests add faults to it).
    `spec_overrides` sets simulator fields per tenant slug (size, uuid host ids, ...).
    """
    sim_config = sim_config_for(config, seed, spec_overrides)
    simulator = Simulator(sim_config, port=port)
    simulator.start()
    try:
        env = {SIMULATOR_URL_ENV: simulator.base_url, **demo_keys(config, sim_config), **demo_budgets()}
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield simulator
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    finally:
        simulator.stop()

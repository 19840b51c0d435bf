"""Demo wiring: serve a tenants file's tenants from the simulator and point them at it.

This lives in the simulator package because the production package never imports the
simulator: the demo starts here and calls askpro_pipelines' public pieces, not the reverse.
"""

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from askpro_pipelines.tenants import SIMULATOR_URL_ENV, TenantsConfig
from askpro_simulator.accounts import config_from_tenants
from askpro_simulator.server import Simulator


def demo_environment(config: TenantsConfig, simulator: Simulator) -> dict[str, str]:
    """The variables that point the tenants at a running simulator: its URL and its demo keys."""
    env = {SIMULATOR_URL_ENV: simulator.base_url}
    for tenant in config.tenants:
        spec = simulator.world.tenants[tenant.slug].spec
        env[tenant.calcom.api_key_env] = spec.calcom_key
        if tenant.retell:
            env[tenant.retell.api_key_env] = spec.retell_key
    return env


@contextmanager
def simulator_for(
    config: TenantsConfig, seed: int = 42, port: int = 0, spec_overrides: Mapping[str, Mapping] | None = None
) -> Iterator[Simulator]:
    """Serve the tenants from the simulator and point them at it for the duration.

    Sets each tenant's key variables to the simulator's demo keys and ASKPRO_SIMULATOR_URL, and
    restores the environment afterwards. Yields the running simulator (tests add faults to it).
    `spec_overrides` sets simulator fields per tenant slug (size, uuid host ids, ...).
    """
    sim_config = config_from_tenants(config.tenants, seed=seed)
    sim_config.tenants = [
        dataclasses.replace(spec, **dict((spec_overrides or {}).get(spec.slug, {}))) for spec in sim_config.tenants
    ]
    simulator = Simulator(sim_config, port=port)
    simulator.start()
    try:
        env = demo_environment(config, simulator)
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

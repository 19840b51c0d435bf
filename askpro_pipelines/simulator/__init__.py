"""A deterministic fake of Cal.com (v1, v2) and Retell over real loopback HTTP.

It is the embedded data source when no API keys are configured and the test double for the
clients: the same seed gives the same accounts and byte-identical response bodies, and faults
(error statuses, 429s with retry headers, slow answers, malformed records) can be injected.
"""

from askpro_pipelines.simulator.server import Fault, Simulator
from askpro_pipelines.simulator.world import (
    SimTenantSpec,
    SimulatorConfig,
    TenantWorld,
    World,
    build_world,
    config_from_tenants,
    demo_config,
    sim_calcom_key,
    sim_retell_key,
)

__all__ = [
    "Fault",
    "SimTenantSpec",
    "Simulator",
    "SimulatorConfig",
    "TenantWorld",
    "World",
    "build_world",
    "config_from_tenants",
    "demo_config",
    "sim_calcom_key",
    "sim_retell_key",
]

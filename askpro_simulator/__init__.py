"""A deterministic fake of Cal.com (v1, v2) and Retell over real loopback HTTP.

A package of its own beside askpro_pipelines, which never imports it: the demo's data source
(`askpro-demo`, `make sync`) and the test double for the clients. The same seed gives the same
accounts and byte-identical response bodies, and faults (error statuses, 429s with retry
headers, slow answers, malformed records) can be injected. Bookings and calls are generated per
tenant and local day on first use (activity.py), and webhooks.py turns them into signed Cal.com
and Retell webhook deliveries.
"""

from askpro_simulator.accounts import (
    SimTenantSpec,
    SimulatorConfig,
    config_from_tenants,
    demo_config,
    sim_calcom_key,
    sim_retell_key,
)
from askpro_simulator.activity import TenantActivity
from askpro_simulator.records import (
    ACTIVITY_FIRST_DAY,
    ACTIVITY_LAST_DAY,
    SimAttendee,
    SimBooking,
    SimCall,
    retell_call_object,
)
from askpro_simulator.responses import Fault
from askpro_simulator.server import Simulator
from askpro_simulator.webhooks import (
    booking_webhook_payload,
    calcom_delivery,
    call_webhook_payload,
    deliveries_for_day,
    retell_delivery,
)
from askpro_simulator.world import TenantWorld, World, build_world

__all__ = [
    "ACTIVITY_FIRST_DAY",
    "ACTIVITY_LAST_DAY",
    "Fault",
    "SimAttendee",
    "SimBooking",
    "SimCall",
    "SimTenantSpec",
    "Simulator",
    "SimulatorConfig",
    "TenantActivity",
    "TenantWorld",
    "World",
    "booking_webhook_payload",
    "build_world",
    "calcom_delivery",
    "call_webhook_payload",
    "config_from_tenants",
    "deliveries_for_day",
    "demo_config",
    "retell_call_object",
    "retell_delivery",
    "sim_calcom_key",
    "sim_retell_key",
]

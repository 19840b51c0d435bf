"""The simulated world: every tenant's accounts (accounts.py) with their bookings and calls (activity.py).

The world is the single source of truth the simulator's HTTP views are rendered from, and what
tests compare a sync against. Accounts are static and built once (build.py); bookings and calls
are generated per tenant and local day on first use. Imports run one way (accounts <- records <-
generation <- activity <- world), so there is no import cycle.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date

from askpro_simulator.accounts import SimulatorConfig, TenantAccounts
from askpro_simulator.activity import TenantActivity
from askpro_simulator.build import build_tenants
from askpro_simulator.records import SimBooking, SimCall


@dataclass
class TenantWorld(TenantAccounts):
    """One tenant's accounts plus its bookings and calls."""

    _activity: TenantActivity | None = field(init=False, repr=False, compare=False, default=None)
    _activity_lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)

    @property
    def activity(self) -> TenantActivity:
        """Bookings and calls, made on first use so a world that never needs them pays nothing."""
        with self._activity_lock:
            if self._activity is None:
                self._activity = TenantActivity(self)
            return self._activity

    def bookings_on(self, day: date | str) -> list[SimBooking]:
        """Bookings starting on this local day (the tenant's time zone), by start then id."""
        return self.activity.bookings_on(day)

    def calls_on(self, day: date | str) -> list[SimCall]:
        """Calls starting on this local day, by start then call id."""
        return self.activity.calls_on(day)

    def booking(self, uid: str) -> SimBooking | None:
        return self.activity.booking(uid)

    def call(self, call_id: str) -> SimCall | None:
        return self.activity.call(call_id)


@dataclass
class World:
    """Every tenant's accounts, in config order, with key lookups for authentication."""

    seed: int
    tenants: dict[str, TenantWorld]
    _by_calcom_key: dict[str, TenantWorld] = field(init=False, repr=False, compare=False)
    _by_retell_key: dict[str, TenantWorld] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_calcom_key = {t.spec.calcom_key: t for t in self.tenants.values()}
        self._by_retell_key = {t.spec.retell_key: t for t in self.tenants.values()}

    def tenant(self, slug: str) -> TenantWorld:
        return self.tenants[slug]

    def tenant_for_calcom_key(self, key: str | None) -> TenantWorld | None:
        return self._by_calcom_key.get(key) if key else None

    def tenant_for_retell_key(self, key: str | None) -> TenantWorld | None:
        return self._by_retell_key.get(key) if key else None

    def bookings_on(self, slug: str, day: date | str) -> list[SimBooking]:
        """A tenant's bookings starting on a local day; deterministic per (seed, slug, day)."""
        return self.tenants[slug].bookings_on(day)

    def calls_on(self, slug: str, day: date | str) -> list[SimCall]:
        """A tenant's calls starting on a local day; deterministic per (seed, slug, day)."""
        return self.tenants[slug].calls_on(day)


def build_world(config: SimulatorConfig) -> World:
    """Generate every tenant's data; raises ValueError for an inconsistent config."""
    return World(seed=config.seed, tenants=build_tenants(config, TenantWorld))

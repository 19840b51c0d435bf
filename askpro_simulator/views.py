"""Every response body of one tenant, each rendered on first use and then reused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from askpro_simulator.calcom_v1 import CalcomV1Views, v1_booking
from askpro_simulator.calcom_v2 import CalcomV2Views
from askpro_simulator.calcom_v2_bookings import v2_booking_record
from askpro_simulator.records import retell_call_object
from askpro_simulator.responses import ViewsBase
from askpro_simulator.retell_api import RetellViews
from askpro_simulator.world import TenantWorld

# kind -> (renderer, which of a day's items it renders)
_DAY_RENDERERS: dict[str, tuple[Callable[[TenantWorld, Any], dict], str]] = {
    "v2_booking": (v2_booking_record, "bookings"),
    "v1_booking": (v1_booking, "bookings"),
    "retell_call": (lambda _tenant, call: retell_call_object(call, transcript=False), "calls"),
    "retell_call_full": (lambda _tenant, call: retell_call_object(call), "calls"),
}


class TenantViews(ViewsBase, CalcomV1Views, CalcomV2Views, RetellViews):
    """Every response body of one tenant, each rendered on first use and then reused.

    Lazy so a huge world starts at once and a v1-only client never pays for v2 renderings;
    every view is only touched from the server's event-loop thread.
    """

    day_renderers = _DAY_RENDERERS

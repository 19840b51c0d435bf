"""Links to the Cal.com and Retell dashboard pages where ops staff change a row by hand.

Only rendered (warehouse column, asset metadata), never fetched. Ids are percent-encoded, so an
id holding '/', '?' or '#' cannot point the link at another page. Where the dashboard has no page
per record (a Cal.com member, a Retell agent version or phone number), the link goes to the
nearest page that has it: the members list, the agent's page, the phone numbers list.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

CALCOM_DASHBOARD_URL = "https://app.cal.com"
RETELL_DASHBOARD_URL = "https://dashboard.retellai.com"


def _segment(value: Any) -> str:
    """One path segment: every reserved character encoded, '/' included."""
    return quote(str(value), safe="")


@dataclass(frozen=True)
class CalcomLinks:
    """Pages of one Cal.com web app (app.cal.com, or a self-hosted instance)."""

    base: str = CALCOM_DASHBOARD_URL

    def event_types(self) -> str:
        """The event types list."""
        return f"{self.base}/event-types"

    def event_type(self, event_type_id: Any) -> str:
        """The event type's settings page."""
        return f"{self.base}/event-types/{_segment(event_type_id)}"

    def availability(self) -> str:
        """The availability schedules list."""
        return f"{self.base}/availability"

    def schedule(self, schedule_id: Any) -> str:
        """The availability schedule's page: weekly hours and date overrides."""
        return f"{self.base}/availability/{_segment(schedule_id)}"

    def members(self) -> str:
        """The organization's members list (Cal.com has no page per member; editing opens in place)."""
        return f"{self.base}/settings/organizations/members"


@dataclass(frozen=True)
class RetellLinks:
    """Pages of the Retell dashboard."""

    base: str = RETELL_DASHBOARD_URL

    def agents(self) -> str:
        """The agents list."""
        return f"{self.base}/agents"

    def agent(self, agent_id: Any) -> str:
        """The agent's page; its versions are chosen there (no page per version)."""
        return f"{self.base}/agents/{_segment(agent_id)}"

    def phone_numbers(self) -> str:
        """The phone numbers list, where a number's agents are bound (no page per number)."""
        return f"{self.base}/phone-numbers"


@dataclass(frozen=True)
class DashboardLinks:
    """A tenant's dashboard links (`Tenant.dashboard_links()` reads the bases from the tenants file)."""

    calcom: CalcomLinks = CalcomLinks()
    retell: RetellLinks = RetellLinks()

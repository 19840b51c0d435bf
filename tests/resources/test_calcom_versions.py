"""The `cal-api-version` registry: every Cal.com v2 request of a sync carries its endpoint's version."""

import datetime as dt
import re

from askpro_pipelines.resources.calcom import CAL_API_VERSIONS, v2_headers
from askpro_pipelines.sync import FACT_ASSETS

CALCOM_ASSETS = [
    "calcom_event_types",
    "staff",
    "staff_event_types",
    "working_hours",
    "working_hour_overrides",
    "calcom_bookings",
]


def _template_of(path: str) -> str | None:
    """The registered template a concrete path matches, if any."""
    for template in CAL_API_VERSIONS:
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return None


def test_the_registry_covers_the_reference_versions():
    assert CAL_API_VERSIONS["/v2/event-types"] == "2024-06-14"
    assert CAL_API_VERSIONS["/v2/schedules"] == "2024-06-11"
    assert CAL_API_VERSIONS["/v2/bookings"] == "2024-08-13"
    assert v2_headers("/v2/teams") == {} and v2_headers("/v2/bookings") == {"cal-api-version": "2024-08-13"}


def test_every_v2_request_of_a_sync_sends_its_registered_version(sync, simulator):
    report = sync(tenant_slugs=["praxis-v2"], select=[a for a in CALCOM_ASSETS if a not in FACT_ASSETS])
    assert report.success, report.tenants[0].errors
    assert sync(tenant_slugs=["praxis-v2"], select=["calcom_bookings"], until=dt.date(2026, 11, 18)).success
    sent = simulator.calcom_api_versions
    templates = {_template_of(path) for path, _ in sent}
    assert None not in templates, [p for p, _ in sent if _template_of(p) is None]  # every endpoint is registered
    assert {"/v2/me", "/v2/event-types", "/v2/event-types/{event_type_id}", "/v2/bookings"} <= templates
    wrong = [(path, version) for path, version in sent if version != CAL_API_VERSIONS[_template_of(path)]]
    assert not wrong
    # The endpoints whose shape depends on it were read with it (the simulator answers the old shape otherwise).
    assert {v for p, v in sent if _template_of(p) in ("/v2/event-types", "/v2/bookings")} == {
        "2024-06-14",
        "2024-08-13",
    }

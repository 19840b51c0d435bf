"""The resources over real loopback HTTP: a malformed record is rejected (for the quarantine) with
its secrets redacted, while a broken response as a whole still fails."""

import pytest

from askpro_pipelines.resources.calcom import CalcomClient
from askpro_pipelines.resources.http import ApiError, PayloadError
from askpro_pipelines.tenants import parse_tenants
from tests.resources.test_http import SECRET, Scripted, _server, delays, make_client, server  # noqa: F401 (fixtures)

TENANTS = """
tenants:
  - slug: praxis-am-stadtpark
    name: Praxis
    calcom: {api_version: v1, api_key_env: T_CALCOM_KEY, webhook_secret_env: T_CALCOM_SECRET}
    branches: [{id: mitte, name: Mitte, calcom_event_type_id: 1}]
"""


def _event_type(event_type_id, **changes):
    return {
        "id": event_type_id,
        "title": "Beratung",
        "slug": "beratung",
        "length": 30,
        "hidden": False,
        "userId": 7,
        **changes,
    }


@pytest.fixture
def client(server, make_client):
    tenant = parse_tenants(TENANTS).tenants[0]
    return CalcomClient(tenant, make_client())


def test_a_malformed_record_is_rejected_redacted_and_the_rest_is_returned(server, client):
    bad = _event_type(2, length="abc", description=f"Zugang: {SECRET}")
    server.script("/v1/event-types", Scripted(json={"event_types": [_event_type(1), bad, _event_type(3)]}))
    server.script("/v1/teams", Scripted(json={"teams": []}))
    assert [et.event_type_id for et in client.event_types()] == ["1", "3"]
    (rejected,) = client.rejected.items
    assert (rejected.api, rejected.entity, rejected.record_id, rejected.scope) == ("calcom", "event_types", "2", "")
    assert "length" in rejected.error and "abc" not in rejected.error  # field paths, never values
    assert SECRET not in str(rejected.payload) and rejected.payload["title"] == "Beratung"
    assert client.rejected.ids("event_types") == {"2"}
    assert client.rejected.drain("event_types") == [rejected] and client.rejected.items == []


@pytest.mark.parametrize(
    "answer, error",
    [
        (Scripted(text="<html>Bad Gateway</html>"), ApiError),  # an error page with status 200
        (Scripted(json={"data": []}), PayloadError),  # the envelope is missing
    ],
)
def test_a_broken_response_as_a_whole_still_fails(server, client, answer, error):
    server.script("/v1/event-types", answer)
    with pytest.raises(error) as caught:
        list(client.event_types())
    assert "tenant=praxis-am-stadtpark" in str(caught.value) and "entity=event_types" in str(caught.value)
    assert client.rejected.items == []

"""Dashboard links: the page of each entity for the default and a self-hosted base, ids encoded,
the bases read from the tenants file (validated, errors naming tenant and field), and the rows
the warehouse layer builds carrying them."""

import datetime as dt

import pytest

from askpro_pipelines.models.calcom import DateOverride, EventType, Schedule, Staff, WeeklyInterval
from askpro_pipelines.models.links import CalcomLinks, DashboardLinks, RetellLinks
from askpro_pipelines.models.retell import AgentVersion, PhoneNumber
from askpro_pipelines.tenants import TenantsFileError, load_tenants, parse_tenants
from askpro_pipelines.warehouse.rows import (
    agent_version_rows,
    event_type_rows,
    latest_agent_rows,
    phone_number_rows,
    staff_rows,
    working_hour_rows,
)

SELF_HOSTED = "https://termine.praxis.example/cal"

TENANT = """
tenants:
  - slug: praxis-selbst
    name: Praxis mit eigenem Cal.com
    calcom:
      base_url: https://termine.praxis.example/api
      api_key_env: SELF_CALCOM_API_KEY
      dashboard_url: {calcom}
    retell:
      api_key_env: SELF_RETELL_API_KEY
"""


def test_default_pages_of_each_entity():
    links = DashboardLinks()
    assert links.calcom.event_type(1001) == "https://app.cal.com/event-types/1001"
    assert links.calcom.event_types() == "https://app.cal.com/event-types"
    assert links.calcom.schedule("77") == "https://app.cal.com/availability/77"
    assert links.calcom.availability() == "https://app.cal.com/availability"
    assert links.calcom.members() == "https://app.cal.com/settings/organizations/members"
    assert links.retell.agent("agent_3f2a") == "https://dashboard.retellai.com/agents/agent_3f2a"
    assert links.retell.agents() == "https://dashboard.retellai.com/agents"
    assert links.retell.phone_numbers() == "https://dashboard.retellai.com/phone-numbers"


def test_self_hosted_bases_keep_their_path():
    links = DashboardLinks(CalcomLinks(SELF_HOSTED), RetellLinks("https://retell.proxy.example"))
    assert links.calcom.event_type("1001") == f"{SELF_HOSTED}/event-types/1001"
    assert links.calcom.schedule(5) == f"{SELF_HOSTED}/availability/5"
    assert links.calcom.members() == f"{SELF_HOSTED}/settings/organizations/members"
    assert links.retell.agent("agent_1") == "https://retell.proxy.example/agents/agent_1"


@pytest.mark.parametrize(
    ("raw", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("x?version=2#top", "x%3Fversion%3D2%23top"),
        ("%2Fsettings", "%252Fsettings"),  # an encoded slash in an id stays text, not a separator
        ("Zahnärztin Müller", "Zahn%C3%A4rztin%20M%C3%BCller"),
    ],
)
def test_ids_are_one_encoded_path_segment(raw, segment):
    links = DashboardLinks()
    assert links.calcom.event_type(raw) == f"https://app.cal.com/event-types/{segment}"
    assert links.calcom.schedule(raw) == f"https://app.cal.com/availability/{segment}"
    assert links.retell.agent(raw) == f"https://dashboard.retellai.com/agents/{segment}"


def test_tenants_file_defaults_and_self_hosted_base():
    (tenant,) = parse_tenants(TENANT.format(calcom=SELF_HOSTED + "/")).tenants
    assert tenant.calcom.dashboard_url == SELF_HOSTED  # the trailing slash is dropped
    assert tenant.retell is not None and tenant.retell.dashboard_url == "https://dashboard.retellai.com"
    links = tenant.dashboard_links()
    assert links.calcom.event_type(3) == f"{SELF_HOSTED}/event-types/3"
    assert links.retell.agent("a") == "https://dashboard.retellai.com/agents/a"
    without = parse_tenants(TENANT.replace("      dashboard_url: {calcom}\n", "")).tenants[0]
    assert without.calcom.dashboard_url == "https://app.cal.com"


@pytest.mark.parametrize(
    "bad",
    ["app.cal.com", "ftp://cal.example", "https://cal.example/?team=1", "https://user:secret@cal.example"],
)
def test_bad_dashboard_url_names_tenant_and_field_but_not_the_value(bad):
    with pytest.raises(TenantsFileError) as raised:
        parse_tenants(TENANT.format(calcom=bad), source="tenants.yaml")
    message = str(raised.value)
    assert "tenant 'praxis-selbst'" in message and "field calcom.dashboard_url" in message
    assert "secret" not in message  # a pasted user:password never reaches a log


def test_demo_tenants_on_the_simulator_link_to_the_real_dashboards():
    config = load_tenants(environ={"ASKPRO_SIMULATOR_URL": "http://127.0.0.1:9"})
    for tenant in config.tenants:
        assert tenant.calcom.base_url.startswith("http://127.0.0.1:9/")  # the API goes to the simulator
        assert tenant.calcom.dashboard_url == "https://app.cal.com"  # links stay real: never fetched
        assert tenant.retell is None or tenant.retell.dashboard_url == "https://dashboard.retellai.com"


def _event_type(event_type_id: str) -> EventType:
    return EventType(
        event_type_id=event_type_id,
        title="Erstbehandlung",
        slug="erstbehandlung",
        length_minutes=30,
        description=None,
        hidden=False,
        team_id=None,
        owner_staff_id="7",
        schedule_id=None,
        scheduling_type=None,
        price=None,
        currency=None,
        minimum_booking_notice=None,
        before_event_buffer=None,
        after_event_buffer=None,
        slot_interval=None,
        locations=[],
        hosts=[],
    )


def test_calcom_rows_carry_their_pages():
    links = DashboardLinks(CalcomLinks(SELF_HOSTED))
    (event_type,) = event_type_rows([_event_type("1001")], "v2", links)
    assert event_type["dashboard_url"] == f"{SELF_HOSTED}/event-types/1001"
    member = Staff(
        staff_id="7",
        name="Anna",
        email=None,
        username=None,
        time_zone=None,
        default_schedule_id=None,
        week_start=None,
        locale=None,
        role=None,
    )
    (staff,) = staff_rows([member], [], links)
    assert staff["dashboard_url"] == f"{SELF_HOSTED}/settings/organizations/members"
    schedule = Schedule(
        schedule_id="s/1",
        staff_id="7",
        name="Woche",
        time_zone="Europe/Berlin",
        is_default=True,
        intervals=[WeeklyInterval(weekday=1, start_time="09:00", end_time="17:00")],
        overrides=[DateOverride(date=dt.date(2026, 12, 24), start_time="00:00", end_time="00:00")],
    )
    hours, overrides = working_hour_rows([schedule], links)
    assert hours[0]["dashboard_url"] == overrides[0]["dashboard_url"] == f"{SELF_HOSTED}/availability/s%2F1"


def test_retell_rows_carry_their_pages():
    links = DashboardLinks()
    version = AgentVersion.model_validate(
        {
            "agent_id": "agent_1",
            "version": 3,
            "agent_name": "Empfang",
            "is_published": True,
            **dict.fromkeys(
                [
                    "voice_id",
                    "language",
                    "webhook_url",
                    "response_engine_type",
                    "llm_id",
                    "llm_version",
                    "last_modified",
                ]
            ),
        }
    )
    (versions,) = agent_version_rows([version], links)
    (agent,) = latest_agent_rows([version], {}, links)
    assert versions["dashboard_url"] == agent["dashboard_url"] == "https://dashboard.retellai.com/agents/agent_1"
    number = PhoneNumber.model_validate(
        {
            "phone_number": "+4930123456701",
            "phone_number_pretty": None,
            "nickname": None,
            "bindings": [],
            "last_modified": None,
        }
    )
    (row,) = phone_number_rows([number], links)
    assert row["dashboard_url"] == "https://dashboard.retellai.com/phone-numbers"

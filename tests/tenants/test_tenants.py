"""The tenants file: the demo loads, and each kind of bad file fails naming tenant and field."""

import textwrap

import pytest

from askpro_pipelines.tenants import TenantsFileError, load_tenants, parse_tenants

GOOD = """
tenants:
  - slug: praxis-am-stadtpark
    name: Physiotherapie Praxis am Stadtpark
    timezone: Europe/Berlin
    calcom:
      api_version: v2
      base_url: https://api.cal.com
      api_key_env: STADTPARK_CALCOM_API_KEY
      webhook_secret_env: STADTPARK_CALCOM_WEBHOOK_SECRET
    retell:
      base_url: https://api.retellai.com
      api_key_env: STADTPARK_RETELL_API_KEY
    branches:
      - id: mitte
        name: Praxis Mitte
        calcom_event_type_id: 1001
        phone_numbers: ["+4930123456701"]
"""


def test_example_from_the_issue_parses():
    config = parse_tenants(GOOD)
    (tenant,) = config.tenants
    assert tenant.slug == "praxis-am-stadtpark"
    assert tenant.calcom.api_version == "v2"
    assert tenant.branches[0].phone_numbers == ["+4930123456701"]


def test_bundled_demo_file_loads_with_both_api_versions():
    config = load_tenants(environ={})
    assert len(config.tenants) >= 3
    assert {t.calcom.api_version for t in config.tenants} == {"v1", "v2"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("slug: praxis-am-stadtpark", "slug: Praxis Am Stadtpark"), "field slug"),
        (("api_version: v2", "api_version: v3"), "field calcom.api_version"),
        (("name: Praxis Mitte", "name: Praxis Mitte\n        colour: blue"), "field branches.0.colour: unknown key"),
        (('["+4930123456701"]', '["030 1234567"]'), "field branches.0.phone_numbers"),
        (("api_key_env: STADTPARK_CALCOM_API_KEY", "api_key_env: cal_live_abc123"), "field calcom.api_key_env"),
        (("timezone: Europe/Berlin", "timezone: Mars/Olympus"), "field timezone"),
        (("base_url: https://api.cal.com", "base_url: https://api.cal.com/v2"), "field calcom.base_url"),
    ],
)
def test_bad_fields_name_tenant_and_field(change, expected):
    old, new = change
    with pytest.raises(TenantsFileError) as raised:
        parse_tenants(GOOD.replace(old, new), source="tenants.yaml")
    message = str(raised.value)
    assert "tenants.yaml" in message and expected in message
    if "Praxis Am" not in new:
        assert "tenant 'praxis-am-stadtpark'" in message


def test_duplicate_slugs_fail():
    body = GOOD.split("tenants:\n", 1)[1]
    with pytest.raises(TenantsFileError, match="tenant 'praxis-am-stadtpark': field slug: appears twice"):
        parse_tenants("tenants:\n" + body + body)


def test_missing_key_names_tenant_and_variable_but_no_value():
    config = parse_tenants(GOOD)
    with pytest.raises(TenantsFileError) as raised:
        config.require_secrets({"STADTPARK_CALCOM_API_KEY": "cal_live_secret"})
    message = str(raised.value)
    assert "praxis-am-stadtpark: STADTPARK_RETELL_API_KEY" in message
    assert "cal_live_secret" not in message
    with pytest.raises(
        TenantsFileError, match="field calcom.api_key_env: environment variable STADTPARK_CALCOM_API_KEY is not set"
    ):
        config.tenants[0].calcom_api_key({})


def test_unknown_tenant_is_a_clear_error():
    with pytest.raises(TenantsFileError, match="unknown tenant 'nope'"):
        parse_tenants(GOOD).get("nope")


def test_simulator_url_routes_every_tenant(tmp_path):
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(GOOD))
    config = load_tenants(environ={"ASKPRO_TENANTS_FILE": str(path), "ASKPRO_SIMULATOR_URL": "http://127.0.0.1:9/"})
    tenant = config.tenants[0]
    assert tenant.calcom.base_url == "http://127.0.0.1:9/calcom"
    assert tenant.retell.base_url == "http://127.0.0.1:9/retell"


def test_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(TenantsFileError, match="cannot read the tenants file"):
        load_tenants(tmp_path / "missing.yaml")

"""The tenants sensor keeps dynamic partitions equal to the tenants file."""

import textwrap

from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

from askpro_pipelines.resources.tenants import TenantsResource
from askpro_pipelines.sensors.tenants import tenant_partitions_sensor

FILE = """
tenants:
  - slug: {slug}
    name: Test
    calcom: {{api_key_env: TEST_CALCOM_KEY}}
"""


def _evaluate(instance, path):
    context = build_sensor_context(instance=instance, resources={"tenants": TenantsResource(path=str(path))})
    return tenant_partitions_sensor(context)


def test_adds_new_tenants_removes_dropped_ones_then_skips(tmp_path):
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", ["old-tenant"])
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(FILE.format(slug="new-tenant")))

    result = _evaluate(instance, path)
    assert isinstance(result, SensorResult)
    (added, removed) = result.dynamic_partitions_requests
    assert added.partition_keys == ["new-tenant"] and removed.partition_keys == ["old-tenant"]

    instance.add_dynamic_partitions("tenants", ["new-tenant"])
    instance.delete_dynamic_partition("tenants", "old-tenant")
    assert isinstance(_evaluate(instance, path), SkipReason)

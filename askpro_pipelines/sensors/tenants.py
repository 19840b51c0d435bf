"""Keep the tenant partitions in step with the tenants file.

Adding a tenant to the file makes its partition appear in the UI within a tick; removing one
removes the partition (its warehouse rows stay until someone deletes them on purpose).
"""

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    DeleteDynamicPartitionsRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from askpro_pipelines.partitions import TENANTS, tenant_partitions
from askpro_pipelines.resources.tenants import TenantsResource


@sensor(
    name="tenant_partitions_sensor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Adds and removes tenant partitions so they match the tenants file.",
)
def tenant_partitions_sensor(context: SensorEvaluationContext, tenants: TenantsResource) -> SkipReason | SensorResult:
    wanted = set(tenants.load().slugs)
    existing = set(context.instance.get_dynamic_partitions(TENANTS))
    added, removed = sorted(wanted - existing), sorted(existing - wanted)
    if not added and not removed:
        return SkipReason(f"tenant partitions match the tenants file ({len(wanted)} tenants)")
    requests: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
    if added:
        requests.append(tenant_partitions.build_add_request(added))
    if removed:
        requests.append(tenant_partitions.build_delete_request(removed))
    context.log.info(f"tenant partitions: adding {added or 'none'}, removing {removed or 'none'}")
    return SensorResult(dynamic_partitions_requests=requests)

"""The warehouse table contract: names, columns and keys the app team reads.

Columns may be added freely; the names and keys are a promise (see README, "Tables").
Ids are text so that integer and UUID ids both fit. Natural keys are indexed but not unique:
a duplicate from the API lands, and the `duplicate keys` asset check names it, instead of the
whole tenant's sync failing on a constraint.

One module per area (base, mirror, operations, history); every table is registered on the one
`metadata` and re-exported here, so readers import from `askpro_pipelines.warehouse.tables`.
"""

from askpro_pipelines.warehouse.tables.analytics import api_health, booking_success, call_analysis
from askpro_pipelines.warehouse.tables.api_requests import api_request_stats
from askpro_pipelines.warehouse.tables.base import (
    BOOKKEEPING_COLUMNS,
    TENANT_DOC,
    TableContract,
    UtcDateTime,
    bookkeeping_columns,
    metadata,
)
from askpro_pipelines.warehouse.tables.history import (
    CHANGED,
    DELETED,
    HISTORY,
    HISTORY_TABLES,
    history_name,
    quarantined_records,
)
from askpro_pipelines.warehouse.tables.mirror import (
    CONTRACTS,
    booking_outcomes,
    calcom_bookings,
    calcom_event_types,
    phone_assignments,
    retell_agent_versions,
    retell_agents,
    retell_call_transcripts,
    retell_calls,
    retell_phone_numbers,
    staff,
    staff_event_types,
    working_hour_overrides,
    working_hours,
)
from askpro_pipelines.warehouse.tables.operations import (
    api_shapes,
    branch_availability,
    prompt_pushes,
    staff_utilisation,
    webhook_events,
)

__all__ = [
    "BOOKKEEPING_COLUMNS",
    "CHANGED",
    "CONTRACTS",
    "DELETED",
    "HISTORY",
    "HISTORY_TABLES",
    "TENANT_DOC",
    "TableContract",
    "UtcDateTime",
    "api_health",
    "api_request_stats",
    "api_shapes",
    "booking_outcomes",
    "booking_success",
    "bookkeeping_columns",
    "branch_availability",
    "calcom_bookings",
    "call_analysis",
    "calcom_event_types",
    "history_name",
    "metadata",
    "phone_assignments",
    "prompt_pushes",
    "quarantined_records",
    "retell_agent_versions",
    "retell_agents",
    "retell_call_transcripts",
    "retell_calls",
    "retell_phone_numbers",
    "staff",
    "staff_event_types",
    "staff_utilisation",
    "webhook_events",
    "working_hour_overrides",
    "working_hours",
]

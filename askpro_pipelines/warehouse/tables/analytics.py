"""The operations analytics tables (issue 12): call analysis, booking success and API health.

`call_analysis` and `booking_success` are facts replaced per tenant and day by the slice writer
(their contracts join CONTRACTS with the assets that write them); `api_health` gets one row per
tenant, API and run.
The definitions of "tried to book" and "from a call" are in the README ("Booking success").
"""

import sqlalchemy as sa

from askpro_pipelines.warehouse.tables.base import TENANT_DOC, UtcDateTime, metadata
from askpro_pipelines.warehouse.tables.base import bookkeeping_columns as _bookkeeping

call_analysis = sa.Table(
    "call_analysis",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, doc="tenant-local date of the call start (the partition)"),
    sa.Column("call_id", sa.String(64), nullable=False, doc="Retell call id (retell_calls.call_id)"),
    sa.Column("direction", sa.String(16), doc="inbound | outbound"),
    sa.Column("agent_id", sa.String(64), doc="the agent that handled the call"),
    sa.Column("agent_version", sa.Integer, doc="the agent version the call actually ran with"),
    sa.Column("branch_id", sa.String(64), doc="the branch whose number took the call; null when none claims it"),
    sa.Column("language", sa.String(8), doc="de | en | unknown, detected from the caller's words"),
    sa.Column("intent", sa.String(16), nullable=False, doc="book | reschedule | cancel | question | other"),
    sa.Column(
        "booking_tool_generation",
        sa.String(16),
        doc="legacy_cal (Retell's built-in Cal.com tools) | custom (our functions); null when no availability "
        "or booking tool ran",
    ),
    sa.Column("availability_checked", sa.Boolean, nullable=False, doc="an availability tool was called"),
    sa.Column("booking_tool_called", sa.Boolean, nullable=False, doc="a booking tool was called"),
    sa.Column(
        "booking_result",
        sa.String(16),
        doc="booked | no_slot | error: the last booking tool's result, else the availability check's "
        "(nothing free: no_slot, failed: error); null when neither ran",
    ),
    sa.Column("booked_uid", sa.String(64), doc="the booking uid the call reports (tool result or metadata)"),
    sa.Column(
        "calcom_booking_uid", sa.String(64), doc="the Cal.com booking matched to this call (README: how), if any"
    ),
    sa.Column(
        "booking_confirmed",
        sa.Boolean,
        doc="for calls we count as booked: whether a matching Cal.com booking exists; null otherwise",
    ),
    sa.Column("disconnection_reason", sa.String(64), doc="why the call ended, as Retell reports it"),
    sa.Column("transferred", sa.Boolean, nullable=False, doc="the call was transferred to a person"),
    sa.Column("silent", sa.Boolean, nullable=False, doc="the caller said nothing"),
    sa.Column("abandoned", sa.Boolean, nullable=False, doc="the caller hung up before the agent could help"),
    sa.Column("duration_ms", sa.BigInteger, doc="call length in milliseconds"),
    sa.Column("call_successful", sa.Boolean, doc="Retell's post-call analysis, where present"),
    sa.Column("user_sentiment", sa.String(16), doc="Retell's post-call analysis, where present"),
    sa.Column("call_summary", sa.Text, doc="Retell's post-call summary, secrets redacted"),
    *_bookkeeping(),
    sa.Index("ix_call_analysis_key", "tenant", "day", "call_id"),
)

booking_success = sa.Table(
    "booking_success",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, doc="tenant-local day (the partition)"),
    sa.Column("grouping", sa.String(16), nullable=False, doc="tenant | branch | agent_version: what a row sums"),
    sa.Column(
        "group_key",
        sa.String(160),
        nullable=False,
        doc="'*' for tenant, the branch id ('-' for none), or '<agent_id>@<version>'",
    ),
    sa.Column("branch_id", sa.String(64), doc="the branch, for branch rows (null for '-')"),
    sa.Column("agent_id", sa.String(64), doc="the agent, for agent_version rows"),
    sa.Column("agent_version", sa.Integer, doc="the version the calls ran with, for agent_version rows"),
    sa.Column("calls", sa.Integer, nullable=False, doc="inbound calls"),
    sa.Column("calls_tried_to_book", sa.Integer, nullable=False, doc="of those, calls that tried to book (README)"),
    sa.Column(
        "bookings_from_calls", sa.Integer, nullable=False, doc="Cal.com bookings created by those calls (README)"
    ),
    sa.Column(
        "bookings_from_calls_cancelled",
        sa.Integer,
        nullable=False,
        doc="of those, cancelled since and not rescheduled (as synced now)",
    ),
    sa.Column(
        "bookings_from_calls_rescheduled", sa.Integer, nullable=False, doc="of those, rescheduled since (as synced now)"
    ),
    sa.Column("success_rate", sa.Float, doc="bookings_from_calls / calls_tried_to_book; null when none tried"),
    sa.Column("median_call_seconds", sa.Float, doc="median length of the calls longer than 0 ms, seconds"),
    sa.Column("transfer_share", sa.Float, doc="share of calls transferred to a person"),
    sa.Column("hangup_share", sa.Float, doc="share of calls the caller hung up (disconnection_reason user_hangup)"),
    *_bookkeeping(),
    sa.Index("ix_booking_success_key", "tenant", "day", "grouping", "group_key"),
)

api_health = sa.Table(
    "api_health",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("api", sa.String(16), nullable=False, doc="calcom | retell"),
    sa.Column("run_id", sa.String(64), nullable=False, doc="the Dagster run whose requests these are"),
    sa.Column("started_at", UtcDateTime(), nullable=False, doc="the first request of the run (UTC)"),
    sa.Column("finished_at", UtcDateTime(), nullable=False, doc="the last answer of the run (UTC)"),
    sa.Column("requests", sa.Integer, nullable=False, doc="HTTP requests sent, retries included"),
    sa.Column("errors_4xx", sa.Integer, nullable=False, doc="answers 400-499 other than 429"),
    sa.Column("errors_5xx", sa.Integer, nullable=False, doc="answers 500-599"),
    sa.Column("errors_network", sa.Integer, nullable=False, doc="requests with no answer (timeout, refused)"),
    sa.Column("rate_limited", sa.Integer, nullable=False, doc="answers 429"),
    sa.Column("retries", sa.Integer, nullable=False, doc="requests that repeated an earlier one"),
    sa.Column("breaker_opens", sa.Integer, nullable=False, doc="times the tenant's circuit breaker opened"),
    sa.Column("budget_waits", sa.Integer, nullable=False, doc="requests held back by the per-key request budget"),
    sa.Column("latency_p50_ms", sa.Float, doc="median answer time, ms"),
    sa.Column("latency_p95_ms", sa.Float, doc="95th percentile answer time, ms"),
    sa.Column("min_rate_limit_remaining", sa.Integer, doc="lowest X-RateLimit-Remaining seen; null when none"),
    sa.Column("rate_limit", sa.Integer, doc="the key's limit per window as the API reported it"),
    sa.Index("ix_api_health_key", "tenant", "api", "started_at"),
    sa.Index("ix_api_health_run", "run_id"),
)

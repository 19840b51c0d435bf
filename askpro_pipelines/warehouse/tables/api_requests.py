"""`api_request_stats`: the raw request figures behind `api_health`, one row per flush.

A run's requests are counted in the process that sends them; after each step (a hook) and before
`api_health` sums them, the counts since the last flush land here, keyed by run, tenant and API.
Rows of any number of steps or processes add up (the latency histogram merges bucket by bucket).
"""

import sqlalchemy as sa

from askpro_pipelines.warehouse.tables.base import TENANT_DOC, UtcDateTime, metadata

api_request_stats = sa.Table(
    "api_request_stats",
    metadata,
    sa.Column("run_id", sa.String(64), nullable=False, doc="the Dagster run whose requests these are"),
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("api", sa.String(16), nullable=False, doc="calcom | retell"),
    sa.Column("step_key", sa.String(255), nullable=False, doc="the step after which the figures were flushed"),
    sa.Column("recorded_at", UtcDateTime(), nullable=False, doc="when the row was written (UTC)"),
    sa.Column("first_request_at", UtcDateTime(), doc="the first request counted in the row (UTC)"),
    sa.Column("last_answer_at", UtcDateTime(), doc="the last answer counted in the row (UTC)"),
    sa.Column("requests", sa.Integer, nullable=False, doc="HTTP requests sent, retries included"),
    sa.Column("errors_4xx", sa.Integer, nullable=False, doc="answers 400-499 other than 429"),
    sa.Column("errors_5xx", sa.Integer, nullable=False, doc="answers 500-599"),
    sa.Column("errors_network", sa.Integer, nullable=False, doc="requests with no answer (timeout, refused)"),
    sa.Column("rate_limited", sa.Integer, nullable=False, doc="answers 429"),
    sa.Column("retries", sa.Integer, nullable=False, doc="requests that repeated an earlier one"),
    sa.Column("breaker_opens", sa.Integer, nullable=False, doc="times the tenant's circuit breaker opened"),
    sa.Column("budget_waits", sa.Integer, nullable=False, doc="requests held back by the per-key request budget"),
    sa.Column(
        "latency_histogram",
        sa.JSON,
        nullable=False,
        doc="answer times: {bucket: count}, bucket i holds [0.01·1.04^i, 0.01·1.04^(i+1)) ms",
    ),
    sa.Column("min_rate_limit_remaining", sa.Integer, doc="lowest X-RateLimit-Remaining seen; null when none"),
    sa.Column("rate_limit", sa.Integer, doc="the key's limit per window as the API reported it"),
    sa.Column("summarized", sa.Boolean, nullable=False, doc="already summed into api_health"),
    sa.Index("ix_api_request_stats_run", "run_id", "tenant", "api"),
    sa.Index("ix_api_request_stats_pending", "summarized"),
)

"""Operational tables: landed webhooks, availability, prompt pushes and observed API shapes."""

import sqlalchemy as sa

from askpro_pipelines.warehouse.tables.base import TENANT_DOC, UtcDateTime, metadata

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
        doc="landing order",
    ),
    sa.Column("tenant", sa.String(64), nullable=False, doc="the tenant the delivery was addressed to (URL path)"),
    sa.Column("provider", sa.String(16), nullable=False, comment="calcom | retell"),
    sa.Column(
        "event_type", sa.String(64), nullable=False, comment="triggerEvent / event, e.g. BOOKING_CREATED, call_ended"
    ),
    sa.Column(
        "dedup_key",
        sa.String(255),
        nullable=False,
        comment="the provider's id of this delivery; a repeat is stored once",
    ),
    sa.Column("entity_id", sa.String(128), comment="booking uid / call id the event is about"),
    sa.Column(
        "event_day", sa.Date, comment="the tenant-local day of the booking / call start: the partition to refresh"
    ),
    sa.Column("received_at", UtcDateTime(), nullable=False, doc="when the receiver stored it (UTC)"),
    sa.Column("payload", sa.Text, nullable=False, comment="raw body as received (UTF-8), secrets redacted"),
    sa.Column("status", sa.String(16), nullable=False, comment="pending | queued | processed | dead"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0, doc="runs that carried this event and failed"),
    sa.Column("run_key", sa.String(255), comment="the sensor run request that carries this event"),
    sa.Column("last_error", sa.Text, doc="first line of the last failed run's error"),
    sa.Column("processed_at", UtcDateTime(), doc="when a run carrying it succeeded (UTC)"),
    sa.UniqueConstraint("provider", "tenant", "dedup_key", name="uq_webhook_events_delivery"),
    sa.Index("ix_webhook_events_status", "provider", "status", "id"),
)


# ---- availability and prompt pushes (issue 13) ----
# Written by their own writers (warehouse/availability.py, prompts/audit.py), not by the slice
# writer: the availability tables hold a window of future days per tenant, replaced whole.

branch_availability = sa.Table(
    "branch_availability",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, doc="tenant-local date the slots are on"),
    sa.Column("branch_id", sa.String(64), nullable=False, doc="the branch (tenants file)"),
    sa.Column("event_type_id", sa.String(64), nullable=False, doc="the branch's Cal.com event type"),
    sa.Column("slots", sa.JSON, doc="free start times Cal.com offered, ISO 8601 with the tenant's offset (JSON list)"),
    sa.Column("free_slots", sa.Integer, nullable=False, doc="how many start times were free"),
    sa.Column(
        "available_minutes",
        sa.Integer,
        nullable=False,
        doc="working minutes of the event type's hosts that day (hours and overrides)",
    ),
    sa.Column(
        "booked_minutes",
        sa.Integer,
        nullable=False,
        doc="minutes of those hosts' accepted and pending bookings that day",
    ),
    sa.Column("utilisation", sa.Float, doc="booked over available minutes; null when nobody works that day"),
    sa.Column("refreshed_at", UtcDateTime(), nullable=False, doc="when Cal.com was asked (UTC): the snapshot's age"),
    sa.Index("ix_branch_availability_key", "tenant", "day", "branch_id"),
)

staff_utilisation = sa.Table(
    "staff_utilisation",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, doc="tenant-local date"),
    sa.Column("staff_id", sa.String(64), nullable=False, doc="the staff member (staff.staff_id)"),
    sa.Column(
        "available_minutes",
        sa.Integer,
        nullable=False,
        doc="working minutes from the default schedule's hours and overrides",
    ),
    sa.Column(
        "booked_minutes",
        sa.Integer,
        nullable=False,
        doc="minutes of accepted and pending bookings the staff member hosts",
    ),
    sa.Column("utilisation", sa.Float, doc="booked over available minutes; null on a day off"),
    sa.Column("refreshed_at", UtcDateTime(), nullable=False, doc="when the figures were computed (UTC)"),
    sa.Index("ix_staff_utilisation_key", "tenant", "day", "staff_id"),
)

# One row per prompt push (askpro prompts push / the push_agent_prompt job), whatever its outcome.
# (tenant, agent_id, published_version) and (tenant, agent_id, draft_version_after) join to
# retell_agent_versions (tenant, agent_id, version).
prompt_pushes = sa.Table(
    "prompt_pushes",
    metadata,
    sa.Column("push_id", sa.String(36), primary_key=True, doc="uuid of the push"),
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("agent_id", sa.String(64), nullable=False, doc="Retell agent id"),
    sa.Column("llm_id", sa.String(64), doc="the agent's Retell LLM"),
    sa.Column("actor", sa.Text, nullable=False, doc="who pushed: --actor, else ASKPRO_ACTOR, else the login name"),
    sa.Column("started_at", UtcDateTime(), nullable=False, doc="when the push began (UTC)"),
    sa.Column("finished_at", UtcDateTime(), doc="when it ended (UTC)"),
    sa.Column("published_version_before", sa.Integer, doc="the newest published version before the push"),
    sa.Column("draft_version_before", sa.Integer, doc="the draft version the diff was taken against"),
    sa.Column(
        "draft_modified_before", sa.BigInteger, doc="the draft's last_modification_timestamp when the diff was taken"
    ),
    sa.Column("draft_version_after", sa.Integer, doc="the draft version after the update"),
    sa.Column("published_version", sa.Integer, doc="the version this push published; null without --publish"),
    sa.Column("repointed_numbers", sa.JSON, doc="numbers moved to the published version (JSON list)"),
    sa.Column("diff", sa.Text, doc="the desired-vs-live diff that was pushed (secrets never appear: they are refused)"),
    sa.Column("outcome", sa.String(16), nullable=False, doc="succeeded | refused | failed | running"),
    sa.Column(
        "steps", sa.JSON, doc="what was done, in order: [{step, at, detail}] (a failed push shows how far it got)"
    ),
    sa.Column("error", sa.Text, doc="the refusal or failure, one line, naming tenant, entity and record id"),
    sa.Index("ix_prompt_pushes_agent", "tenant", "agent_id", "started_at"),
)


# What each endpoint's responses looked like at the last sync, per tenant (askpro_pipelines/drift.py);
# the `api_responses_match_models` checks read it. Replaced per tenant and asset by each sync.
api_shapes = sa.Table(
    "api_shapes",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("api", sa.String(16), nullable=False, comment="calcom | retell"),
    sa.Column("endpoint", sa.String(128), nullable=False, comment="path template, e.g. /v3/list-calls"),
    sa.Column("asset", sa.String(64), nullable=False, comment="the asset whose sync read the endpoint"),
    sa.Column(
        "kind", sa.String(16), nullable=False, comment="key | value (of an enum-like field) | missing (expected key)"
    ),
    sa.Column("field", sa.String(255), nullable=False, comment="the key, or the enum field's path"),
    sa.Column("value", sa.String(255), nullable=False, comment="the enum value; '' for keys"),
    sa.Column("known", sa.Boolean, nullable=False, comment="whether the models know it (always false for missing)"),
    sa.Column("records", sa.Integer, nullable=False, comment="records that showed it"),
    sa.Column("example_record_id", sa.String(128)),
    sa.Column("observed_at", UtcDateTime(), nullable=False),
    sa.Index("ix_api_shapes_tenant_asset", "tenant", "asset"),
)

"""The warehouse schema of the first release, frozen: the baseline migration creates exactly this.

A copy, not an import of tables.py: tables.py moves on with every release, while a warehouse
created by the first release (with `create_all`, before migrations existed) keeps this shape.
The upgrade test builds such a warehouse from it. Never edit it; add a migration instead.
"""

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

# UtcDateTime in tables.py is a TypeDecorator over this; the DDL is the same.
_INSTANT = sa.DateTime(timezone=True)


def _bookkeeping() -> list[sa.Column[Any]]:
    return [
        sa.Column(
            "row_hash",
            sa.String(40),
            nullable=False,
            comment="sha1 of the row's content; unchanged rows are not rewritten",
        ),
        sa.Column("synced_at", _INSTANT, nullable=False, comment="when this row was last inserted or changed (UTC)"),
    ]


calcom_event_types = sa.Table(
    "calcom_event_types",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("event_type_id", sa.String(64), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("length_minutes", sa.Integer, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("hidden", sa.Boolean, nullable=False),
    sa.Column("team_id", sa.String(64)),
    sa.Column("owner_staff_id", sa.String(64)),
    sa.Column("schedule_id", sa.String(64)),
    sa.Column("scheduling_type", sa.String(32), comment="roundRobin | collective | managed | null"),
    sa.Column("price", sa.Integer),
    sa.Column("currency", sa.String(8)),
    sa.Column("minimum_booking_notice", sa.Integer),
    sa.Column("before_event_buffer", sa.Integer),
    sa.Column("after_event_buffer", sa.Integer),
    sa.Column("slot_interval", sa.Integer),
    sa.Column("locations", sa.JSON),
    sa.Column("hosts", sa.JSON, comment="[{staff_id, role, mandatory, priority, name, username}]"),
    sa.Column("api_version", sa.String(4), nullable=False),
    *_bookkeeping(),
    sa.Index("ix_calcom_event_types_key", "tenant", "event_type_id"),
)

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("staff_id", sa.String(64), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("username", sa.Text),
    sa.Column("time_zone", sa.String(64)),
    sa.Column("default_schedule_id", sa.String(64)),
    sa.Column("week_start", sa.String(16)),
    sa.Column("locale", sa.String(16)),
    sa.Column("role", sa.String(16)),
    sa.Column(
        "source",
        sa.String(16),
        nullable=False,
        comment="user: listed by the API; host: only known as an event-type host",
    ),
    *_bookkeeping(),
    sa.Index("ix_staff_key", "tenant", "staff_id"),
)

staff_event_types = sa.Table(
    "staff_event_types",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("staff_id", sa.String(64), nullable=False),
    sa.Column("event_type_id", sa.String(64), nullable=False),
    sa.Column("role", sa.String(8), nullable=False, comment="owner | host | user"),
    sa.Column("mandatory", sa.Boolean),
    sa.Column("priority", sa.String(16)),
    *_bookkeeping(),
    sa.Index("ix_staff_event_types_key", "tenant", "staff_id", "event_type_id"),
)

working_hours = sa.Table(
    "working_hours",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("staff_id", sa.String(64), nullable=False),
    sa.Column("schedule_id", sa.String(64), nullable=False),
    sa.Column("schedule_name", sa.Text),
    sa.Column("is_default_schedule", sa.Boolean),
    sa.Column("weekday", sa.SmallInteger, nullable=False, comment="ISO weekday: 1 = Monday ... 7 = Sunday"),
    sa.Column("start_time", sa.String(5), nullable=False, comment="local wall-clock HH:MM in time_zone"),
    sa.Column("end_time", sa.String(5), nullable=False, comment="local wall-clock HH:MM in time_zone"),
    sa.Column("time_zone", sa.String(64), nullable=False),
    *_bookkeeping(),
    sa.Index("ix_working_hours_key", "tenant", "staff_id", "schedule_id", "weekday", "start_time"),
)

working_hour_overrides = sa.Table(
    "working_hour_overrides",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("staff_id", sa.String(64), nullable=False),
    sa.Column("schedule_id", sa.String(64), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("start_time", sa.String(5), nullable=False),
    sa.Column("end_time", sa.String(5), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("is_day_off", sa.Boolean, nullable=False, comment="00:00-00:00: not available that day"),
    *_bookkeeping(),
    sa.Index("ix_working_hour_overrides_key", "tenant", "staff_id", "schedule_id", "date", "start_time"),
)


retell_agents = sa.Table(
    "retell_agents",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, comment="the agent's latest version"),
    sa.Column("agent_name", sa.Text),
    sa.Column("is_published", sa.Boolean),
    sa.Column("latest_published_version", sa.Integer),
    sa.Column("voice_id", sa.Text),
    sa.Column("language", sa.String(64)),
    sa.Column("webhook_url", sa.Text),
    sa.Column("response_engine_type", sa.String(32)),
    sa.Column("llm_id", sa.String(64)),
    sa.Column("llm_version", sa.Integer),
    sa.Column("prompt", sa.Text, comment="general prompt + state prompts, secrets redacted"),
    sa.Column("prompt_hash", sa.String(64), comment="sha256 of the redacted prompt"),
    sa.Column("tags", sa.JSON, comment="{tag: version} from the current list-agents"),
    sa.Column("last_modified", _INSTANT),
    *_bookkeeping(),
    sa.Index("ix_retell_agents_key", "tenant", "agent_id"),
)

retell_agent_versions = sa.Table(
    "retell_agent_versions",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("agent_name", sa.Text),
    sa.Column("version_title", sa.Text),
    sa.Column("is_published", sa.Boolean),
    sa.Column("llm_id", sa.String(64)),
    sa.Column("llm_version", sa.Integer),
    sa.Column("prompt_hash", sa.String(64), comment="a changed prompt shows as a new hash"),
    sa.Column("last_modified", _INSTANT),
    *_bookkeeping(),
    sa.Index("ix_retell_agent_versions_key", "tenant", "agent_id", "version"),
)

retell_phone_numbers = sa.Table(
    "retell_phone_numbers",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("phone_number", sa.String(20), nullable=False, comment="E.164"),
    sa.Column("phone_number_pretty", sa.Text),
    sa.Column("nickname", sa.Text),
    sa.Column("phone_number_type", sa.String(32)),
    sa.Column("inbound_agent_id", sa.String(64), comment="highest-weight inbound agent"),
    sa.Column(
        "inbound_agent_version", sa.String(32), comment="a version number or a tag such as prod / latest_published"
    ),
    sa.Column("outbound_agent_id", sa.String(64)),
    sa.Column("outbound_agent_version", sa.String(32)),
    sa.Column("inbound_agents", sa.JSON, comment="[{agent_id, agent_version, weight}]"),
    sa.Column("outbound_agents", sa.JSON),
    sa.Column("last_modified", _INSTANT),
    *_bookkeeping(),
    sa.Index("ix_retell_phone_numbers_key", "tenant", "phone_number"),
)

phone_assignments = sa.Table(
    "phone_assignments",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("phone_number", sa.String(20), nullable=False),
    sa.Column("agent_id", sa.String(64)),
    sa.Column("agent_version", sa.String(32), comment="as bound on the number: a version or a tag"),
    sa.Column("agent_version_resolved", sa.Integer, comment="the version a call reaches now"),
    sa.Column("agent_version_published", sa.Boolean),
    sa.Column("agent_name", sa.Text),
    sa.Column("branch_id", sa.String(64)),
    sa.Column("branch_name", sa.Text),
    sa.Column("event_type_id", sa.String(64)),
    sa.Column("event_type_title", sa.Text, comment="null when the event type is not in Cal.com"),
    sa.Column("hosting_staff_count", sa.Integer),
    *_bookkeeping(),
    sa.Index("ix_phone_assignments_key", "tenant", "phone_number"),
)


calcom_bookings = sa.Table(
    "calcom_bookings",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("day", sa.Date, nullable=False, comment="tenant-local date of the appointment start (the partition)"),
    sa.Column("uid", sa.String(64), nullable=False),
    sa.Column("booking_id", sa.String(64)),
    sa.Column(
        "status", sa.String(16), nullable=False, comment="accepted | pending | cancelled | rejected | awaiting_host"
    ),
    sa.Column("start_utc", _INSTANT, nullable=False),
    sa.Column("end_utc", _INSTANT, nullable=False),
    sa.Column("event_type_id", sa.String(64)),
    sa.Column("title", sa.Text),
    sa.Column("organizer_staff_id", sa.String(64)),
    sa.Column("organizer_email", sa.Text),
    sa.Column("attendees_count", sa.Integer, nullable=False),
    sa.Column("attendee_phone", sa.String(32)),
    sa.Column("rescheduled_from_uid", sa.String(64)),
    sa.Column("rescheduled_to_uid", sa.String(64)),
    sa.Column("rescheduled", sa.Boolean),
    sa.Column("cancellation_reason", sa.Text),
    sa.Column("created_at", _INSTANT),
    sa.Column("updated_at", _INSTANT, comment="null from API v1 (not exposed)"),
    sa.Column("metadata", sa.JSON),
    *_bookkeeping(),
    sa.Index("ix_calcom_bookings_key", "tenant", "day", "uid"),
    sa.Index("ix_calcom_bookings_uid", "tenant", "uid"),
    sa.Index("ix_calcom_bookings_created", "tenant", "created_at"),
)

retell_calls = sa.Table(
    "retell_calls",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("day", sa.Date, nullable=False, comment="tenant-local date of the call start (the partition)"),
    sa.Column("call_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64)),
    sa.Column("agent_version", sa.Integer),
    sa.Column("call_type", sa.String(16)),
    sa.Column("direction", sa.String(16)),
    sa.Column("from_number", sa.String(32)),
    sa.Column("to_number", sa.String(32)),
    sa.Column("call_status", sa.String(16)),
    sa.Column("start_utc", _INSTANT),
    sa.Column("end_utc", _INSTANT),
    sa.Column("duration_ms", sa.BigInteger),
    sa.Column("disconnection_reason", sa.String(64)),
    sa.Column("cost_cents", sa.Float, comment="call_cost.combined_cost, in cents"),
    sa.Column("call_successful", sa.Boolean),
    sa.Column("user_sentiment", sa.String(16)),
    sa.Column("call_summary", sa.Text),
    sa.Column("in_voicemail", sa.Boolean),
    sa.Column("booking_uid", sa.String(64), comment="the Cal.com booking uid the agent wrote into the call, if any"),
    sa.Column("metadata", sa.JSON),
    sa.Column("dynamic_variables", sa.JSON),
    *_bookkeeping(),
    sa.Index("ix_retell_calls_key", "tenant", "day", "call_id"),
)

retell_call_transcripts = sa.Table(
    "retell_call_transcripts",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("call_id", sa.String(64), nullable=False),
    sa.Column("transcript", sa.Text, comment="secrets redacted"),
    *_bookkeeping(),
    sa.Index("ix_retell_call_transcripts_key", "tenant", "day", "call_id"),
)

booking_outcomes = sa.Table(
    "booking_outcomes",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("branch_id", sa.String(64), nullable=False, comment="'-' for calls/bookings no branch claims"),
    sa.Column("inbound_calls", sa.Integer, nullable=False),
    sa.Column("calls_with_booking", sa.Integer, nullable=False),
    sa.Column("bookings_created", sa.Integer, nullable=False),
    sa.Column("cancellations", sa.Integer, nullable=False),
    sa.Column("booking_success_rate", sa.Float, comment="calls_with_booking / inbound_calls; null without calls"),
    *_bookkeeping(),
    sa.Index("ix_booking_outcomes_key", "tenant", "day", "branch_id"),
)


webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
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
    sa.Column("received_at", _INSTANT, nullable=False),
    sa.Column("payload", sa.Text, nullable=False, comment="raw body as received (UTF-8), secrets redacted"),
    sa.Column("status", sa.String(16), nullable=False, comment="pending | queued | processed | dead"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("run_key", sa.String(255), comment="the sensor run request that carries this event"),
    sa.Column("last_error", sa.Text),
    sa.Column("processed_at", _INSTANT),
    sa.UniqueConstraint("provider", "tenant", "dedup_key", name="uq_webhook_events_delivery"),
    sa.Index("ix_webhook_events_status", "provider", "status", "id"),
)

"""The warehouse table contract: names, columns and keys the app team reads.

Columns may be added freely; the names and keys below are a promise (see README, "Tables").
Ids are text so that integer and UUID ids both fit. Natural keys are indexed but not unique:
a duplicate from the API lands, and the `duplicate keys` asset check names it, instead of the
whole tenant's sync failing on a constraint.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """An instant stored as UTC and always read back timezone-aware.

    PostgreSQL's timestamptz does this by itself; SQLite hands back naive datetimes, which readers
    would otherwise each have to patch.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


# Column descriptions are `doc=` (shown in the Dagster UI), not `comment=`: a comment is DDL and
# would need a schema migration; the few older comments stay and serve as descriptions too.
TENANT_DOC = "tenant slug from the tenants file (the partition key)"

# Bookkeeping columns every table carries; they are not part of the row's content hash.
BOOKKEEPING_COLUMNS = ("row_hash", "synced_at")


def _bookkeeping() -> list[sa.Column[Any]]:
    return [
        sa.Column(
            "row_hash",
            sa.String(40),
            nullable=False,
            comment="sha1 of the row's content; unchanged rows are not rewritten",
        ),
        sa.Column(
            "synced_at", UtcDateTime(), nullable=False, comment="when this row was last inserted or changed (UTC)"
        ),
    ]


calcom_event_types = sa.Table(
    "calcom_event_types",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("event_type_id", sa.String(64), nullable=False, doc="Cal.com event type id (text)"),
    sa.Column("title", sa.Text, nullable=False, doc="the service's name as clients see it"),
    sa.Column("slug", sa.Text, nullable=False, doc="URL slug of the booking page"),
    sa.Column("length_minutes", sa.Integer, nullable=False, doc="appointment length in minutes"),
    sa.Column("description", sa.Text, doc="the event type's description, as written in Cal.com"),
    sa.Column("hidden", sa.Boolean, nullable=False, doc="hidden from the public booking page"),
    sa.Column("team_id", sa.String(64), doc="the team that owns it; null for a personal event type"),
    sa.Column("owner_staff_id", sa.String(64), doc="the staff member who owns a personal event type"),
    sa.Column(
        "schedule_id", sa.String(64), doc="the working-hours schedule it books against; null: the host's default"
    ),
    sa.Column("scheduling_type", sa.String(32), comment="roundRobin | collective | managed | null"),
    sa.Column("price", sa.Integer, doc="price in the currency's minor unit (cents); null or 0 when free"),
    sa.Column("currency", sa.String(8), doc="ISO currency code of the price"),
    sa.Column("minimum_booking_notice", sa.Integer, doc="minutes of notice a booking needs"),
    sa.Column("before_event_buffer", sa.Integer, doc="minutes kept free before each appointment"),
    sa.Column("after_event_buffer", sa.Integer, doc="minutes kept free after each appointment"),
    sa.Column("slot_interval", sa.Integer, doc="minutes between offered start times; null: the length"),
    sa.Column("locations", sa.JSON, doc="where the appointment happens, as the API gave it (JSON)"),
    sa.Column("hosts", sa.JSON, comment="[{staff_id, role, mandatory, priority, name, username}]"),
    sa.Column("api_version", sa.String(4), nullable=False, doc="Cal.com API version it was read from: v1 or v2"),
    *_bookkeeping(),
    sa.Index("ix_calcom_event_types_key", "tenant", "event_type_id"),
)

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("staff_id", sa.String(64), nullable=False, doc="Cal.com user id (text)"),
    sa.Column("name", sa.Text, doc="display name"),
    sa.Column("email", sa.Text, doc="e-mail address"),
    sa.Column("username", sa.Text, doc="Cal.com username"),
    sa.Column("time_zone", sa.String(64), doc="the user's own time zone"),
    sa.Column(
        "default_schedule_id", sa.String(64), doc="the working-hours schedule used when an event type names none"
    ),
    sa.Column("week_start", sa.String(16), doc="first day of the week in the user's calendar"),
    sa.Column("locale", sa.String(16), doc="the user's language setting"),
    sa.Column(
        "role", sa.String(16), doc="account or team role, upper case (USER, ADMIN, MEMBER, OWNER); null when unknown"
    ),
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
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("staff_id", sa.String(64), nullable=False, doc="the staff member (staff.staff_id)"),
    sa.Column("event_type_id", sa.String(64), nullable=False, doc="the event type (calcom_event_types.event_type_id)"),
    sa.Column("role", sa.String(8), nullable=False, comment="owner | host | user"),
    sa.Column("mandatory", sa.Boolean, doc="a fixed host who must attend every booking (team event types)"),
    sa.Column("priority", sa.String(16), doc="round-robin priority, lowest .. highest (API v2 only)"),
    *_bookkeeping(),
    sa.Index("ix_staff_event_types_key", "tenant", "staff_id", "event_type_id"),
)

working_hours = sa.Table(
    "working_hours",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("staff_id", sa.String(64), nullable=False, doc="the schedule's owner (staff.staff_id)"),
    sa.Column("schedule_id", sa.String(64), nullable=False, doc="Cal.com schedule id"),
    sa.Column("schedule_name", sa.Text, doc="the schedule's name"),
    sa.Column("is_default_schedule", sa.Boolean, doc="the owner's default schedule"),
    sa.Column("weekday", sa.SmallInteger, nullable=False, comment="ISO weekday: 1 = Monday ... 7 = Sunday"),
    sa.Column("start_time", sa.String(5), nullable=False, comment="local wall-clock HH:MM in time_zone"),
    sa.Column("end_time", sa.String(5), nullable=False, comment="local wall-clock HH:MM in time_zone"),
    sa.Column("time_zone", sa.String(64), nullable=False, doc="the time zone the schedule's times are in"),
    *_bookkeeping(),
    sa.Index("ix_working_hours_key", "tenant", "staff_id", "schedule_id", "weekday", "start_time"),
)

working_hour_overrides = sa.Table(
    "working_hour_overrides",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("staff_id", sa.String(64), nullable=False, doc="the schedule's owner (staff.staff_id)"),
    sa.Column("schedule_id", sa.String(64), nullable=False, doc="Cal.com schedule id"),
    sa.Column("date", sa.Date, nullable=False, doc="the calendar date the override replaces"),
    sa.Column("start_time", sa.String(5), nullable=False, doc="local wall-clock HH:MM in time_zone"),
    sa.Column("end_time", sa.String(5), nullable=False, doc="local wall-clock HH:MM in time_zone"),
    sa.Column("time_zone", sa.String(64), nullable=False, doc="the time zone the schedule's times are in"),
    sa.Column("is_day_off", sa.Boolean, nullable=False, comment="00:00-00:00: not available that day"),
    *_bookkeeping(),
    sa.Index("ix_working_hour_overrides_key", "tenant", "staff_id", "schedule_id", "date", "start_time"),
)


retell_agents = sa.Table(
    "retell_agents",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("agent_id", sa.String(64), nullable=False, doc="Retell agent id"),
    sa.Column("version", sa.Integer, nullable=False, comment="the agent's latest version"),
    sa.Column("agent_name", sa.Text, doc="the agent's name"),
    sa.Column("is_published", sa.Boolean, doc="whether the latest version is published"),
    sa.Column("latest_published_version", sa.Integer, doc="the newest published version; null when none is"),
    sa.Column("voice_id", sa.Text, doc="the voice the agent speaks with"),
    sa.Column("language", sa.String(64), doc="the agent's language, e.g. de-DE"),
    sa.Column("webhook_url", sa.Text, doc="where Retell posts this agent's call events"),
    sa.Column("response_engine_type", sa.String(32), doc="retell-llm, conversation-flow or custom-llm"),
    sa.Column("llm_id", sa.String(64), doc="the Retell LLM behind the latest version"),
    sa.Column("llm_version", sa.Integer, doc="that LLM's version"),
    sa.Column("prompt", sa.Text, comment="general prompt + state prompts, secrets redacted"),
    sa.Column("prompt_hash", sa.String(64), comment="sha256 of the redacted prompt"),
    sa.Column("tags", sa.JSON, comment="{tag: version} from the current list-agents"),
    sa.Column("last_modified", UtcDateTime(), doc="when Retell last changed the agent (UTC)"),
    *_bookkeeping(),
    sa.Index("ix_retell_agents_key", "tenant", "agent_id"),
)

retell_agent_versions = sa.Table(
    "retell_agent_versions",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("agent_id", sa.String(64), nullable=False, doc="Retell agent id"),
    sa.Column("version", sa.Integer, nullable=False, doc="version number"),
    sa.Column("agent_name", sa.Text, doc="the agent's name in that version"),
    sa.Column("version_title", sa.Text, doc="the version's title, if one was given"),
    sa.Column("is_published", sa.Boolean, doc="whether this version is published"),
    sa.Column("llm_id", sa.String(64), doc="the Retell LLM of this version"),
    sa.Column("llm_version", sa.Integer, doc="that LLM's version"),
    sa.Column("prompt_hash", sa.String(64), comment="a changed prompt shows as a new hash"),
    sa.Column("last_modified", UtcDateTime(), doc="when Retell last changed this version (UTC)"),
    sa.Column(
        "prompt", sa.Text, comment="this version's general prompt + state prompts, secrets redacted (added in 0002)"
    ),
    *_bookkeeping(),
    sa.Index("ix_retell_agent_versions_key", "tenant", "agent_id", "version"),
)

retell_phone_numbers = sa.Table(
    "retell_phone_numbers",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("phone_number", sa.String(20), nullable=False, comment="E.164"),
    sa.Column("phone_number_pretty", sa.Text, doc="the number formatted for people"),
    sa.Column("nickname", sa.Text, doc="the number's nickname in Retell"),
    sa.Column("phone_number_type", sa.String(32), doc="the telephony provider's type of number"),
    sa.Column("inbound_agent_id", sa.String(64), comment="highest-weight inbound agent"),
    sa.Column(
        "inbound_agent_version", sa.String(32), comment="a version number or a tag such as prod / latest_published"
    ),
    sa.Column("outbound_agent_id", sa.String(64), doc="highest-weight outbound agent"),
    sa.Column("outbound_agent_version", sa.String(32), doc="a version number or a tag"),
    sa.Column("inbound_agents", sa.JSON, comment="[{agent_id, agent_version, weight}]"),
    sa.Column("outbound_agents", sa.JSON, doc="[{agent_id, agent_version, weight}]"),
    sa.Column("last_modified", UtcDateTime(), doc="when Retell last changed the number (UTC)"),
    *_bookkeeping(),
    sa.Index("ix_retell_phone_numbers_key", "tenant", "phone_number"),
)

phone_assignments = sa.Table(
    "phone_assignments",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("phone_number", sa.String(20), nullable=False, doc="the dialled number, E.164"),
    sa.Column("agent_id", sa.String(64), doc="the inbound agent that answers it"),
    sa.Column("agent_version", sa.String(32), comment="as bound on the number: a version or a tag"),
    sa.Column("agent_version_resolved", sa.Integer, comment="the version a call reaches now"),
    sa.Column("agent_version_published", sa.Boolean, doc="whether the version a call reaches is published"),
    sa.Column("agent_name", sa.Text, doc="that agent's name"),
    sa.Column(
        "branch_id", sa.String(64), doc="the branch (tenants file) the number belongs to; null when none claims it"
    ),
    sa.Column("branch_name", sa.Text, doc="that branch's name"),
    sa.Column("event_type_id", sa.String(64), doc="the branch's Cal.com event type"),
    sa.Column("event_type_title", sa.Text, comment="null when the event type is not in Cal.com"),
    sa.Column("hosting_staff_count", sa.Integer, doc="how many staff members host that event type"),
    *_bookkeeping(),
    sa.Index("ix_phone_assignments_key", "tenant", "phone_number"),
)


calcom_bookings = sa.Table(
    "calcom_bookings",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, comment="tenant-local date of the appointment start (the partition)"),
    sa.Column("uid", sa.String(64), nullable=False, doc="Cal.com booking uid"),
    sa.Column("booking_id", sa.String(64), doc="Cal.com numeric booking id (text)"),
    sa.Column(
        "status", sa.String(16), nullable=False, comment="accepted | pending | cancelled | rejected | awaiting_host"
    ),
    sa.Column("start_utc", UtcDateTime(), nullable=False, doc="appointment start (UTC)"),
    sa.Column("end_utc", UtcDateTime(), nullable=False, doc="appointment end (UTC)"),
    sa.Column("event_type_id", sa.String(64), doc="the booked event type (calcom_event_types.event_type_id)"),
    sa.Column("title", sa.Text, doc="the booking's title"),
    sa.Column("organizer_staff_id", sa.String(64), doc="the staff member who hosts it"),
    sa.Column("organizer_email", sa.Text, doc="the host's e-mail address"),
    sa.Column("attendees_count", sa.Integer, nullable=False, doc="number of attendees"),
    sa.Column("attendee_phone", sa.String(32), doc="the first attendee's phone number, E.164 where it parses"),
    sa.Column("rescheduled_from_uid", sa.String(64), doc="the booking this one replaced by rescheduling"),
    sa.Column("rescheduled_to_uid", sa.String(64), doc="the booking that replaced this one"),
    sa.Column("rescheduled", sa.Boolean, doc="whether this booking was moved to another time"),
    sa.Column("cancellation_reason", sa.Text, doc="the reason given when cancelled"),
    sa.Column("created_at", UtcDateTime(), doc="when the booking was made (UTC)"),
    sa.Column("updated_at", UtcDateTime(), comment="null from API v1 (not exposed)"),
    sa.Column("metadata", sa.JSON, doc="the booking's metadata as the API gave it (JSON)"),
    *_bookkeeping(),
    sa.Index("ix_calcom_bookings_key", "tenant", "day", "uid"),
    sa.Index("ix_calcom_bookings_uid", "tenant", "uid"),
    sa.Index("ix_calcom_bookings_created", "tenant", "created_at"),
)

retell_calls = sa.Table(
    "retell_calls",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, comment="tenant-local date of the call start (the partition)"),
    sa.Column("call_id", sa.String(64), nullable=False, doc="Retell call id"),
    sa.Column("agent_id", sa.String(64), doc="the agent that handled the call"),
    sa.Column("agent_version", sa.Integer, doc="that agent's version during the call"),
    sa.Column("call_type", sa.String(16), doc="phone_call or web_call"),
    sa.Column("direction", sa.String(16), doc="inbound or outbound (phone calls)"),
    sa.Column("from_number", sa.String(32), doc="caller's number"),
    sa.Column("to_number", sa.String(32), doc="dialled number"),
    sa.Column("call_status", sa.String(16), doc="registered, not_connected, ongoing, ended or error"),
    sa.Column("start_utc", UtcDateTime(), doc="call start (UTC)"),
    sa.Column("end_utc", UtcDateTime(), doc="call end (UTC)"),
    sa.Column("duration_ms", sa.BigInteger, doc="call length in milliseconds"),
    sa.Column("disconnection_reason", sa.String(64), doc="why the call ended, as Retell reports it"),
    sa.Column("cost_cents", sa.Float, comment="call_cost.combined_cost, in cents"),
    sa.Column("call_successful", sa.Boolean, doc="Retell's post-call analysis: did the call reach its goal"),
    sa.Column("user_sentiment", sa.String(16), doc="Retell's post-call analysis: the caller's sentiment"),
    sa.Column("call_summary", sa.Text, doc="Retell's post-call summary, secrets redacted"),
    sa.Column("in_voicemail", sa.Boolean, doc="the call reached a voicemail"),
    sa.Column("booking_uid", sa.String(64), comment="the Cal.com booking uid the agent wrote into the call, if any"),
    sa.Column("metadata", sa.JSON, doc="the call's metadata (JSON), secrets redacted"),
    sa.Column(
        "dynamic_variables",
        sa.JSON,
        doc="LLM dynamic variables overlaid with those collected in the call (JSON), secrets redacted",
    ),
    *_bookkeeping(),
    sa.Index("ix_retell_calls_key", "tenant", "day", "call_id"),
)

retell_call_transcripts = sa.Table(
    "retell_call_transcripts",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, doc="tenant-local date of the call start (the partition)"),
    sa.Column("call_id", sa.String(64), nullable=False, doc="Retell call id (retell_calls.call_id)"),
    sa.Column("transcript", sa.Text, comment="secrets redacted"),
    *_bookkeeping(),
    sa.Index("ix_retell_call_transcripts_key", "tenant", "day", "call_id"),
)

booking_outcomes = sa.Table(
    "booking_outcomes",
    metadata,
    sa.Column("tenant", sa.String(64), nullable=False, doc=TENANT_DOC),
    sa.Column("day", sa.Date, nullable=False, doc="tenant-local day (the partition)"),
    sa.Column("branch_id", sa.String(64), nullable=False, comment="'-' for calls/bookings no branch claims"),
    sa.Column("inbound_calls", sa.Integer, nullable=False, doc="inbound calls to the branch's numbers that day"),
    sa.Column(
        "calls_with_booking",
        sa.Integer,
        nullable=False,
        doc="those calls linked to a booking (README: how a call is linked)",
    ),
    sa.Column(
        "bookings_created", sa.Integer, nullable=False, doc="bookings of the branch's event type created that day"
    ),
    sa.Column("cancellations", sa.Integer, nullable=False, doc="appointments that day that are cancelled"),
    sa.Column("booking_success_rate", sa.Float, comment="calls_with_booking / inbound_calls; null without calls"),
    *_bookkeeping(),
    sa.Index("ix_booking_outcomes_key", "tenant", "day", "branch_id"),
)


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


@dataclass(frozen=True)
class TableContract:
    """A table and its natural key (tenant first)."""

    table: sa.Table
    key: tuple[str, ...]

    @property
    def by_day(self) -> bool:
        """Fact tables are replaced per tenant and day, dimensions per tenant."""
        return "day" in self.key

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def content_columns(self) -> list[str]:
        """Columns the writer fills from records: everything except tenant and bookkeeping."""
        scope = {"tenant", "day"} if self.by_day else {"tenant"}
        return [c.name for c in self.table.columns if c.name not in scope and c.name not in BOOKKEEPING_COLUMNS]

    @property
    def row_key(self) -> tuple[str, ...]:
        """The natural key within one slice (without tenant, and day for facts)."""
        return tuple(k for k in self.key if k not in ("tenant", "day"))


CONTRACTS: dict[str, TableContract] = {
    c.name: c
    for c in (
        TableContract(calcom_event_types, ("tenant", "event_type_id")),
        TableContract(staff, ("tenant", "staff_id")),
        TableContract(staff_event_types, ("tenant", "staff_id", "event_type_id")),
        TableContract(working_hours, ("tenant", "staff_id", "schedule_id", "weekday", "start_time")),
        TableContract(working_hour_overrides, ("tenant", "staff_id", "schedule_id", "date", "start_time")),
        TableContract(retell_agents, ("tenant", "agent_id")),
        TableContract(retell_agent_versions, ("tenant", "agent_id", "version")),
        TableContract(retell_phone_numbers, ("tenant", "phone_number")),
        TableContract(phone_assignments, ("tenant", "phone_number", "branch_id")),
        TableContract(calcom_bookings, ("tenant", "day", "uid")),
        TableContract(retell_calls, ("tenant", "day", "call_id")),
        TableContract(retell_call_transcripts, ("tenant", "day", "call_id")),
        TableContract(booking_outcomes, ("tenant", "day", "branch_id")),
    )
}


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

# ---- history (slowly changing dimensions, type 2) and quarantine --------------------------------

# The dimension tables whose every version is kept; facts are replaced per day and need none.
HISTORY_TABLES = (
    "calcom_event_types",
    "staff",
    "staff_event_types",
    "working_hours",
    "working_hour_overrides",
    "retell_agents",
    "retell_agent_versions",
    "retell_phone_numbers",
    "phone_assignments",
)
CHANGED, DELETED = "changed", "deleted"


def history_name(table: str) -> str:
    return f"{table}_history"


def _history_table(current: sa.Table, key: tuple[str, ...]) -> sa.Table:
    """`<table>_history`: the current table's columns (without synced_at) plus a validity interval."""
    copied = [
        sa.Column(c.name, c.type, nullable=c.nullable, comment=c.comment, doc=c.doc)
        for c in current.columns
        if c.name != "synced_at"
    ]
    return sa.Table(
        history_name(current.name),
        metadata,
        *copied,
        sa.Column("valid_from", UtcDateTime(), nullable=False, comment="when the sync first saw these values (UTC)"),
        sa.Column("valid_to", UtcDateTime(), comment="when they stopped holding; null while current"),
        sa.Column("change_kind", sa.String(8), comment="why the version closed: changed | deleted (at the source)"),
        sa.Column(
            "is_current", sa.Boolean, nullable=False, doc="true for the version that holds now (valid_to is null)"
        ),
        sa.Index(f"ix_{current.name}_history_key", *key, "valid_from"),
    )


HISTORY: dict[str, sa.Table] = {
    name: _history_table(CONTRACTS[name].table, CONTRACTS[name].key) for name in HISTORY_TABLES
}

quarantined_records = sa.Table(
    "quarantined_records",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("api", sa.String(16), nullable=False, comment="calcom | retell"),
    sa.Column("entity", sa.String(32), nullable=False, comment="event_types, schedules, agents, calls, ..."),
    sa.Column("scope", sa.String(16), nullable=False, comment="'' for dimensions; the day for facts listed per day"),
    sa.Column(
        "record_id",
        sa.String(128),
        nullable=False,
        comment="the record's id, or payload:<sha1> when the id itself is unreadable",
    ),
    sa.Column("error", sa.Text, nullable=False, comment="field paths and messages, no values"),
    sa.Column("payload", sa.JSON, comment="the record as received, secrets redacted"),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant", "entity", "scope", "record_id", name="uq_quarantined_records_record"),
)

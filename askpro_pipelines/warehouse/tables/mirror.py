"""The mirror's tables: Cal.com and Retell dimensions and the per-day facts, with their natural keys."""

import sqlalchemy as sa

from askpro_pipelines.warehouse.tables.analytics import booking_success, call_analysis
from askpro_pipelines.warehouse.tables.base import TENANT_DOC, TableContract, UtcDateTime, metadata
from askpro_pipelines.warehouse.tables.base import bookkeeping_columns as _bookkeeping

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
    sa.Column("dashboard_url", sa.Text, doc="the event type's page in the Cal.com web app (calcom.dashboard_url)"),
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
    sa.Column(
        "dashboard_url",
        sa.Text,
        doc="where the member is edited in the Cal.com web app: the members list (no page per member)",
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
    sa.Column("dashboard_url", sa.Text, doc="the schedule's page in the Cal.com web app (availability)"),
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
    sa.Column("dashboard_url", sa.Text, doc="the schedule's page in the Cal.com web app, where its date overrides are"),
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
    sa.Column("dashboard_url", sa.Text, doc="the agent's page in the Retell dashboard (retell.dashboard_url)"),
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
    sa.Column("dashboard_url", sa.Text, doc="the agent's page in the Retell dashboard, where versions are chosen"),
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
    sa.Column(
        "dashboard_url",
        sa.Text,
        doc="the phone numbers page of the Retell dashboard, where a number's agents are bound",
    ),
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
    sa.Column(
        "tool_calls",
        sa.JSON,
        doc="the call's tool calls in order (JSON): Retell's tool_call_invocation (tool_call_id, name, type, "
        "arguments) and tool_call_result (tool_call_id, content, successful) entries, secrets redacted",
    ),
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
        TableContract(call_analysis, ("tenant", "day", "call_id")),
        TableContract(booking_success, ("tenant", "day", "grouping", "group_key")),
    )
}

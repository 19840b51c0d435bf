"""The simulated accounts: the configuration and the static Cal.com and Retell data per tenant.

The world is the single source of truth the simulator's HTTP views are rendered from, and what
tests compare a sync against. Everything is drawn from `random.Random(seed + stable_hash(slug))`,
so one tenant's data does not depend on which other tenants exist, and ids are allocated from a
per-tenant block so they never collide across tenants.
"""


from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from askpro_pipelines.tenants import DEMO_KEY_PREFIXES

ID_BLOCK = 1_000_000

# A fixed clock keeps every timestamp in the world reproducible.
SIM_NOW = datetime(2026, 9, 15, 8, 0, 0, tzinfo=UTC)
SIM_NOW_MS = int(SIM_NOW.timestamp() * 1000)
WEEKDAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
"""Index = Cal.com v1 day number (JavaScript getDay(): 0 = Sunday ... 6 = Saturday)."""
PRIORITIES = ["lowest", "low", "medium", "high", "highest"]


# ---- configuration ----------------------------------------------------------------------------
@dataclass
class SimTenantSpec:
    """What one simulated tenant must contain; everything else is generated from the seed."""

    slug: str
    calcom_key: str
    retell_key: str
    event_types: int = 6
    staff: int = 4
    schedules_per_staff: int = 1
    event_type_ids: list[int] = field(default_factory=list)
    uuid_host_ids: bool = False
    time_zone: str = "Europe/Berlin"
    agents: int = 2
    phone_numbers: list[str] = field(default_factory=list)
    # Numbers beyond phone_numbers that no branch maps; off by default so the demo passes its checks.
    extra_phone_numbers: int = 0
    # Mean activity of a weekday (weekends get less); see generation.py. About half of the answered (at most
    # 250 a day) inbound calls book a slot, and those bookings count towards bookings_per_day (or exceed it).
    calls_per_day: int = 12
    bookings_per_day: int = 6
    # Which Retell endpoint generation the account has: current, legacy or both (retell_routes.py).
    retell_generation: str = "both"
    # Share of calls held in English (the rest German), and of inbound calls whose booking tool
    # reports a booking that Cal.com never got (off by default: the demo's calls all agree).
    english_share: float = 0.2
    phantom_booking_share: float = 0.0


@dataclass
class SimulatorConfig:
    """The seed and the tenants; the same config always builds the same world."""

    seed: int = 42
    tenants: list[SimTenantSpec] = field(default_factory=list)


# ---- the world --------------------------------------------------------------------------------
@dataclass
class SimOrganization:
    id: int
    name: str
    slug: str


@dataclass
class SimTeam:
    id: int
    name: str
    slug: str
    parent_id: int
    created_at: str
    brand_color: str
    time_zone: str
    week_start: str


@dataclass
class SimUser:
    id: int
    uuid: str  # shown instead of `id` in team hosts when the tenant has uuid_host_ids
    username: str
    name: str
    email: str
    bio: str | None
    time_zone: str
    week_start: str
    brand_color: str
    created_date: str
    email_verified: str | None
    default_schedule_id: int
    team_role: str  # OWNER | ADMIN | MEMBER (upper-case in both API versions)
    membership_id: int
    membership_created_at: str
    profile_id: int


@dataclass
class SimHost:
    user_id: int
    mandatory: bool  # v1 `isFixed`
    priority: str  # v2 priority name
    schedule_id: int | None


@dataclass
class SimEventType:
    id: int
    title: str
    slug: str
    description: str
    length: int
    length_options: list[int] | None
    hidden: bool
    position: int
    owner_id: int | None  # personal event types
    team_id: int | None  # team event types
    scheduling_type: str | None  # v2 casing: roundRobin | collective
    hosts: list[SimHost]
    schedule_id: int | None  # None: the owner's default applies (v1 fills it in)
    location_kind: str  # address | cal-video | phone
    location_value: str | None
    minimum_booking_notice: int
    before_event_buffer: int
    after_event_buffer: int
    slot_interval: int | None
    requires_confirmation: bool
    period_days: int | None  # None = UNLIMITED, else ROLLING over that many days
    ask_phone_number: bool

    @property
    def is_team(self) -> bool:
        return self.team_id is not None


@dataclass
class SimAvailability:
    id: int
    days: list[int]  # v1 numbering, 0 = Sunday
    start_time: str  # "HH:MM", wall clock in the schedule's time zone
    end_time: str


@dataclass
class SimOverride:
    id: int
    date: str  # "YYYY-MM-DD"
    start_time: str  # "00:00"-"00:00" marks the whole day unavailable
    end_time: str


@dataclass
class SimSchedule:
    id: int
    user_id: int
    name: str
    time_zone: str
    is_default: bool
    availability: list[SimAvailability]
    overrides: list[SimOverride]


@dataclass
class SimAgentVersion:
    version: int
    is_published: bool
    version_title: str
    last_modification_timestamp: int
    llm_changes: dict[str, Any] = field(default_factory=dict)  # LLM fields a client changed (retell_writes.py)


@dataclass
class SimAgent:
    agent_id: str
    agent_name: str
    llm_id: str
    voice_id: str
    webhook_url: str
    tags: dict[str, Any]
    versions: list[SimAgentVersion]  # ascending by version

    @property
    def latest(self) -> SimAgentVersion:
        return self.versions[-1]

    @property
    def latest_published(self) -> SimAgentVersion:
        return [v for v in self.versions if v.is_published][-1]


@dataclass
class SimAgentBinding:
    agent_id: str
    agent_version: int | str  # an int or a tag such as "latest_published"
    weight: float


@dataclass
class SimPhoneNumber:
    phone_number: str
    phone_number_pretty: str
    nickname: str
    inbound_agents: list[SimAgentBinding]
    outbound_agents: list[SimAgentBinding]
    last_modification_timestamp: int


@dataclass
class TenantAccounts:
    """One tenant's accounts: a Cal.com organization with one team, and a Retell workspace.

    Static data only; world.TenantWorld adds the bookings and calls (activity.py) on top.
    """

    spec: SimTenantSpec
    company_name: str
    address: str
    organization: SimOrganization
    team: SimTeam
    users: list[SimUser]
    event_types: list[SimEventType]
    schedules: list[SimSchedule]
    agents: list[SimAgent]
    phone_numbers: list[SimPhoneNumber]
    seed: int = 0  # the world's seed: each day's bookings and calls are drawn from it
    id_base: int = 0  # first id of the tenant's id block
    _users_by_id: dict[int, SimUser] = field(init=False, repr=False, compare=False)
    _event_types_by_id: dict[int, SimEventType] = field(init=False, repr=False, compare=False)
    _schedules_by_id: dict[int, SimSchedule] = field(init=False, repr=False, compare=False)
    _agents_by_id: dict[str, SimAgent] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._users_by_id = {u.id: u for u in self.users}
        self._event_types_by_id = {et.id: et for et in self.event_types}
        self._schedules_by_id = {s.id: s for s in self.schedules}
        self._agents_by_id = {a.agent_id: a for a in self.agents}

    @property
    def slug(self) -> str:
        return self.spec.slug

    @property
    def admin(self) -> SimUser:
        """The account owner: the user whose API key the tenant's Cal.com key is."""
        return self.users[0]

    @property
    def personal_event_types(self) -> list[SimEventType]:
        return [et for et in self.event_types if not et.is_team]

    @property
    def team_event_types(self) -> list[SimEventType]:
        return [et for et in self.event_types if et.is_team]

    def user(self, user_id: int) -> SimUser:
        return self._users_by_id[user_id]

    def schedules_of(self, user_id: int) -> list[SimSchedule]:
        return [s for s in self.schedules if s.user_id == user_id]

    def event_type(self, event_type_id: int) -> SimEventType:
        return self._event_types_by_id[event_type_id]

    def schedule(self, schedule_id: int) -> SimSchedule:
        return self._schedules_by_id[schedule_id]

    def agent(self, agent_id: str) -> SimAgent:
        return self._agents_by_id[agent_id]


# ---- keys for tenants served by the simulator -------------------------------------------------
def sim_calcom_key(slug: str) -> str:
    """The Cal.com key the simulator issues to a tenant when none is configured."""
    return f"{DEMO_KEY_PREFIXES[0]}{slug.replace('-', '_')}"


def sim_retell_key(slug: str) -> str:
    """The Retell key the simulator issues to a tenant when none is configured."""
    return f"{DEMO_KEY_PREFIXES[1]}{slug.replace('-', '_')}"


def config_from_tenants(tenants: Any, seed: int = 42) -> SimulatorConfig:
    """A simulator config for a tenants file's tenants, keyed with `sim_*_key`.

    Takes the `askpro_pipelines.tenants.Tenant` shape (slug, timezone, branches with
    calcom_event_type_id and phone_numbers) so each branch's event type and numbers exist.
    """
    specs = []
    for tenant in tenants:
        event_type_ids: list[int] = []
        phones: list[str] = []
        for branch in tenant.branches:
            raw_id = str(branch.calcom_event_type_id)
            if raw_id.isdigit() and int(raw_id) not in event_type_ids:
                event_type_ids.append(int(raw_id))
            phones += [n for n in branch.phone_numbers if n not in phones]
        specs.append(
            SimTenantSpec(
                slug=tenant.slug,
                calcom_key=sim_calcom_key(tenant.slug),
                retell_key=sim_retell_key(tenant.slug),
                event_type_ids=event_type_ids,
                phone_numbers=phones,
                time_zone=tenant.timezone,
            )
        )
    return SimulatorConfig(seed=seed, tenants=specs)


def demo_config(seed: int = 42) -> SimulatorConfig:
    """The bundled demo tenants (demo_tenants.yaml) as a simulator config."""
    from importlib import resources

    from askpro_pipelines.tenants import DEMO_TENANTS_RESOURCE, parse_tenants

    text = resources.files("askpro_pipelines").joinpath(DEMO_TENANTS_RESOURCE).read_text("utf-8")
    return config_from_tenants(parse_tenants(text, source=DEMO_TENANTS_RESOURCE).tenants, seed=seed)


# ---- helpers shared by the builder and the activity ------------------------------------------
def stable_hash(text: str) -> int:
    """A process-independent hash (Python's str hash is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


_TRANSLITERATIONS = (
    ("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss"), ("ë", "e"),
)


def ascii_slug(text: str) -> str:
    """URL slug the way German names are usually transliterated (ä -> ae, ß -> ss)."""
    for src, dst in _TRANSLITERATIONS:
        text = text.replace(src, dst)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def iso_ms(moment: datetime) -> str:
    """Cal.com's ISO format: UTC with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

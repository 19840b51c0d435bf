"""The simulated accounts: a deterministic, seedable world of Cal.com and Retell data per tenant.

The world is the single source of truth the simulator's HTTP views are rendered from, and what
tests compare a sync against. Everything is drawn from `random.Random(seed + stable_hash(slug))`,
so one tenant's data does not depend on which other tenants exist, and ids are allocated from a
per-tenant block so they never collide across tenants.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from askpro_pipelines.simulator.activity import SimBooking, SimCall, TenantActivity

# Ids: each tenant owns one block of _ID_BLOCK consecutive ints, chosen by a stable hash of its
# slug (linear probing in config order on a clash). Every id stays below 2**31, like Cal.com's
# Postgres `Int` keys, so a warehouse with 32-bit id columns holds them.
_ID_BASE = 10_000_000
_ID_BLOCK = 1_000_000
_ID_BLOCKS = 2_000

# Per-day activity limits: a day's integer booking and attendee ids share one range of 1000 (which
# is why the bookings made during calls are capped per day, see activity.py). Calls have no integer
# ids: 10,000 a day is a busy tenant's backfill (issue 15).
_MAX_BOOKINGS_PER_DAY = 100
_MAX_CALLS_PER_DAY = 10_000

# A fixed clock keeps every timestamp in the world reproducible.
SIM_NOW = datetime(2026, 9, 15, 8, 0, 0, tzinfo=UTC)
SIM_NOW_MS = int(SIM_NOW.timestamp() * 1000)

WEEKDAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
"""Index = Cal.com v1 day number (JavaScript getDay(): 0 = Sunday ... 6 = Saturday)."""

PRIORITIES = ["lowest", "low", "medium", "high", "highest"]

_FIRST_NAMES = [
    "Jürgen", "Björn", "Sören", "Jörg", "Käthe", "Günther", "Bärbel", "Uwe", "Anna", "Jonas",
    "Lena", "Lukas", "Sophie", "Felix", "Marie", "Paul", "Hannah", "Maximilian", "Lea", "Tobias",
    "Sarah", "Moritz", "Clara", "Emil", "Greta", "Jannik", "Ida", "Matthäus", "Zoë", "Dörte",
]
_LAST_NAMES = [
    "Müller", "Schröder", "Köhler", "Schäfer", "Jäger", "Krüger", "Böhm", "Weiß", "Groß", "Hoffmann",
    "Schneider", "Weber", "Becker", "Fischer", "Wagner", "Zimmermann", "Bäcker", "Löffler", "Möller",
    "Günther", "Wöhler", "Schütz", "Brückner", "Förster", "Hübner", "Kühn", "Lämmle", "Öztürk",
]
_BIOS = [
    "Physiotherapeutin mit Schwerpunkt Manuelle Therapie.",
    "Ausbildung zum Masseur und medizinischen Bademeister.",
    "Fachkraft für Rückengesundheit und Prävention.",
    "Zahnmedizinische Fachangestellte, Prophylaxe.",
    "Friseurmeister, spezialisiert auf Colorationen.",
    "Empfang und Terminplanung.",
]
_STREETS = [
    "Parkstraße", "Hauptstraße", "Schloßallee", "Königstraße", "Mühlenweg", "Gartenstraße",
    "Lindenstraße", "Bahnhofstraße", "Am Grünen Weg", "Süderstraße",
]
_CITIES = [
    ("10115", "Berlin"), ("80331", "München"), ("20095", "Hamburg"), ("50667", "Köln"),
    ("40213", "Düsseldorf"), ("90402", "Nürnberg"), ("23552", "Lübeck"), ("02826", "Görlitz"),
]
# (title, default length in minutes)
_SERVICES = [
    ("Erstberatung", 30), ("Krankengymnastik", 60), ("Manuelle Therapie", 45), ("Lymphdrainage", 45),
    ("Massage", 30), ("Kontrolltermin", 15), ("Beratungsgespräch", 30), ("Rückenschule", 60),
    ("Videosprechstunde", 20), ("Hausbesuch", 60), ("Nachsorge", 30), ("Fußreflexzonenmassage", 30),
    ("Kiefergelenkbehandlung", 45), ("Professionelle Zahnreinigung", 60), ("Haarschnitt", 45),
    ("Färben & Strähnen", 90), ("Bartpflege", 20), ("Wärmetherapie", 20),
]
_SCHEDULE_NAMES = ["Arbeitszeiten", "Praxiszeiten", "Öffnungszeiten", "Sprechzeiten"]
_EXTRA_SCHEDULE_NAMES = ["Samstag Sprechstunde", "Spätdienst", "Sonntagsdienst", "Sommerzeiten", "Vertretung"]
# German public holidays and Christmas-season days: plausible dates for date overrides.
_OVERRIDE_DATES = [
    "2026-10-03", "2026-10-31", "2026-12-24", "2026-12-28", "2026-12-31", "2027-01-01",
    "2027-03-26", "2027-03-29", "2027-05-01", "2027-05-06", "2027-05-17",
]
_AGENT_ROLES = [
    "Rezeption (DE)", "Rückruf-Agent (Outbound)", "Terminbuchung", "Öffnungszeiten-Auskunft",
    "Notdienst-Ansage", "Rezeptbestellung",
]
_VERSION_TITLES = ["Herbst-Öffnungszeiten", "Sommer-Öffnungszeiten", "Neue Begrüßung", "Feiertagsansage"]
_VOICES = ["11labs-Carola", "11labs-Jörg", "openai-Nova", "11labs-Anke"]
_BRAND_COLORS = ["#1a6b54", "#2b4c7e", "#8c2f39", "#4a4e69", "#c06014", "#2a9d8f"]


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
    # Mean activity of a weekday (weekends get less); see activity.py. About half of the answered (at most
    # 250 a day) inbound calls book a slot, and those bookings count towards bookings_per_day (or exceed it).
    calls_per_day: int = 12
    bookings_per_day: int = 6
    # Which Retell endpoint generation the account has: current, legacy or both (retell_routes.py).
    retell_generation: str = "both"


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
class TenantWorld:
    """One tenant's accounts: a Cal.com organization with one team, and a Retell workspace."""

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
    _activity: TenantActivity | None = field(init=False, repr=False, compare=False, default=None)
    _activity_lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)

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

    @property
    def activity(self) -> TenantActivity:
        """Bookings and calls, made on first use so a world that never needs them pays nothing."""
        with self._activity_lock:
            if self._activity is None:
                from askpro_pipelines.simulator.activity import TenantActivity

                self._activity = TenantActivity(self)
            return self._activity

    def bookings_on(self, day: date | str) -> list[SimBooking]:
        """Bookings starting on this local day (the tenant's time zone), by start then id."""
        return self.activity.bookings_on(day)

    def calls_on(self, day: date | str) -> list[SimCall]:
        """Calls starting on this local day, by start then call id."""
        return self.activity.calls_on(day)

    def booking(self, uid: str) -> SimBooking | None:
        return self.activity.booking(uid)

    def call(self, call_id: str) -> SimCall | None:
        return self.activity.call(call_id)


@dataclass
class World:
    """Every tenant's accounts, in config order, with key lookups for authentication."""

    seed: int
    tenants: dict[str, TenantWorld]
    _by_calcom_key: dict[str, TenantWorld] = field(init=False, repr=False, compare=False)
    _by_retell_key: dict[str, TenantWorld] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_calcom_key = {t.spec.calcom_key: t for t in self.tenants.values()}
        self._by_retell_key = {t.spec.retell_key: t for t in self.tenants.values()}

    def tenant(self, slug: str) -> TenantWorld:
        return self.tenants[slug]

    def tenant_for_calcom_key(self, key: str | None) -> TenantWorld | None:
        return self._by_calcom_key.get(key) if key else None

    def tenant_for_retell_key(self, key: str | None) -> TenantWorld | None:
        return self._by_retell_key.get(key) if key else None

    def bookings_on(self, slug: str, day: date | str) -> list[SimBooking]:
        """A tenant's bookings starting on a local day; deterministic per (seed, slug, day)."""
        return self.tenants[slug].bookings_on(day)

    def calls_on(self, slug: str, day: date | str) -> list[SimCall]:
        """A tenant's calls starting on a local day; deterministic per (seed, slug, day)."""
        return self.tenants[slug].calls_on(day)


# ---- keys for tenants served by the simulator -------------------------------------------------


def sim_calcom_key(slug: str) -> str:
    """The Cal.com key the simulator issues to a tenant when none is configured."""
    return f"cal_test_sim_{slug.replace('-', '_')}"


def sim_retell_key(slug: str) -> str:
    """The Retell key the simulator issues to a tenant when none is configured."""
    return f"key_sim_{slug.replace('-', '_')}"


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


# ---- building ---------------------------------------------------------------------------------


def stable_hash(text: str) -> int:
    """A process-independent hash (Python's str hash is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def build_world(config: SimulatorConfig) -> World:
    """Generate every tenant's data; raises ValueError for an inconsistent config."""
    _validate(config)
    reserved = {i for spec in config.tenants for i in spec.event_type_ids}
    taken_blocks: set[int] = set()
    taken_numbers = {n for spec in config.tenants for n in spec.phone_numbers}
    tenants: dict[str, TenantWorld] = {}
    for spec in config.tenants:
        block = stable_hash(spec.slug) % _ID_BLOCKS
        while block in taken_blocks:
            block = (block + 1) % _ID_BLOCKS
        taken_blocks.add(block)
        ids = _IdAllocator(_ID_BASE + block * _ID_BLOCK, reserved, spec.slug)
        rng = random.Random(config.seed + stable_hash(spec.slug))
        tenants[spec.slug] = _TenantBuilder(spec, rng, ids, block, taken_numbers, config.seed).build()
    return World(seed=config.seed, tenants=tenants)


def _validate(config: SimulatorConfig) -> None:
    def unique(values: list, what: str) -> None:
        seen: set = set()
        for value in values:
            if value in seen:
                raise ValueError(f"simulator config: {what} {value!r} appears twice")
            seen.add(value)

    specs = config.tenants
    unique([s.slug for s in specs], "tenant slug")
    unique([s.calcom_key for s in specs] + [s.retell_key for s in specs], "API key")
    unique([i for s in specs for i in s.event_type_ids], "event type id")
    unique([n for s in specs for n in s.phone_numbers], "phone number")
    for spec in specs:
        where = f"simulator tenant {spec.slug!r}"
        if not spec.slug or not spec.calcom_key or not spec.retell_key:
            raise ValueError(f"{where}: slug, calcom_key and retell_key must be non-empty")
        if spec.retell_generation not in ("current", "legacy", "both"):
            raise ValueError(f"{where}: retell_generation must be current, legacy or both")
        if spec.staff < 1 or spec.schedules_per_staff < 1:
            raise ValueError(f"{where}: staff and schedules_per_staff must be at least 1")
        if spec.event_types < 0 or spec.agents < 0:
            raise ValueError(f"{where}: event_types and agents must not be negative")
        if not 0 <= spec.extra_phone_numbers <= 50:
            raise ValueError(f"{where}: extra_phone_numbers must be between 0 and 50")
        if not 0 <= spec.bookings_per_day <= _MAX_BOOKINGS_PER_DAY:
            raise ValueError(f"{where}: bookings_per_day must be between 0 and {_MAX_BOOKINGS_PER_DAY}")
        if not 0 <= spec.calls_per_day <= _MAX_CALLS_PER_DAY:
            raise ValueError(f"{where}: calls_per_day must be between 0 and {_MAX_CALLS_PER_DAY}")
        for event_type_id in spec.event_type_ids:
            if not isinstance(event_type_id, int) or isinstance(event_type_id, bool) or event_type_id < 1:
                raise ValueError(f"{where}: event type id {event_type_id!r} is not a positive int")
        for number in spec.phone_numbers:
            if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
                raise ValueError(f"{where}: {number!r} is not an E.164 phone number")


class _IdAllocator:
    """Hands out the next free id of the tenant's block, skipping ids the config reserves."""

    def __init__(self, start: int, reserved: set[int], slug: str):
        self._next = start
        self._end = start + _ID_BLOCK
        self._reserved = reserved
        self._slug = slug

    def __call__(self) -> int:
        while self._next in self._reserved:
            self._next += 1
        if self._next >= self._end:
            raise ValueError(f"simulator tenant {self._slug!r}: more than {_ID_BLOCK} records; use a smaller world")
        value = self._next
        self._next += 1
        return value


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


class _TenantBuilder:
    def __init__(
        self, spec: SimTenantSpec, rng: random.Random, ids: _IdAllocator, block: int, taken_numbers: set[str], seed: int
    ):
        self.spec = spec
        self.rng = rng
        self.ids = ids
        self.block = block
        self.taken_numbers = taken_numbers
        self.seed = seed

    def build(self) -> TenantWorld:
        spec, rng = self.spec, self.rng
        company = _company_name(spec.slug)
        zip_code, city = rng.choice(_CITIES)
        address = f"{rng.choice(_STREETS)} {rng.randint(1, 120)}, {zip_code} {city}"
        brand_color = rng.choice(_BRAND_COLORS)
        organization = SimOrganization(id=self.ids(), name=f"{company} Organisation", slug=f"{spec.slug}-org")
        created = SIM_NOW - timedelta(days=rng.randint(300, 900), seconds=rng.randint(0, 86_399))
        team = SimTeam(
            id=self.ids(),
            name=company,
            slug=spec.slug,
            parent_id=organization.id,
            created_at=iso_ms(created),
            brand_color=brand_color,
            time_zone=spec.time_zone,
            week_start="Monday",
        )
        users = self._users(created, brand_color)
        schedules = self._schedules(users)
        event_types = self._event_types(users, schedules, team, address)
        agents = self._agents(company)
        phone_numbers = self._phone_numbers(agents)
        return TenantWorld(
            spec=spec,
            company_name=company,
            address=address,
            organization=organization,
            team=team,
            users=users,
            event_types=event_types,
            schedules=schedules,
            agents=agents,
            phone_numbers=phone_numbers,
            seed=self.seed,
            id_base=_ID_BASE + self.block * _ID_BLOCK,
        )

    def _users(self, team_created: datetime, brand_color: str) -> list[SimUser]:
        rng, spec = self.rng, self.spec
        users: list[SimUser] = []
        usernames: set[str] = set()
        for index in range(spec.staff):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            name = f"Dr. {first} {last}" if index == 0 and rng.random() < 0.5 else f"{first} {last}"
            base = ascii_slug(f"{first} {last}")
            username, suffix = base, 2
            while username in usernames:
                username, suffix = f"{base}-{suffix}", suffix + 1
            usernames.add(username)
            days_after_team = 0 if index == 0 else rng.randint(1, 250)
            joined = team_created + timedelta(days=days_after_team, seconds=rng.randint(0, 86_399))
            users.append(
                SimUser(
                    id=self.ids(),
                    uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    username=username,
                    name=name,
                    email=f"{username.replace('-', '.')}@{spec.slug}.example",
                    bio=rng.choice(_BIOS) if rng.random() < 0.6 else None,
                    time_zone=spec.time_zone,
                    week_start="Sunday" if rng.random() < 0.2 else "Monday",
                    brand_color=brand_color,
                    created_date=iso_ms(joined - timedelta(minutes=3)),
                    email_verified=iso_ms(joined) if rng.random() < 0.8 else None,
                    default_schedule_id=0,  # set once the schedules exist
                    team_role="OWNER" if index == 0 else ("ADMIN" if index == 1 and spec.staff >= 3 else "MEMBER"),
                    membership_id=self.ids(),
                    membership_created_at=iso_ms(joined),
                    profile_id=self.ids(),
                )
            )
        return users

    def _schedules(self, users: list[SimUser]) -> list[SimSchedule]:
        schedules: list[SimSchedule] = []
        for index, user in enumerate(users):
            for number in range(self.spec.schedules_per_staff):
                is_default = number == 0
                schedule_id = self.ids()
                if is_default:
                    user.default_schedule_id = schedule_id
                    name = self.rng.choice(_SCHEDULE_NAMES)
                    # The owner always works some Sunday and has both override kinds, so the
                    # Sunday numbering and the all-day-off override appear in every tenant.
                    availability = self._weekly_rows(sunday=index == 0 or self.rng.random() < 0.2)
                    override_count = 2 if index == 0 else self.rng.choice([0, 0, 1, 2])
                else:
                    name = _EXTRA_SCHEDULE_NAMES[(number - 1) % len(_EXTRA_SCHEDULE_NAMES)]
                    availability = self._extra_rows(name)
                    override_count = self.rng.choice([0, 1])
                schedules.append(
                    SimSchedule(
                        id=schedule_id,
                        user_id=user.id,
                        name=name,
                        time_zone=self.spec.time_zone,
                        is_default=is_default,
                        availability=availability,
                        overrides=self._overrides(override_count),
                    )
                )
        return schedules

    def _weekly_rows(self, sunday: bool) -> list[SimAvailability]:
        """Mon-Fri hours with a lunch break on some days, sometimes Saturday, maybe Sunday."""
        rng = self.rng
        start = rng.choice(["07:30", "08:00", "08:30", "09:00"])
        lunch_start, lunch_end = rng.choice([("12:00", "13:00"), ("12:30", "13:30"), ("13:00", "14:00")])
        end = rng.choice(["16:00", "17:00", "18:00", "18:30"])
        split_days = sorted(rng.sample([1, 2, 3, 4, 5], rng.randint(2, 4)))
        whole_days = [d for d in [1, 2, 3, 4, 5] if d not in split_days]
        rows = [
            SimAvailability(self.ids(), list(split_days), start, lunch_start),
            SimAvailability(self.ids(), list(split_days), lunch_end, end),
        ]
        if whole_days:
            rows.append(SimAvailability(self.ids(), whole_days, start, rng.choice(["13:00", "14:00", end])))
        if rng.random() < 0.4:
            rows.append(SimAvailability(self.ids(), [6], "09:00", rng.choice(["12:00", "13:00", "14:00"])))
        if sunday:
            rows.append(SimAvailability(self.ids(), [0], "10:00", rng.choice(["12:00", "14:00"])))
        return rows

    def _extra_rows(self, name: str) -> list[SimAvailability]:
        if name == "Samstag Sprechstunde":
            return [SimAvailability(self.ids(), [6], "09:00", "13:00")]
        if name == "Sonntagsdienst":
            return [SimAvailability(self.ids(), [0, 6], "10:00", "14:00")]
        if name == "Spätdienst":
            return [SimAvailability(self.ids(), sorted(self.rng.sample([1, 2, 3, 4, 5], 2)), "14:00", "20:00")]
        return [SimAvailability(self.ids(), [1, 2, 3, 4, 5], self.rng.choice(["08:00", "09:00"]), "15:00")]

    def _overrides(self, count: int) -> list[SimOverride]:
        dates = sorted(self.rng.sample(_OVERRIDE_DATES, count))
        overrides = []
        for index, override_date in enumerate(dates):
            start, end = ("00:00", "00:00") if index == 0 else ("08:00", "12:00")
            overrides.append(SimOverride(self.ids(), override_date, start, end))
        return overrides

    def _event_types(
        self, users: list[SimUser], schedules: list[SimSchedule], team: SimTeam, address: str
    ) -> list[SimEventType]:
        rng, spec = self.rng, self.spec
        total = max(spec.event_types, len(spec.event_type_ids))
        admin = users[0]
        admin_schedules = [s.id for s in schedules if s.user_id == admin.id]
        extra_schedules: dict[int, list[int]] = {}  # user id -> non-default schedule ids
        for schedule in schedules:
            if not schedule.is_default:
                extra_schedules.setdefault(schedule.user_id, []).append(schedule.id)
        title_uses: dict[str, int] = {}
        positions = {"personal": 0, "team": 0}
        event_types = []
        for index in range(total):
            event_type_id = spec.event_type_ids[index] if index < len(spec.event_type_ids) else self.ids()
            personal = index % 3 == 1
            base_title, length = rng.choice(_SERVICES)
            title_uses[base_title] = title_uses.get(base_title, 0) + 1
            title = base_title if title_uses[base_title] == 1 else f"{base_title} {title_uses[base_title]}"
            kind = "personal" if personal else "team"
            position, positions[kind] = positions[kind], positions[kind] + 1
            location_kind = rng.choices(["address", "cal-video", "phone"], weights=[7, 2, 1])[0]
            phone = f"+4930{rng.randint(1_000_000, 9_999_999)}"
            location_value = {"address": address, "cal-video": None, "phone": phone}[location_kind]
            if personal:
                hosts: list[SimHost] = []
                scheduling_type = None
                schedule_id = None if rng.random() < 0.3 else rng.choice(admin_schedules)
            else:
                hosts, scheduling_type = self._hosts(users, extra_schedules)
                schedule_id = None
            event_types.append(
                SimEventType(
                    id=event_type_id,
                    title=title,
                    slug=ascii_slug(title),
                    description=f"{base_title} – Termin bei {team.name}.",
                    length=length,
                    length_options=sorted({length, length * 2}) if rng.random() < 0.2 else None,
                    hidden=rng.random() < 0.1,
                    position=position,
                    owner_id=admin.id if personal else None,
                    team_id=None if personal else team.id,
                    scheduling_type=scheduling_type,
                    hosts=hosts,
                    schedule_id=schedule_id,
                    location_kind=location_kind,
                    location_value=location_value,
                    minimum_booking_notice=rng.choice([0, 60, 120, 1440]),
                    before_event_buffer=rng.choice([0, 0, 5, 10]),
                    after_event_buffer=rng.choice([0, 5, 10, 15]),
                    slot_interval=rng.choice([None, None, 15, 30]),
                    requires_confirmation=rng.random() < 0.15,
                    period_days=rng.choice([None, 30, 60]),
                    ask_phone_number=rng.random() < 0.5,
                )
            )
        return event_types

    def _hosts(self, users: list[SimUser], extra_schedules: dict[int, list[int]]) -> tuple[list[SimHost], str]:
        rng = self.rng
        chosen = rng.sample(users, min(len(users), rng.randint(1, 3)))
        chosen.sort(key=lambda u: u.id)
        scheduling_type = "collective" if rng.random() < 0.3 else "roundRobin"
        hosts = []
        for user in chosen:
            extra = extra_schedules.get(user.id, [])
            schedule_id = rng.choice(extra) if extra and rng.random() < 0.5 else None
            hosts.append(
                SimHost(
                    user_id=user.id,
                    mandatory=scheduling_type == "collective",
                    priority=rng.choices(PRIORITIES, weights=[1, 2, 6, 2, 1])[0],
                    schedule_id=schedule_id,
                )
            )
        return hosts, scheduling_type

    def _agents(self, company: str) -> list[SimAgent]:
        rng = self.rng
        agents = []
        for index in range(self.spec.agents):
            version_count = rng.randint(1, 3)
            first_version = rng.randint(0, 6)
            modified = SIM_NOW_MS - rng.randint(30, 200) * 86_400_000
            versions = []
            for offset in range(version_count):
                modified += rng.randint(1, 20) * 86_400_000 + rng.randint(0, 86_399_999)
                versions.append(
                    SimAgentVersion(
                        version=first_version + offset,
                        # Older versions are published; the newest may still be a draft.
                        is_published=offset < version_count - 1 or version_count == 1 or rng.random() < 0.7,
                        version_title=rng.choice(_VERSION_TITLES),
                        last_modification_timestamp=modified,
                    )
                )
            published = [v.version for v in versions if v.is_published]
            tags = {}
            if index == 0 and published:
                tags = {"prod": {"version": published[-1], "dynamic_variables": {"praxis_name": company}}}
            agents.append(
                SimAgent(
                    agent_id="agent_" + f"{rng.getrandbits(104):026x}",
                    agent_name=f"{company} – {_AGENT_ROLES[index % len(_AGENT_ROLES)]}",
                    llm_id="llm_" + f"{rng.getrandbits(112):028x}",
                    voice_id=rng.choice(_VOICES),
                    webhook_url=f"https://hooks.{self.spec.slug}.example/retell",
                    tags=tags,
                    versions=versions,
                )
            )
        return agents

    def _phone_numbers(self, agents: list[SimAgent]) -> list[SimPhoneNumber]:
        rng = self.rng
        numbers = list(self.spec.phone_numbers)
        # The block number makes these unique across tenants; the config's own numbers are skipped.
        free = [f"+4930555{self.block:04d}{n:02d}" for n in range(100)]
        free = [n for n in free if n not in self.taken_numbers]
        numbers += sorted(rng.sample(free, self.spec.extra_phone_numbers))
        phone_numbers = []
        for index, number in enumerate(numbers):
            inbound: list[SimAgentBinding] = []
            outbound: list[SimAgentBinding] = []
            if agents:
                agent = agents[index % len(agents)]
                # Numbers answer with a published version (a draft answering calls would be a mistake).
                version: int | str = agent.latest_published.version if rng.random() < 0.7 else "latest_published"
                inbound = [SimAgentBinding(agent.agent_id, version, 1)]
                if len(agents) > 1:
                    outbound = [SimAgentBinding(agents[(index + 1) % len(agents)].agent_id, "latest_published", 1)]
            phone_numbers.append(
                SimPhoneNumber(
                    phone_number=number,
                    phone_number_pretty=_pretty(number),
                    nickname="Hauptnummer" if index == 0 else f"Filiale {index + 1}",
                    inbound_agents=inbound,
                    outbound_agents=outbound,
                    last_modification_timestamp=SIM_NOW_MS - rng.randint(1, 120) * 86_400_000,
                )
            )
        return phone_numbers


def _company_name(slug: str) -> str:
    """'zahnarzt-dr-mueller' -> 'Zahnarzt Dr. Mueller': a readable name from the slug."""
    words = []
    for index, part in enumerate(slug.split("-")):
        if part == "dr":
            words.append("Dr.")
        elif index > 0 and part in {"am", "an", "im", "in", "der", "die", "das", "und", "von", "zum", "zur"}:
            words.append(part)
        else:
            words.append(part.capitalize())
    return " ".join(words)


def _pretty(number: str) -> str:
    """'+4930123456701' -> '+49 30 123456701' (German numbers; others unchanged)."""
    if number.startswith("+49") and len(number) > 6:
        return f"+49 {number[3:5]} {number[5:]}"
    return number

"""Building the simulated accounts from a config: ids, staff, schedules, event types, agents, numbers.

Everything is drawn from `random.Random(seed + stable_hash(slug))`, so one tenant's data does not
depend on which other tenants exist, and ids come from a per-tenant block so they never collide.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta
from typing import TypeVar

from askpro_simulator.accounts import (
    ID_BLOCK,
    PRIORITIES,
    SIM_NOW,
    SIM_NOW_MS,
    SimAgent,
    SimAgentBinding,
    SimAgentVersion,
    SimAvailability,
    SimEventType,
    SimHost,
    SimOrganization,
    SimOverride,
    SimPhoneNumber,
    SimSchedule,
    SimTeam,
    SimTenantSpec,
    SimUser,
    SimulatorConfig,
    TenantAccounts,
    ascii_slug,
    iso_ms,
    stable_hash,
)

# Ids: each tenant owns one block of ID_BLOCK consecutive ints, chosen by a stable hash of its
# slug (linear probing in config order on a clash). Every id stays below 2**31, like Cal.com's
# Postgres `Int` keys, so a warehouse with 32-bit id columns holds them.
_ID_BASE = 10_000_000
_ID_BLOCKS = 2_000

# Per-day activity limits: a day's integer booking and attendee ids share one range of 1000 (which
# is why the bookings made during calls are capped per day, see records.py). Calls have no integer
# ids: 10,000 a day is a busy tenant's backfill (issue 15).
_MAX_BOOKINGS_PER_DAY = 100
_MAX_CALLS_PER_DAY = 10_000

FIRST_NAMES = [
    "Jürgen", "Björn", "Sören", "Jörg", "Käthe", "Günther", "Bärbel", "Uwe", "Anna", "Jonas",
    "Lena", "Lukas", "Sophie", "Felix", "Marie", "Paul", "Hannah", "Maximilian", "Lea", "Tobias",
    "Sarah", "Moritz", "Clara", "Emil", "Greta", "Jannik", "Ida", "Matthäus", "Zoë", "Dörte",
]

LAST_NAMES = [
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
T = TypeVar("T", bound=TenantAccounts)


def build_tenants(config: SimulatorConfig, tenant_class: type[T]) -> dict[str, T]:
    """Generate every tenant's data as `tenant_class`; raises ValueError for an inconsistent config."""
    _validate(config)
    reserved = {i for spec in config.tenants for i in spec.event_type_ids}
    taken_blocks: set[int] = set()
    taken_numbers = {n for spec in config.tenants for n in spec.phone_numbers}
    tenants: dict[str, T] = {}
    for spec in config.tenants:
        block = stable_hash(spec.slug) % _ID_BLOCKS
        while block in taken_blocks:
            block = (block + 1) % _ID_BLOCKS
        taken_blocks.add(block)
        ids = _IdAllocator(_ID_BASE + block * ID_BLOCK, reserved, spec.slug)
        rng = random.Random(config.seed + stable_hash(spec.slug))
        tenants[spec.slug] = _TenantBuilder(spec, rng, ids, block, taken_numbers, config.seed).build(tenant_class)
    return tenants


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
        self._end = start + ID_BLOCK
        self._reserved = reserved
        self._slug = slug

    def __call__(self) -> int:
        while self._next in self._reserved:
            self._next += 1
        if self._next >= self._end:
            raise ValueError(f"simulator tenant {self._slug!r}: more than {ID_BLOCK} records; use a smaller world")
        value = self._next
        self._next += 1
        return value


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

    def build(self, tenant_class: type[T]) -> T:
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
        return tenant_class(
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
            id_base=_ID_BASE + self.block * ID_BLOCK,
        )

    def _users(self, team_created: datetime, brand_color: str) -> list[SimUser]:
        rng, spec = self.rng, self.spec
        users: list[SimUser] = []
        usernames: set[str] = set()
        for index in range(spec.staff):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
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

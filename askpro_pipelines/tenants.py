"""The tenants file: which companies we sync, their branches, and where their secrets live.

Secrets are only ever referenced by environment variable name; this module never reads them
into anything that is logged or shown. A bad file fails with one message that names the tenant
and the field, so ops staff can fix it without reading a traceback.
"""

import functools
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from askpro_pipelines.models.links import (
    CALCOM_DASHBOARD_URL,
    RETELL_DASHBOARD_URL,
    CalcomLinks,
    DashboardLinks,
    RetellLinks,
)

TENANTS_FILE_ENV = "ASKPRO_TENANTS_FILE"
SIMULATOR_URL_ENV = "ASKPRO_SIMULATOR_URL"
DEMO_TENANTS_RESOURCE = "demo_tenants.yaml"
# The simulator issues keys with these prefixes (Cal.com, Retell); real keys never carry them.
DEMO_KEY_PREFIXES = ("cal_test_sim_", "key_sim_")

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class TenantsFileError(ValueError):
    """The tenants file cannot be used; the message names the tenant and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_env_name(value: str | None) -> str | None:
    if value is not None and not ENV_NAME_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (UPPER_SNAKE_CASE); "
            "secrets are referenced by variable name, never written inline"
        )
    return value


def _check_dashboard_url(value: str) -> str:
    """A dashboard base: http(s), host and optional path; no query or fragment (pages are appended)
    and no user:password@ (the links are shown in the UI)."""
    value = value.rstrip("/")
    if not re.match(r"^https?://[^/?#@\s]+(/[^?#@\s]*)?$", value):
        raise ValueError(
            "must be a dashboard base URL such as https://cal.example.com "
            "(http or https, no credentials, no query or fragment)"
        )
    return value


class CalcomSettings(_Strict):
    """How to reach one tenant's Cal.com account."""

    api_version: Literal["v1", "v2"] = "v2"
    base_url: str = "https://api.cal.com"
    api_key_env: str
    webhook_secret_env: str | None = None
    # the web app whose pages the warehouse links to; a self-hosted instance sets its own
    dashboard_url: str = CALCOM_DASHBOARD_URL
    requests_per_minute: float | None = Field(default=None, gt=0)  # the key's request budget (resources/budget.py)
    request_burst: int | None = Field(default=None, ge=1)

    _env_names = field_validator("api_key_env", "webhook_secret_env")(_check_env_name)
    _dashboard = field_validator("dashboard_url")(_check_dashboard_url)

    @field_validator("base_url")
    @classmethod
    def _strip_version_suffix(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if value.endswith(("/v1", "/v2")):
            raise ValueError("give the base URL without /v1 or /v2; the client appends it")
        return value


class RetellSettings(_Strict):
    """How to reach one tenant's Retell AI account."""

    base_url: str = "https://api.retellai.com"
    api_key_env: str
    dashboard_url: str = RETELL_DASHBOARD_URL  # the dashboard the warehouse links to
    requests_per_minute: float | None = Field(default=None, gt=0)  # the key's request budget (resources/budget.py)
    request_burst: int | None = Field(default=None, ge=1)

    _env_names = field_validator("api_key_env")(_check_env_name)
    _dashboard = field_validator("dashboard_url")(_check_dashboard_url)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class Branch(_Strict):
    """A location of the company: the event type its calls book and the numbers that ring there."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    calcom_event_type_id: int | str
    phone_numbers: list[str] = Field(default_factory=list)

    @field_validator("phone_numbers")
    @classmethod
    def _e164(cls, numbers: list[str]) -> list[str]:
        for number in numbers:
            if not E164_PATTERN.match(number):
                raise ValueError(f"{number!r} is not an E.164 number such as +4930123456701")
        if len(set(numbers)) != len(numbers):
            raise ValueError("lists a number twice")
        return numbers


class Tenant(_Strict):
    """One company: its partition key, time zone, API accounts and branches."""

    slug: str
    name: str
    timezone: str = "Europe/Berlin"
    calcom: CalcomSettings
    retell: RetellSettings | None = None
    branches: list[Branch] = Field(default_factory=list)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and '-' (it is the partition key)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _unique_branches(self) -> "Tenant":
        seen: set[str] = set()
        for branch in self.branches:
            if branch.id in seen:
                raise ValueError(f"branch id {branch.id!r} appears twice")
            seen.add(branch.id)
        return self

    def calcom_api_key(self, environ: Mapping[str, str] | None = None) -> str:
        """The Cal.com key from the environment; raises naming the tenant and variable when unset."""
        return _require_env(self, "calcom.api_key_env", self.calcom.api_key_env, environ)

    def retell_api_key(self, environ: Mapping[str, str] | None = None) -> str:
        """The Retell key from the environment; raises naming the tenant and variable when unset."""
        if self.retell is None:
            raise TenantsFileError(f"tenant {self.slug!r}: field retell: no Retell account is configured")
        return _require_env(self, "retell.api_key_env", self.retell.api_key_env, environ)

    def dashboard_links(self) -> DashboardLinks:
        """Links to this tenant's Cal.com and Retell dashboard pages."""
        retell = RetellLinks(self.retell.dashboard_url) if self.retell else RetellLinks()
        return DashboardLinks(CalcomLinks(self.calcom.dashboard_url), retell)

    def api_key_env_names(self) -> list[str]:
        """The variables holding this tenant's API keys (what a request sends)."""
        return [self.calcom.api_key_env] + ([self.retell.api_key_env] if self.retell else [])

    def secret_env_names(self) -> list[str]:
        """Every environment variable this tenant's secrets come from."""
        names = [self.calcom.api_key_env]
        if self.calcom.webhook_secret_env:
            names.append(self.calcom.webhook_secret_env)
        if self.retell:
            names.append(self.retell.api_key_env)
        return names


def _require_env(tenant: Tenant, field: str, env_name: str, environ: Mapping[str, str] | None) -> str:
    env = os.environ if environ is None else environ
    value = env.get(env_name, "")
    if not value:
        raise TenantsFileError(f"tenant {tenant.slug!r}: field {field}: environment variable {env_name} is not set")
    return value


class TenantsConfig(_Strict):
    """The whole tenants file."""

    tenants: list[Tenant]

    @model_validator(mode="after")
    def _unique(self) -> "TenantsConfig":
        slugs: set[str] = set()
        for tenant in self.tenants:
            if tenant.slug in slugs:
                raise ValueError(f"tenant {tenant.slug!r}: field slug: appears twice in the file")
            slugs.add(tenant.slug)
        return self

    @property
    def slugs(self) -> list[str]:
        return [t.slug for t in self.tenants]

    def get(self, slug: str) -> Tenant:
        """The tenant with this slug; an unknown slug is a clear error, not a KeyError."""
        for tenant in self.tenants:
            if tenant.slug == slug:
                return tenant
        raise TenantsFileError(f"unknown tenant {slug!r}; the tenants file has: {', '.join(self.slugs)}")

    def missing_secrets(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """`tenant: VAR` for each referenced API key variable that is not set."""
        env = os.environ if environ is None else environ
        missing = []
        for tenant in self.tenants:
            missing += [f"{tenant.slug}: {name}" for name in tenant.api_key_env_names() if not env.get(name)]
        return missing

    def require_secrets(self, environ: Mapping[str, str] | None = None) -> None:
        """Fail once, naming every tenant and variable, when a used API key is not set."""
        missing = self.missing_secrets(environ)
        if missing:
            raise TenantsFileError(
                "API key environment variables are not set: "
                + "; ".join(missing)
                + " (`make sync` or `askpro-demo sync` runs the demo against the bundled simulator)"
            )

    def refuse_real_keys(self, environ: Mapping[str, str] | None = None) -> None:
        """Demo mode: a key variable holding anything but a simulator demo key is refused.

        A real key is never sent to the simulator; the simulator's keys carry DEMO_KEY_PREFIXES.
        """
        env = os.environ if environ is None else environ
        for tenant in self.tenants:
            for name in tenant.api_key_env_names():
                value = env.get(name)
                if value and not value.startswith(DEMO_KEY_PREFIXES):
                    raise TenantsFileError(
                        f"tenant {tenant.slug}: {name} holds a real API key while {SIMULATOR_URL_ENV} is set; "
                        f"refusing to send it to the simulator (unset one of them)"
                    )

    def routed_to_simulator(self, simulator_url: str, environ: Mapping[str, str] | None = None) -> "TenantsConfig":
        """The same tenants with every API base URL pointed at the simulator (refusing real keys)."""
        self.refuse_real_keys(environ)
        url = simulator_url.rstrip("/")
        tenants = []
        for tenant in self.tenants:
            update: dict[str, Any] = {"calcom": tenant.calcom.model_copy(update={"base_url": f"{url}/calcom"})}
            if tenant.retell:
                update["retell"] = tenant.retell.model_copy(update={"base_url": f"{url}/retell"})
            tenants.append(tenant.model_copy(update=update))
        return TenantsConfig(tenants=tenants)


def _format_validation_error(error: ValidationError, raw: Mapping[str, Any]) -> str:
    """One line per problem, naming the tenant (by slug when present) and the field path."""
    raw_tenants = raw.get("tenants") if isinstance(raw, Mapping) else None
    lines = []
    for problem in error.errors():
        loc = list(problem["loc"])
        where = "file"
        if len(loc) >= 2 and loc[0] == "tenants" and isinstance(loc[1], int):
            index = loc[1]
            slug = None
            if isinstance(raw_tenants, list) and index < len(raw_tenants) and isinstance(raw_tenants[index], Mapping):
                slug = raw_tenants[index].get("slug")
            where = f"tenant {slug!r}" if slug else f"tenant #{index + 1}"
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or "(entry)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{where}: field {field}: {message}")
    return "; ".join(lines)


@functools.lru_cache(maxsize=16)
def parse_tenants(text: str, source: str = "<tenants>") -> TenantsConfig:
    """Parse and validate tenants YAML; errors name the file, tenant and field.

    Cached by text: assets and checks load the file at every step (so edits apply without a
    reload), and the parsed config is frozen, so an unchanged file is parsed once.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TenantsFileError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping) or "tenants" not in raw:
        raise TenantsFileError(f"{source}: expected a mapping with a 'tenants' list")
    try:
        return TenantsConfig.model_validate(raw)
    except ValidationError as exc:
        raise TenantsFileError(f"{source}: {_format_validation_error(exc, raw)}") from None


def tenants_file_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The configured tenants file, or None for the bundled demo file."""
    env = os.environ if environ is None else environ
    value = env.get(TENANTS_FILE_ENV)
    return Path(value) if value else None


def load_tenants(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> TenantsConfig:
    """Load the tenants file (argument, then ASKPRO_TENANTS_FILE, then the bundled demo).

    When ASKPRO_SIMULATOR_URL is set (demo mode), every tenant is routed to that simulator,
    and a tenant whose key variable holds a real key is refused.
    """
    env = os.environ if environ is None else environ
    chosen = Path(path) if path else tenants_file_path(env)
    if chosen is None:
        text = resources.files("askpro_pipelines").joinpath(DEMO_TENANTS_RESOURCE).read_text("utf-8")
        config = parse_tenants(text, source=f"bundled {DEMO_TENANTS_RESOURCE}")
    else:
        try:
            text = chosen.read_text("utf-8")
        except OSError as exc:
            raise TenantsFileError(f"{chosen}: cannot read the tenants file: {exc.strerror}") from None
        config = parse_tenants(text, source=str(chosen))
    simulator_url = env.get(SIMULATOR_URL_ENV)
    return config.routed_to_simulator(simulator_url, env) if simulator_url else config

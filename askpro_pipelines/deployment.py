"""Demo or production: which one this process is, and what each refuses.

The two README commands keep their conveniences (the bundled demo tenants, a SQLite warehouse
under ./.askpro, the simulator). A deployment must not fall back to any of them silently, so
production mode (ASKPRO_ENV=production, or a Dagster instance that stores on PostgreSQL)
refuses to start without an explicit tenants file and warehouse URL, and never talks to a
simulator.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from askpro_pipelines.tenants import SIMULATOR_URL_ENV, TENANTS_FILE_ENV, TenantsFileError, load_tenants
from askpro_pipelines.warehouse.store import WAREHOUSE_URL_ENV

ENV_SETTING = "ASKPRO_ENV"
MODE_TAG = "askpro/mode"
_POSTGRES_STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


class ConfigurationError(TenantsFileError):
    """A setting this mode requires is missing or forbidden; the message is one line naming it."""


def _instance_uses_postgres(env: Mapping[str, str]) -> bool:
    """Whether $DAGSTER_HOME/dagster.yaml keeps the instance on PostgreSQL (a deployment's sign).

    Read as plain YAML (no instance is built): an unreadable or odd file says nothing.
    """
    home = env.get("DAGSTER_HOME")
    if not home:
        return False
    try:
        config = yaml.safe_load((Path(home) / "dagster.yaml").read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if not isinstance(config, Mapping):
        return False
    for key in _POSTGRES_STORAGE_KEYS:
        section = config.get(key)
        if not isinstance(section, Mapping):
            continue
        if "postgres" in section or str(section.get("module", "")).startswith("dagster_postgres"):
            return True
    return False


def production_reason(environ: Mapping[str, str] | None = None) -> str | None:
    """Why this process counts as production, or None for a local/demo process."""
    env = os.environ if environ is None else environ
    setting = env.get(ENV_SETTING, "").strip().lower()
    if setting == "production":
        return f"{ENV_SETTING}=production"
    if setting in {"demo", "development", "dev", "local", "test"}:
        return None  # an explicit non-production setting wins over the instance's storage
    if _instance_uses_postgres(env):
        return "the Dagster instance ($DAGSTER_HOME/dagster.yaml) stores on PostgreSQL"
    return None


def require_production_settings(environ: Mapping[str, str] | None = None) -> None:
    """In production, refuse the demo conveniences: name the first missing or forbidden setting."""
    env = os.environ if environ is None else environ
    reason = production_reason(env)
    if reason is None:
        return
    if env.get(SIMULATOR_URL_ENV):
        raise ConfigurationError(
            f"production ({reason}): {SIMULATOR_URL_ENV} is set; a deployment never uses the simulator"
        )
    for name, what in ((TENANTS_FILE_ENV, "tenants file"), (WAREHOUSE_URL_ENV, "warehouse URL")):
        if not env.get(name):
            raise ConfigurationError(
                f"production ({reason}): {name} is not set; a deployment names its {what} explicitly"
            )


def refuse_real_keys_for_simulator(environ: Mapping[str, str] | None = None) -> None:
    """Demo mode: refuse, naming tenant and variable, when a key variable holds a real key.

    A tenants file that cannot be read is left to the places that read it (they name the file).
    """
    env = os.environ if environ is None else environ
    if not env.get(SIMULATOR_URL_ENV):
        return
    try:
        config = load_tenants(environ={k: v for k, v in env.items() if k != SIMULATOR_URL_ENV})
    except TenantsFileError:
        return
    config.refuse_real_keys(env)


def check_mode(environ: Mapping[str, str] | None = None) -> None:
    """What every entry point (code location, CLI, webhook receiver) checks before it starts."""
    require_production_settings(environ)
    refuse_real_keys_for_simulator(environ)


def refuse_demo_in_production(environ: Mapping[str, str] | None = None) -> None:
    """The demo starts a simulator: never in production."""
    reason = production_reason(environ)
    if reason is not None:
        raise ConfigurationError(f"production ({reason}): the demo and its simulator are refused")


def simulator_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The simulator the tenants are routed to (demo mode), or None."""
    env = os.environ if environ is None else environ
    return env.get(SIMULATOR_URL_ENV) or None


def mode_tags(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The run tag that says whether a run read the simulator or the real APIs."""
    return {MODE_TAG: "demo" if simulator_url(environ) else "production"}


def demo_banner(url: str | None) -> str | None:
    """The line every summary shows in demo mode."""
    return f"DEMO: simulator at {url}" if url else None

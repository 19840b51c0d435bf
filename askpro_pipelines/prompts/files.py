"""Prompt files: the desired prompt and managed settings of each agent, kept by the operator in git.

One YAML file per tenant and agent, at `<prompts dir>/<tenant slug>/<agent id>.yaml`:

    tenant: praxis-am-stadtpark
    agent_id: agent_3f2a...
    general_prompt: |
      Du bist die freundliche telefonische Rezeption ...
    begin_message: Praxis am Stadtpark, guten Tag!     # optional: unmanaged when absent
    settings:                                          # optional: only the settings listed are managed
      model: gpt-4.1
      model_temperature: 0.2

The folder is `--prompts-dir`, else `ASKPRO_PROMPTS_DIR`, else `./prompts`. Like the tenants file,
a bad file fails with one message naming the file and the field: unknown keys, a tenant or agent
that does not match the path, an unknown tenant, an unmanaged setting or a wrong type.
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from askpro_pipelines.models.prompts import MANAGED_SETTINGS
from askpro_pipelines.tenants import TenantsConfig

PROMPTS_DIR_ENV = "ASKPRO_PROMPTS_DIR"
DEFAULT_PROMPTS_DIR = "prompts"
AGENT_ID_PATTERN = re.compile(r"^agent_[A-Za-z0-9]+$")


class PromptFileError(ValueError):
    """A prompt file cannot be used; the message names the file and the field."""


class DesiredPrompt(BaseModel):
    """One agent's desired prompt text and managed settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    agent_id: str
    general_prompt: str
    begin_message: str | None = None
    settings: dict[str, Any] = {}

    @field_validator("agent_id")
    @classmethod
    def _agent_id(cls, value: str) -> str:
        if not AGENT_ID_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a Retell agent id (agent_...)")
        return value

    @field_validator("general_prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("settings")
    @classmethod
    def _managed(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, setting in value.items():
            if name not in MANAGED_SETTINGS:
                raise ValueError(f"{name!r} is not a managed setting (managed: {', '.join(MANAGED_SETTINGS)})")
            wanted = MANAGED_SETTINGS[name]
            if isinstance(setting, bool) or not isinstance(setting, wanted):
                raise ValueError(f"{name} has the wrong type ({type(setting).__name__})")
        return value

    @property
    def managed(self) -> dict[str, Any]:
        """Every field this file manages, as the LLM update would send it."""
        fields: dict[str, Any] = {"general_prompt": self.general_prompt}
        if self.begin_message is not None:
            fields["begin_message"] = self.begin_message
        return fields | dict(self.settings)


def prompts_dir(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(path or env.get(PROMPTS_DIR_ENV) or DEFAULT_PROMPTS_DIR)


def _problems(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        field = ".".join(str(p) for p in problem["loc"]) or "(file)"
        message = (
            "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"].removeprefix("Value error, ")
        )
        parts.append(f"field {field}: {message}")
    return "; ".join(parts)


def load_prompt_file(path: Path, tenants: TenantsConfig) -> DesiredPrompt:
    """One validated prompt file; the path's folder and name must agree with its tenant and agent."""
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise PromptFileError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PromptFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise PromptFileError(f"{path}: expected a mapping with tenant, agent_id and general_prompt")
    try:
        desired = DesiredPrompt.model_validate(dict(raw))
    except ValidationError as exc:
        raise PromptFileError(f"{path}: {_problems(exc)}") from None
    if desired.tenant not in tenants.slugs:
        raise PromptFileError(f"{path}: field tenant: unknown tenant {desired.tenant!r}")
    if path.parent.name != desired.tenant:
        raise PromptFileError(
            f"{path}: field tenant: {desired.tenant!r} does not match its folder {path.parent.name!r}"
        )
    if path.stem != desired.agent_id:
        raise PromptFileError(
            f"{path}: field agent_id: {desired.agent_id!r} does not match the file name {path.name!r}"
        )
    return desired


def load_prompts(folder: Path, tenants: TenantsConfig, tenant: str | None = None) -> list[DesiredPrompt]:
    """Every prompt file of the folder (of one tenant), sorted by tenant and agent."""
    if not folder.is_dir():
        raise PromptFileError(f"{folder}: no prompts folder (set --prompts-dir or {PROMPTS_DIR_ENV})")
    if tenant is not None and tenant not in tenants.slugs:
        raise PromptFileError(f"unknown tenant {tenant!r}; the tenants file has: {', '.join(tenants.slugs)}")
    paths = sorted(folder.glob(f"{tenant or '*'}/*.yaml")) + sorted(folder.glob(f"{tenant or '*'}/*.yml"))
    return sorted((load_prompt_file(p, tenants) for p in paths), key=lambda d: (d.tenant, d.agent_id))


def find_prompt(folder: Path, tenants: TenantsConfig, tenant: str, agent_id: str) -> DesiredPrompt:
    for desired in load_prompts(folder, tenants, tenant):
        if desired.agent_id == agent_id:
            return desired
    raise PromptFileError(f"{folder}: no prompt file {tenant}/{agent_id}.yaml")

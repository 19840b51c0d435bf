"""What a prompt push reads and writes on a Retell LLM: the managed fields, unredacted.

The sync's `Llm` model masks secrets before storing; a push must compare the exact live text with
the desired text, so it reads the few fields it manages here. This text is never logged or stored:
diffs show it through `redact_secrets`, and desired text holding a secret is refused.
"""

import datetime
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from askpro_pipelines.models.errors import record_id_of, validate_record
from askpro_pipelines.models.retell import LLMS

# LLM settings a prompt file may manage, with the JSON types Retell takes (reference §11.2).
MANAGED_SETTINGS: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "model_temperature": (int, float),
    "start_speaker": str,
}
TEXT_FIELDS = ("general_prompt", "begin_message")


class _RawLlmDraft(BaseModel):
    model_config = ConfigDict(extra="allow")

    llm_id: str
    version: int | float | None = None
    is_published: bool | None = None
    general_prompt: str | None = None
    begin_message: str | None = None
    model: str | None = None
    model_temperature: float | None = None
    start_speaker: str | None = None
    last_modification_timestamp: int | float | None = None


class LlmState(BaseModel):
    """The managed fields of one LLM version, as Retell holds them."""

    model_config = ConfigDict(frozen=True)

    llm_id: str
    version: int | None
    is_published: bool | None
    text: dict[str, str | None]  # general_prompt, begin_message
    settings: dict[str, Any] = Field(default_factory=dict)
    last_modification_timestamp: int | None

    @property
    def modified_at(self) -> datetime.datetime | None:
        stamp = self.last_modification_timestamp
        return None if stamp is None else datetime.datetime.fromtimestamp(stamp / 1000, datetime.UTC)


def llm_state_from_raw(raw: Mapping[str, Any]) -> LlmState:
    """GET /get-retell-llm and PATCH /update-retell-llm answers, reduced to the managed fields."""
    llm = validate_record(_RawLlmDraft, raw, LLMS, record_id_of(raw, "llm_id"))
    stamp = llm.last_modification_timestamp
    return LlmState(
        llm_id=llm.llm_id,
        version=None if llm.version is None else int(llm.version),
        is_published=llm.is_published,
        text={name: getattr(llm, name) for name in TEXT_FIELDS},
        settings={name: getattr(llm, name) for name in MANAGED_SETTINGS},
        last_modification_timestamp=None if stamp is None else int(stamp),
    )

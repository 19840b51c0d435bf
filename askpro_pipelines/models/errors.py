"""Errors raised while turning raw API payloads into typed records, and the shared validation step."""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from askpro_pipelines.json_codec import dumps_json
from askpro_pipelines.redaction import redact_secrets

MAX_REPORTED_FIELDS = 5


class RecordError(ValueError):
    """A malformed API record: names the entity and record id and the field that failed (never the whole payload).

    The message carries field paths and validator messages only, so it is safe to log and to show
    in a run failure even when the payload holds personal data.
    """

    def __init__(self, entity: str, record_id: str | None, message: str):
        self.entity = entity
        self.record_id = record_id
        self.message = message
        super().__init__(entity, record_id, message)

    def __str__(self) -> str:
        record = self.record_id if self.record_id is not None else "?"
        return f"entity={self.entity} record={record}: {self.message}"


def record_id_of(raw: Any, key: str) -> str | None:
    """The record's id for error messages, or None when it is itself missing or malformed."""
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return str(value).strip() or None


def describe_validation_error(exc: ValidationError) -> str:
    """Field paths and messages only: pydantic's own str() would echo the input values."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for error in errors[:MAX_REPORTED_FIELDS]:
        path = ".".join(str(part) for part in error["loc"])
        parts.append(f"{path}: {error['msg']}" if path else error["msg"])
    if len(errors) > MAX_REPORTED_FIELDS:
        parts.append(f"and {len(errors) - MAX_REPORTED_FIELDS} more")
    return "; ".join(parts)


RawModel = TypeVar("RawModel", bound=BaseModel)


def validate_record(model: type[RawModel], raw: Any, entity: str, record_id: str | None) -> RawModel:
    """Validate a raw payload against its raw-shape model; failures become a RecordError."""
    if not isinstance(raw, Mapping):
        raise RecordError(entity, None, f"expected an object, got {type(raw).__name__}")
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        # `from None`: the chained ValidationError would print the payload in tracebacks.
        raise RecordError(entity, record_id, describe_validation_error(exc)) from None


@dataclass(frozen=True)
class Rejected:
    """A record that failed validation, as the resource saw it (payload already redacted)."""

    api: str
    entity: str
    record_id: str
    error: str
    payload: Any
    scope: str = ""

    @classmethod
    def of(cls, api: str, entity: str, record_id: str | None, error: str, raw: Any, scope: str = "") -> "Rejected":
        payload = redact_secrets(raw)
        if record_id is None:  # the id itself is unreadable: name the record by its content
            record_id = "payload:" + hashlib.sha1(dumps_json(payload, sort_keys=True, default=str)).hexdigest()[:16]
        return cls(api, entity, record_id[:128], error, payload, scope)


@dataclass
class RejectedLog:
    """What a client rejected during a run, handed to the warehouse per entity (and day)."""

    items: list[Rejected] = field(default_factory=list)

    def add(self, item: Rejected) -> None:
        self.items.append(item)

    def ids(self, entity: str, scope: str | None = None) -> set[str]:
        """Record ids of the entity's rejects (their previous warehouse rows are kept)."""
        return {r.record_id for r in self.items if r.entity == entity and (scope is None or r.scope == scope)}

    def drain(self, entity: str, scope: str | None = None) -> list[Rejected]:
        """Take the entity's rejects (of one scope, when given) out of the log."""
        taken = [r for r in self.items if r.entity == entity and (scope is None or r.scope == scope)]
        self.items = [r for r in self.items if r not in taken]
        return taken

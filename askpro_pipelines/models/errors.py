"""Errors raised while turning raw API payloads into typed records."""


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


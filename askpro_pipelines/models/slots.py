"""Cal.com v2 `/v2/slots` answers as typed values: free start instants per local day."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from askpro_pipelines.models.errors import RecordError, validate_record

SLOTS = "slots"


class _RawSlot(BaseModel):
    model_config = ConfigDict(extra="allow")

    start: dt.datetime


class _RawSlots(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    data: dict[dt.date, list[_RawSlot]]


def slots_from_v2(raw: Any, event_type_id: str) -> dict[dt.date, list[dt.datetime]]:
    """Free starts per day (days as Cal.com keyed them), ascending; a start without an offset is refused."""
    body = validate_record(_RawSlots, raw, SLOTS, event_type_id)
    if body.status != "success":
        raise RecordError(SLOTS, event_type_id, f"status is {body.status!r}, not 'success'")
    days: dict[dt.date, list[dt.datetime]] = {}
    for day, items in body.data.items():
        starts = sorted(item.start for item in items)
        if any(start.tzinfo is None for start in starts):
            raise RecordError(SLOTS, event_type_id, f"data.{day}: a slot start has no UTC offset")
        days[day] = starts
    return days

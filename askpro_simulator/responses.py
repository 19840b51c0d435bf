"""What every simulated API shares: faults, listings, payloads, errors, the request context.

Pre-encoded JSON records (`Listing`) make a page of a large world a slice and a join; the
API modules (calcom_v1, calcom_v2, retell_api) render records and answer requests on top of it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import unquote_plus

from starlette.responses import Response

from askpro_simulator.accounts import SIM_NOW, iso_ms
from askpro_simulator.activity import TenantActivity
from askpro_simulator.records import ACTIVITY_FIRST_DAY, ACTIVITY_LAST_DAY
from askpro_simulator.world import TenantWorld

ERROR_TIMESTAMP = iso_ms(SIM_NOW)
"""Cal.com v2 error bodies carry a timestamp; a fixed one keeps error bodies reproducible."""

# Rate-limit headers: limits from the reference (v1 code: 30/min; v2 docs: 120/min). Remaining
# counts down per request and key within fixed 60 s windows (the first request of a key opens one;
# it stays at 0 when exceeded: the limit is reported, not enforced); Reset is a deterministic fake
# clock anchored in the past, so a client that waits for the reset never waits in a test.
V1_RATE_LIMIT = 30
V2_RATE_LIMIT = 120
RATE_LIMIT_CLOCK_START = 1_700_000_000
RATE_LIMIT_WINDOW_S = 60
V2_TAKE_DEFAULT = V2_TAKE_MAX = 250
V1_TAKE_DEFAULT = 10
Api = Literal["v1", "v2", "retell"]


@dataclass
class Fault:
    """A misbehaviour the next matching requests get; matched in the order faults were added.

    `drift` answers normally but with `changes` merged into the first record of the response
    (new keys, changed enum values): a provider changing its shapes under its users.
    """

    kind: Literal["status", "slow", "malformed", "drift"]
    path_prefix: str = ""
    tenant: str | None = None
    status: int = 503
    count: int = 1
    retry_after: float | None = None
    retry_after_header: str = "Retry-After"
    delay_s: float = 0.0
    changes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("status", "slow", "malformed", "drift"):
            raise ValueError(f"fault kind must be status, slow, malformed or drift, not {self.kind!r}")
        if (self.kind == "drift") != bool(self.changes):
            raise ValueError("a drift fault needs changes, and only a drift fault takes them")
        if self.count == 0 or self.count < -1:
            raise ValueError("fault count must be positive, or -1 for forever")
        if self.retry_after_header.lower() not in ("retry-after", "retry-after-ms"):
            raise ValueError("retry_after_header must be 'Retry-After' or 'retry-after-ms'")
        if not 400 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP error status, not {self.status}")
        if self.delay_s < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("delay_s and retry_after must not be negative")

    def retry_headers(self) -> dict[str, str]:
        """The retry header; a 429 always carries one (1 s unless retry_after says otherwise)."""
        seconds = self.retry_after
        if seconds is None:
            if self.status != 429:
                return {}
            seconds = 1.0
        if self.retry_after_header.lower() == "retry-after-ms":
            return {"retry-after-ms": str(round(seconds * 1000))}
        return {"Retry-After": str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"}


def dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Listing:
    """Records of one list response, each also pre-encoded, so pages are cheap to serve."""

    def __init__(self, kind: str, records: list[dict]):
        self.kind = kind
        self.records = records
        self.encoded = [dump_json(r) for r in records]

    def __len__(self) -> int:
        return len(self.records)

    def _derived(self, records: list[dict], encoded: list[bytes]) -> Listing:
        """A view on some of these records that reuses their encodings."""
        derived = Listing.__new__(Listing)
        derived.kind, derived.records, derived.encoded = self.kind, records, encoded
        return derived

    def page(self, start: int, stop: int | None) -> Listing:
        return self._derived(self.records[start:stop], self.encoded[start:stop])

    def filtered(self, keep: Callable[[dict], bool]) -> Listing:
        chosen = [i for i, record in enumerate(self.records) if keep(record)]
        return self._derived([self.records[i] for i in chosen], [self.encoded[i] for i in chosen])

    def reversed(self) -> Listing:
        return self._derived(self.records[::-1], self.encoded[::-1])

    @classmethod
    def of_rows(cls, kind: str, rows: list[tuple[Any, dict, bytes]]) -> Listing:
        """A listing of (item, record, encoding) rows that reuses their encodings."""
        listing = cls.__new__(cls)
        listing.kind, listing.records, listing.encoded = kind, [r[1] for r in rows], [r[2] for r in rows]
        return listing


def hhmmss(hhmm: str) -> str:
    return f"{hhmm}:00"


def host_user_id(tenant: TenantWorld, user_id: int) -> int | str:
    return tenant.user(user_id).uuid if tenant.spec.uuid_host_ids else user_id


def activity_days(
    activity: TenantActivity, first: date | None, last: date | None, generated_from: date | None = None
) -> list[date]:
    """Local days that can hold matches: [first, last] clipped to the activity year.

    `generated_from` is a lower bound that only holds for generated data (created <= updated <=
    start): days before it are walked only if a test mutation touched them.
    """
    first = max(first or ACTIVITY_FIRST_DAY, ACTIVITY_FIRST_DAY)
    last = min(last or ACTIVITY_LAST_DAY, ACTIVITY_LAST_DAY)
    low = max(first, generated_from) if generated_from else first
    touched = activity.touched_days if low > first else frozenset()
    days, day = [], first
    while day <= last:
        if day >= low or day in touched:
            days.append(day)
        day += timedelta(days=1)
    return days


def ms_to_local_date(activity: TenantActivity, value: float | None) -> date | None:
    if value is None:
        return None
    try:
        return activity.local_date(datetime.fromtimestamp(value / 1000, UTC))
    except (OverflowError, OSError, ValueError):
        raise ApiError(400, f"timestamp out of range: {value}") from None


def _corrupt(kind: str, record: dict) -> dict:
    """A copy of the record that no careful client may accept (wrong types, missing keys)."""
    bad = copy.deepcopy(record)
    if kind in ("v1_event_type", "v2_event_type_old"):
        bad.pop("id", None)
        bad["length"] = "abc"
    elif kind == "v2_event_type":
        bad.pop("id", None)
        bad["lengthInMinutes"] = "abc"
    elif kind == "v1_schedule" and bad["availability"]:
        bad["availability"][0]["startTime"] = "25:99:00"
    elif kind == "v2_schedule" and bad["availability"]:
        bad["availability"][0]["startTime"] = "25:99"
    elif kind in ("v1_user", "v2_user", "v2_me"):
        bad.pop("id", None)
        bad["email"] = "not-an-email"
    elif kind in ("v1_membership", "v2_membership"):
        bad.pop("id", None)
        bad["userId"] = "abc"
    elif kind in ("v1_team", "v2_team"):
        bad.pop("id", None)
        bad["slug"] = None
    elif kind == "retell_agent_summary":
        bad.pop("agent_id", None)
        bad["user_modified_timestamp"] = "abc"
    elif kind == "retell_agent_version":
        bad["version"] = "abc"
    elif kind == "retell_agent":
        bad.pop("response_engine", None)
        bad["version"] = "abc"
    elif kind == "retell_phone_number":
        bad["phone_number"] = "030 1234"
        bad["last_modification_timestamp"] = "abc"
    elif kind == "retell_llm":
        bad["version"] = "abc"
    elif kind == "v2_booking":
        bad.pop("uid", None)
        bad["start"] = "not-a-date"
    elif kind == "v1_booking":
        bad.pop("id", None)
        bad["startTime"] = "not-a-date"
    elif kind in ("retell_call", "retell_call_full"):
        bad.pop("call_id", None)
        bad["start_timestamp"] = "abc"
    else:
        bad.pop("id", None)
    return bad


class ApiError(Exception):
    """An error answered in the API's own error shape."""

    def __init__(self, status: int, message: str, *, v1_body: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.v1_body = v1_body
        self.code = code


@dataclass
class Payload:
    """A success body: envelope prefix + a listing (or one record) + envelope suffix."""

    kind: str
    prefix: bytes
    suffix: bytes
    listing: Listing | None = None
    record: dict | None = None

    def render(self, malformed: bool, changes: dict[str, Any] | None = None) -> bytes:
        if self.listing is None:
            record = _corrupt(self.kind, self.record) if malformed else self.record
            return self.prefix + dump_json(record | (changes or {})) + self.suffix
        encoded = self.listing.encoded
        if changes and encoded:
            encoded = [dump_json(self.listing.records[0] | changes), *encoded[1:]]
        if malformed and encoded:
            index = len(encoded) // 2
            encoded = list(encoded)
            encoded[index] = dump_json(_corrupt(self.listing.kind, self.listing.records[index]))
        return self.prefix + b"[" + b",".join(encoded) + b"]" + self.suffix


V2_PREFIX, _V2_SUFFIX = b'{"status":"success","data":', b"}"


def v2_list(listing: Listing) -> Payload:
    return Payload(listing.kind, V2_PREFIX, _V2_SUFFIX, listing=listing)


def v2_one(kind: str, record: dict) -> Payload:
    return Payload(kind, V2_PREFIX, _V2_SUFFIX, record=record)


def v1_list(key: str, listing: Listing, suffix: bytes = b"}") -> Payload:
    return Payload(listing.kind, b'{"' + key.encode() + b'":', suffix, listing=listing)


def v1_one(key: str, kind: str, record: dict) -> Payload:
    return Payload(kind, b'{"' + key.encode() + b'":', b"}", record=record)


def bare_list(listing: Listing) -> Payload:
    return Payload(listing.kind, b"", b"", listing=listing)


def bare_one(kind: str, record: dict) -> Payload:
    return Payload(kind, b"", b"", record=record)


def retell_page(listing: Listing, has_more: bool, pagination_key: str | None) -> Payload:
    suffix = b',"has_more":' + dump_json(has_more) + b',"pagination_key":' + dump_json(pagination_key) + b"}"
    return Payload(listing.kind, b'{"items":', suffix, listing=listing)


@dataclass
class Ctx:
    api: Api
    method: str
    path: str  # the API's own path, e.g. "/v2/event-types" (no /calcom or /retell prefix)
    query: Any  # starlette QueryParams
    headers: Any
    body: bytes
    tenant: TenantWorld
    views: ViewsBase


Handler = Callable[..., Payload]

V2_ERROR_CODES = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    429: "ThrottlerException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
    504: "GatewayTimeoutException",
}


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_response(status: int, value: Any) -> Response:
    return Response(dump_json(value), status_code=status, media_type="application/json")


def loggable(path: str, query_string: bytes) -> str:
    """The path and query as requested, minus any apiKey, so the log never holds a secret."""
    parts = [p for p in query_string.decode("latin-1").split("&") if p and unquote_plus(p.split("=", 1)[0]) != "apiKey"]
    return f"{path}?{'&'.join(parts)}" if parts else path


class ViewsBase:
    """A tenant's rendered responses: the per-day bookings and calls every API shares.

    The API modules add their listings as mixins; views.TenantViews puts them together and names
    the renderer of each day-row kind (`day_renderers`).
    """

    def __init__(self, tenant: TenantWorld):
        self.tenant = tenant
        self.personal = tenant.personal_event_types
        self.team = tenant.team_event_types
        self.users = sorted(tenant.users, key=lambda u: u.id)
        self.schedules = sorted(tenant.schedules, key=lambda s: s.id)
        self.admin_schedules = [s for s in self.schedules if s.user_id == tenant.admin.id]
        self.admin_default_schedule_id = tenant.admin.default_schedule_id
        self.retell_agents = {a.agent_id: a for a in tenant.agents}
        self._day_rows: dict[tuple[str, date], tuple[int, list[tuple[Any, dict, bytes]]]] = {}

    def day_rows(self, kind: str, day: date) -> list[tuple[Any, dict, bytes]]:
        """(item, record, encoding) of a day's bookings or calls in one shape, per day revision."""
        revision, bookings, calls = self.tenant.activity.snapshot(day)
        cached = self._day_rows.get((kind, day))
        if cached is not None and cached[0] == revision:
            return cached[1]
        render, source = self.day_renderers[kind]
        rows = []
        for item in bookings if source == "bookings" else calls:
            record = render(self.tenant, item)
            rows.append((item, record, dump_json(record)))
        self._day_rows[(kind, day)] = (revision, rows)
        return rows

    def rows(self, kind: str, days: list[date], keep: Callable[[Any], bool]) -> list[tuple[Any, dict, bytes]]:
        return [row for day in days for row in self.day_rows(kind, day) if keep(row[0])]


class ApiBase:
    """Request helpers every API's handlers use: owner checks and parameter parsing."""

    def _check_owner(self, ctx: Ctx, kind: str, value: Any, label: str, not_found: str | None = None) -> None:
        """404 for an unknown id; 401 when the id belongs to another tenant's account."""
        owner = self.owners.get((kind, value))
        if owner == ctx.tenant.slug:
            return
        if owner is not None:
            if ctx.api == "v1":
                raise ApiError(401, "Your API key is not valid.", v1_body={"error": "Your API key is not valid."})
            if ctx.api == "v2":
                raise ApiError(401, f"ApiAuthGuard - this API key has no access to {label}")
            raise ApiError(401, "API key is missing or invalid.")
        if ctx.api == "retell":
            raise ApiError(404, "Cannot find requested asset under given api key.")
        raise ApiError(404, not_found or f"{label[0].upper()}{label[1:]} not found")

    @staticmethod
    def _int_param(ctx: Ctx, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        raw = ctx.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer number") from None
        if value < minimum:
            raise ApiError(400, f"{name} must not be less than {minimum}")
        if maximum is not None and value > maximum:
            raise ApiError(400, f"{name} must not be greater than {maximum}")
        return value

    @staticmethod
    def _path_int(value: str, name: str) -> int:
        if not value.isdigit():
            raise ApiError(400, f"Validation failed ({name}: numeric string is expected)")
        return int(value)

    @staticmethod
    def _iso_param(ctx: Ctx, name: str) -> datetime | None:
        """An ISO 8601 query value as an aware datetime (UTC when it has no offset)."""
        raw = ctx.query.get(name)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw.strip().replace(" ", "+"))  # an unencoded "+" arrives as a space
        except ValueError:
            raise ApiError(400, f"{name} must be a valid ISO 8601 date string") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @staticmethod
    def _json_body(ctx: Ctx) -> dict:
        if not ctx.body.strip():
            return {}
        try:
            body = json.loads(ctx.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid request format, please check API reference.")
        return body

    @staticmethod
    def _body_int(body: dict, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = body.get(name)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApiError(400, f"{name} must be an integer")
        if value < minimum or (maximum is not None and value > maximum):
            raise ApiError(400, f"{name} must be between {minimum} and {maximum}")
        return value

    @staticmethod
    def _body_descending(body: dict) -> bool:
        order = body.get("sort_order") or "descending"
        if order not in ("ascending", "descending"):
            raise ApiError(400, "sort_order must be ascending or descending")
        return order == "descending"

    def _skip_take(self, ctx: Ctx) -> tuple[int, int]:
        """Cal.com v2 SkipTakePagination: take 1..250 (default 250), skip >= 0."""
        take = self._int_param(ctx, "take", V2_TAKE_DEFAULT, 1, V2_TAKE_MAX)
        skip = self._int_param(ctx, "skip", 0, 0)
        return skip, take

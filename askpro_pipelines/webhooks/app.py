"""The webhook receiver: verify, deduplicate and land Cal.com and Retell deliveries.

The handler does as little as possible before answering: it checks the tenant, the size and the
signature, derives the keys the sensors need, and commits the redacted raw body to the landing
table. Processing happens later in Dagster runs, so a slow warehouse sync never makes a provider
time out and retry. A 200 means the event is durably stored; anything else stores nothing.
"""

import asyncio
import datetime as dt
import hashlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from askpro_pipelines.json_codec import loads_json
from askpro_pipelines.redaction import json_bytes_may_hold_secret, redacted_json
from askpro_pipelines.tenants import (
    Tenant,
    TenantsConfig,
    TenantsFileError,
    tenants_file_path,
)
from askpro_pipelines.webhooks.asgi import Answer, App, ClientDisconnected, Request, Route
from askpro_pipelines.webhooks.signatures import retell_rejection, verify_calcom
from askpro_pipelines.webhooks.store import (
    DEAD,
    PENDING,
    NewEvent,
    UnstorableEvent,
    WebhookStore,
    unstorable_reason,
)

logger = logging.getLogger("askpro_pipelines.webhooks")

CALCOM = "calcom"
RETELL = "retell"
CALCOM_SIGNATURE_HEADER = "x-cal-signature-256"
RETELL_SIGNATURE_HEADER = "x-retell-signature"
DEFAULT_MAX_BODY_BYTES = 1_048_576
_TOO_DEEP = "body nested too deeply"
_MAX_EVENT_TYPE = 64  # webhook_events.event_type
_MAX_ENTITY_ID = 128  # webhook_events.entity_id
_MAX_DEDUP_KEY = 255  # webhook_events.dedup_key
_DIGITS = re.compile(r"[0-9]+")


class Rejected(Exception):
    """A delivery we refuse: the HTTP status, a reason safe to log, and a message for the caller."""

    def __init__(self, status: int, reason: str, message: str | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.message = message or reason


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- tenants, cached by the file's mtime ------------------------------------------------------


class _TenantsCache:
    """The tenants config, re-read only when the tenants file changes.

    The file is stat-ed at most every `check_interval_s` (a stat per request is measurable at
    thousands of requests a second) and parsed only when its mtime or size changed. A file that
    turns invalid keeps the last good config in service (logged once per change), so a
    half-saved edit does not turn every delivery away.
    """

    def __init__(self, load: Callable[[], TenantsConfig], environ: Mapping[str, str], check_interval_s: float):
        self._load = load
        self._environ = environ
        self._check_interval_s = check_interval_s
        self._next_check = 0.0
        self._stamp: object = object()
        self._config: TenantsConfig | None = None

    def _file_stamp(self) -> tuple[Any, ...] | None:
        path = tenants_file_path(self._environ)
        if path is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return (str(path), None)
        return (str(path), info.st_mtime_ns, info.st_size)

    def get(self) -> TenantsConfig:
        now = time.monotonic()
        if self._config is not None and now < self._next_check:
            return self._config
        self._next_check = now + self._check_interval_s
        stamp = self._file_stamp()
        if stamp != self._stamp or self._config is None:
            try:
                config = self._load()
            except TenantsFileError as exc:
                if stamp != self._stamp:
                    logger.error(
                        "webhook receiver: cannot (re)load the tenants file, keeping the last good one: %s", exc
                    )
                self._stamp = stamp
                if self._config is None:
                    raise
                return self._config
            self._config, self._stamp = config, stamp
        return self._config


# -- payload handling -------------------------------------------------------------------------


def redact_payload(text: str, parsed: Any, body: bytes | None = None) -> str:
    """The payload to store: the provider's text, or the redacted parsed body when it held a secret.

    `body`, the text's UTF-8 bytes when the caller has them, makes the precheck cheaper."""
    try:
        may_hold_secret = json_bytes_may_hold_secret(body) if body is not None else None
        return redacted_json(text, parsed, may_hold_secret=may_hold_secret)
    except RecursionError:
        raise Rejected(400, _TOO_DEEP) from None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_day_of_iso(value: Any, timezone: str) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        instant = dt.datetime.fromisoformat(value)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=dt.UTC)
        return instant.astimezone(_zone(timezone)).date()
    except (ValueError, OverflowError):  # not a time, or one that leaves years 1-9999 in that zone
        return None


def _local_day_of_ms(value: Any, timezone: str) -> dt.date | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, _zone(timezone)).date()
    except (OverflowError, OSError, ValueError):
        return None


def _text_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, str | int):
        return str(value)
    return None


@dataclass(frozen=True)
class _Derived:
    event_type: str
    dedup_key: str
    entity_id: str | None
    event_day: dt.date | None


def _dedup_key(*parts: str | None, body: bytes) -> str:
    """`a:b:c`; when a part is missing or the key is too long, the body's hash stands in for it."""
    if all(parts):
        key = ":".join(parts)  # type: ignore[arg-type]
        if len(key) <= _MAX_DEDUP_KEY:
            return key
    digest = hashlib.sha256(body).hexdigest()
    return f"{parts[0]}:sha256:{digest}"


def _storable(value: str, field: str) -> str:
    """A sender's text bound for a column; refused with 400 (the same on every database) when no column can hold it."""
    reason = unstorable_reason(value)
    if reason:
        raise Rejected(400, f"{field} {reason}", f"{field} {reason}, which cannot be stored")
    return value


def _event_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Rejected(400, f"missing {field}", f"the body has no {field}")
    if len(value) > _MAX_EVENT_TYPE:
        raise Rejected(400, f"{field} longer than {_MAX_EVENT_TYPE} characters")
    return _storable(value, field)


def _first_id(container: dict[str, Any], names: tuple[str, ...], prefix: str) -> str | None:
    """The first usable id among `names`; one that cannot be stored is refused as `<prefix><name>`."""
    for name in names:
        found = _text_id(container.get(name))
        if found:
            return _storable(found, f"{prefix}{name}")
    return None


def derive_calcom(body: dict[str, Any], raw: bytes, timezone: str) -> _Derived:
    """Keys of a Cal.com delivery: envelope `{triggerEvent, createdAt, payload}` or flat MEETING_*."""
    trigger = _event_name(body.get("triggerEvent"), "triggerEvent")
    inner = body.get("payload")
    source, prefix = (inner, "payload.") if isinstance(inner, dict) else (body, "")
    entity = _first_id(source, ("uid", "bookingUid", "bookingId"), prefix)
    created = _storable(body["createdAt"], "createdAt") if isinstance(body.get("createdAt"), str) else None
    return _Derived(
        event_type=trigger,
        dedup_key=_dedup_key(trigger, entity, created, body=raw),
        entity_id=entity if entity and len(entity) <= _MAX_ENTITY_ID else None,
        event_day=_local_day_of_iso(source.get("startTime"), timezone),
    )


def derive_retell(body: dict[str, Any], raw: bytes, timezone: str) -> _Derived:
    """Keys of a Retell delivery `{event, call}` (very old payloads say `data`, chat agents `chat`)."""
    event = _event_name(body.get("event"), "event")
    holder = next((k for k in ("call", "data", "chat") if isinstance(body.get(k), dict)), None)
    call = body[holder] if holder else {}
    entity = _first_id(call, ("call_id", "chat_id"), f"{holder}.")
    return _Derived(
        event_type=event,
        dedup_key=_dedup_key(event, entity, body=raw),
        entity_id=entity if entity and len(entity) <= _MAX_ENTITY_ID else None,
        event_day=_local_day_of_ms(call.get("start_timestamp"), timezone),
    )


# -- group commit -----------------------------------------------------------------------------


class _BatchLander:
    """Lands concurrent deliveries together: one writer thread, one transaction per batch.

    A commit per request caps PostgreSQL at well under 2,000 events/s on a small machine; grouping
    whatever arrived while the previous batch committed keeps each answer waiting for its own
    commit, but amortises the commit and the round trips. A lone delivery is a batch of one, so
    latency at low load is that of a plain insert. The writer thread ends when idle and starts
    again on demand, so an app needs no shutdown hook.
    """

    def __init__(self, store: WebhookStore, max_batch: int = 256, idle_s: float = 2.0):
        self._store = store
        self._max_batch = max_batch
        self._idle_s = idle_s
        self._queue: queue.SimpleQueue[tuple[NewEvent, asyncio.Future[tuple[int, bool]], asyncio.AbstractEventLoop]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._running = False

    async def land(self, event: NewEvent) -> tuple[int, bool]:
        """(id, duplicate) once the event's transaction committed; raises what the database raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bool]] = loop.create_future()
        with self._lock:
            self._queue.put((event, future, loop))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="askpro-webhooks-writer", daemon=True).start()
        return await future

    def _run(self) -> None:
        try:
            while True:
                try:
                    first = self._queue.get(timeout=self._idle_s)
                except queue.Empty:
                    with self._lock:  # land() enqueues under this lock, so nothing slips in unseen
                        if self._queue.empty():
                            self._running = False
                            return
                    continue
                batch = [first]
                while len(batch) < self._max_batch:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self._land(batch)
        except BaseException:
            # The next delivery starts a fresh writer (which also takes what is queued) instead of waiting forever.
            with self._lock:
                self._running = False
            raise

    def _land(self, batch: list[Any]) -> None:
        try:
            outcomes: list[Any] = self._store.land_many([event for event, _, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to each waiting request
            if len(batch) == 1:
                outcomes = [exc]
            else:
                # One bad row must not fail its neighbours: retry them one by one.
                outcomes = []
                for event, _, _ in batch:
                    try:
                        outcomes.append(self._store.land_many([event])[0])
                    except Exception as single:  # noqa: BLE001
                        outcomes.append(single)
        for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
            try:
                loop.call_soon_threadsafe(_resolve, future, outcome)
            except RuntimeError:  # that server's event loop has closed; nobody is waiting any more
                pass


def _resolve(future: asyncio.Future[tuple[int, bool]], outcome: tuple[int, bool] | BaseException) -> None:
    if future.done():  # the request was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


# -- the app ----------------------------------------------------------------------------------


def build_app(
    *,
    store: WebhookStore,
    tenants: Callable[[], TenantsConfig],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock_ms: Callable[[], int] = _now_ms,
    environ: Mapping[str, str] | None = None,
    tenants_check_interval_s: float = 1.0,
    on_shutdown: Callable[[], None] | None = None,
) -> App:
    """The receiver as an ASGI app.

    `tenants` loads the tenants config; it is called again only when the tenants file
    (ASKPRO_TENANTS_FILE in `environ`) changes, which is looked at every
    `tenants_check_interval_s`. Secrets are read from `environ` (default os.environ) on every
    request, so a rotated key applies without a restart.
    """
    env = os.environ if environ is None else environ
    tenants_cache = _TenantsCache(tenants, env, tenants_check_interval_s)
    lander = _BatchLander(store)

    def tenant_for(slug: str, provider: str) -> Tenant:
        try:
            config = tenants_cache.get()
        except TenantsFileError:
            raise Rejected(503, "tenants file unavailable", "the receiver has no valid tenants file") from None
        tenant = next((t for t in config.tenants if t.slug == slug), None)
        if tenant is None:
            raise Rejected(404, "unknown tenant", f"unknown tenant {slug!r}")
        if provider == CALCOM and not tenant.calcom.webhook_secret_env:
            raise Rejected(
                404,
                "no Cal.com webhook secret configured",
                f"tenant {slug!r} does not accept Cal.com webhooks: no calcom.webhook_secret_env in the tenants file",
            )
        if provider == RETELL and tenant.retell is None:
            raise Rejected(
                404,
                "no Retell account configured",
                f"tenant {slug!r} does not accept Retell webhooks: no retell account in the tenants file",
            )
        return tenant

    def secret_for(tenant: Tenant, provider: str) -> str:
        retell = tenant.retell
        name = tenant.calcom.webhook_secret_env if provider == CALCOM else retell.api_key_env if retell else None
        value = env.get(name, "") if name else ""
        if not value:
            # Configured in the file but absent from the environment: a deployment fault, and a 5xx makes
            # the provider retry once it is fixed. The variable name is logged, never sent back.
            raise Rejected(
                503, f"environment variable {name} is not set", "the receiver is not configured for this tenant"
            )
        return value

    async def read_body(request: Request) -> bytes:
        declared = request.header("content-length")
        if declared is not None:
            if not _DIGITS.fullmatch(declared):
                raise Rejected(400, "invalid Content-Length")
            if len(declared) > 15 or int(declared) > max_body_bytes:
                raise Rejected(413, f"body over {max_body_bytes} bytes (Content-Length)")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body_bytes:
                    raise Rejected(413, f"body over {max_body_bytes} bytes")
                chunks.append(chunk)
        except ClientDisconnected:
            raise Rejected(400, "client disconnected before the body was complete") from None
        return b"".join(chunks)

    def check_signature(provider: str, tenant: Tenant, request: Request, body: bytes) -> None:
        secret = secret_for(tenant, provider)
        if provider == CALCOM:
            header = request.header(CALCOM_SIGNATURE_HEADER)
            if not header:
                raise Rejected(401, "missing X-Cal-Signature-256 header", "invalid signature")
            if not verify_calcom(body, header, secret):
                raise Rejected(401, "signature mismatch", "invalid signature")
            return
        reason = retell_rejection(body, request.header(RETELL_SIGNATURE_HEADER), secret, clock_ms())
        if reason is not None:
            raise Rejected(401, reason, "invalid signature")

    def parse(body: bytes) -> tuple[str, dict[str, Any]]:
        try:
            text = body.decode("utf-8")
            parsed = loads_json(text)  # orjson: a Retell call's word-level transcript decodes 3x faster
        except RecursionError:
            raise Rejected(400, _TOO_DEEP) from None
        except ValueError:  # UnicodeDecodeError is a ValueError, and so is an integer too long to parse
            raise Rejected(400, "body is not UTF-8 JSON") from None
        if not isinstance(parsed, dict):
            raise Rejected(400, "body is not a JSON object")
        return text, parsed

    def receiver(provider: str) -> Callable[[Request], Awaitable[Answer]]:
        derive = derive_calcom if provider == CALCOM else derive_retell

        async def receive(request: Request) -> Answer:
            slug = request.path_params["tenant"]
            try:
                tenant = tenant_for(slug, provider)
                body = await read_body(request)
                check_signature(provider, tenant, request, body)
                text, parsed = parse(body)
                derived = derive(parsed, body, tenant.timezone)
                payload = redact_payload(text, parsed, body)
            except Rejected as rejected:
                logger.warning(
                    "webhook rejected: tenant=%r provider=%s status=%d reason=%s",
                    slug[:80],
                    provider,
                    rejected.status,
                    rejected.reason,
                )
                return rejected.status, {"error": rejected.message}
            try:
                event_id, duplicate = await lander.land(
                    NewEvent(
                        tenant=tenant.slug,
                        provider=provider,
                        event_type=derived.event_type,
                        dedup_key=derived.dedup_key,
                        entity_id=derived.entity_id,
                        event_day=derived.event_day,
                        payload=payload,
                    )
                )
            except UnstorableEvent as exc:
                # What derive() let through but the store refuses: still the sender's content, so a 4xx.
                logger.warning(
                    "webhook rejected: tenant=%r provider=%s status=400 reason=%s", tenant.slug, provider, exc
                )
                return 400, {"error": "the body holds text that cannot be stored"}
            except SQLAlchemyError as exc:
                logger.error(
                    "webhook not stored: tenant=%r provider=%s status=503 reason=database error %s",
                    tenant.slug,
                    provider,
                    type(exc).__name__,
                )
                return 503, {"error": "storage unavailable, retry later"}
            return 200, {"status": "duplicate" if duplicate else "stored", "id": event_id}

        return receive

    async def healthz(_request: Request) -> Answer:
        try:
            counts = await asyncio.to_thread(store.counts)
        except SQLAlchemyError as exc:
            logger.error("webhook receiver health check: database unreachable (%s)", type(exc).__name__)
            return 503, {"status": "database unreachable"}
        pending = sum(n for (_, status), n in counts.items() if status == PENDING)
        dead = sum(n for (_, status), n in counts.items() if status == DEAD)
        return 200, {"status": "ok", "pending": pending, "dead": dead}

    return App(
        [
            Route("/webhooks/calcom/{tenant}", frozenset({"POST"}), receiver(CALCOM)),
            Route("/webhooks/retell/{tenant}", frozenset({"POST"}), receiver(RETELL)),
            Route("/healthz", frozenset({"GET"}), healthz),
        ],
        on_shutdown=on_shutdown,
    )

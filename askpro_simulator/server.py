"""Cal.com (v1, v2) and Retell served over real HTTP on loopback, with injectable faults.

This module runs the server (`Simulator`) and routes each request to its API: calcom_v1.py,
calcom_v2.py + calcom_v2_bookings.py, retell_api.py, and control.py for /_sim/. What they share
(faults, listings, payloads, errors) is in responses.py; views.py renders each tenant's bodies.
Responses are rendered from the world on first use into pre-encoded JSON records, so a page of
a large world is a slice and a join. Bodies are byte-identical for the same config; only the
rate-limit counters in the headers depend on how many requests came before.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import re
import socket
import threading
import time
from datetime import datetime
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from askpro_simulator import retell_routes
from askpro_simulator.accounts import SimulatorConfig
from askpro_simulator.calcom_v1 import CalcomV1Api
from askpro_simulator.calcom_v2 import CalcomV2Api
from askpro_simulator.calcom_v2_bookings import CalcomV2BookingsApi
from askpro_simulator.control import ControlApi
from askpro_simulator.records import SimBooking
from askpro_simulator.responses import (
    Api,
    ApiError,
    Ctx,
    ERROR_TIMESTAMP,
    Fault,
    Handler,
    Payload,
    RATE_LIMIT_CLOCK_START,
    RATE_LIMIT_WINDOW_S,
    V1_RATE_LIMIT,
    V2_ERROR_CODES,
    V2_RATE_LIMIT,
    dump_json,
    json_response,
    loggable,
    status_phrase,
)
from askpro_simulator.retell_api import RetellApi
from askpro_simulator.views import TenantViews
from askpro_simulator.write_api import WriteApi
from askpro_simulator.world import TenantWorld, World, build_world


class _App(CalcomV1Api, CalcomV2Api, CalcomV2BookingsApi, RetellApi, WriteApi, ControlApi):
    """The ASGI application: routing, auth, faults, rate-limit headers and the request log."""

    def __init__(self, world: World):
        self.world = world
        self.views = {slug: TenantViews(t) for slug, t in world.tenants.items()}
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self.calcom_versions: list[tuple[str, str | None]] = []  # (v2 path, cal-api-version sent)
        # per (api, key owner): start of the current 60 s window (monotonic), requests in it, windows so far
        self.rate_windows: dict[tuple[str, str], tuple[float, int, int]] = {}
        self.served: dict[tuple[str, str, int], int] = {}  # (key owner, calcom|retell, status) -> requests
        self.lowest_remaining: dict[str, tuple[int, int]] = {}  # Cal.com key owner -> (remaining, limit) sent
        self.owners = self._index_owners()
        self.routes: dict[Api, list[tuple[str, re.Pattern, Handler]]] = {
            "v1": [
                ("GET", re.compile(r"/v1/event-types"), self.v1_event_types),
                ("GET", re.compile(r"/v1/event-types/(?P<event_type_id>[^/]+)"), self.v1_event_type),
                ("GET", re.compile(r"/v1/teams"), self.v1_teams),
                ("GET", re.compile(r"/v1/teams/(?P<team_id>[^/]+)/event-types"), self.v1_team_event_types),
                ("GET", re.compile(r"/v1/users"), self.v1_users),
                ("GET", re.compile(r"/v1/users/(?P<user_id>[^/]+)"), self.v1_user),
                ("GET", re.compile(r"/v1/schedules"), self.v1_schedules),
                ("GET", re.compile(r"/v1/schedules/(?P<schedule_id>[^/]+)"), self.v1_schedule),
                ("GET", re.compile(r"/v1/memberships"), self.v1_memberships),
                ("GET", re.compile(r"/v1/bookings"), self.v1_bookings),
            ],
            "v2": [
                ("GET", re.compile(r"/v2/me"), self.v2_me),
                ("GET", re.compile(r"/v2/event-types"), self.v2_event_types),
                ("GET", re.compile(r"/v2/event-types/(?P<event_type_id>[^/]+)"), self.v2_event_type),
                ("GET", re.compile(r"/v2/teams"), self.v2_teams),
                ("GET", re.compile(r"/v2/teams/(?P<team_id>[^/]+)/event-types"), self.v2_team_event_types),
                ("GET", re.compile(r"/v2/teams/(?P<team_id>[^/]+)/memberships"), self.v2_team_memberships),
                ("GET", re.compile(r"/v2/organizations/(?P<org_id>[^/]+)/users"), self.v2_org_users),
                ("GET", re.compile(r"/v2/organizations/(?P<org_id>[^/]+)/schedules"), self.v2_org_schedules),
                ("GET", re.compile(r"/v2/schedules"), self.v2_schedules),
                ("GET", re.compile(r"/v2/schedules/default"), self.v2_default_schedule),
                ("GET", re.compile(r"/v2/schedules/(?P<schedule_id>[^/]+)"), self.v2_schedule),
                ("GET", re.compile(r"/v2/bookings"), self.v2_bookings),
                ("GET", re.compile(r"/v2/bookings/(?P<booking_uid>[^/]+)"), self.v2_booking),
                ("GET", re.compile(r"/v2/slots"), self.v2_slots),
            ],
            "retell": [
                ("POST", re.compile(r"/v2/list-agents"), self.retell_list_agents),
                ("GET", re.compile(r"/list-agents"), self.retell_list_agents_legacy),
                ("GET", re.compile(r"/get-agent/(?P<agent_id>[^/]+)"), self.retell_get_agent),
                ("GET", re.compile(r"/get-agent-versions/(?P<agent_id>[^/]+)"), self.retell_get_agent_versions),
                ("GET", re.compile(r"/list-agent-versions/(?P<agent_id>[^/]+)"), self.retell_list_agent_versions),
                ("GET", re.compile(r"/get-retell-llm/(?P<llm_id>[^/]+)"), self.retell_get_llm),
                ("GET", re.compile(r"/v2/list-phone-numbers"), self.retell_list_phone_numbers),
                ("GET", re.compile(r"/list-phone-numbers"), self.retell_list_phone_numbers_legacy),
                ("GET", re.compile(r"/get-phone-number/(?P<phone_number>[^/]+)"), self.retell_get_phone_number),
                ("POST", re.compile(r"/v3/list-calls"), self.retell_list_calls),
                ("POST", re.compile(r"/v2/list-calls"), self.retell_list_calls_legacy),
                ("GET", re.compile(r"/v2/get-call/(?P<call_id>[^/]+)"), self.retell_get_call),
                ("PATCH", re.compile(r"/update-retell-llm/(?P<llm_id>[^/]+)"), self.retell_update_llm),
                ("POST", re.compile(r"/publish-agent-version/(?P<agent_id>[^/]+)"), self.retell_publish_agent),
                ("PATCH", re.compile(r"/update-phone-number/(?P<phone_number>[^/]+)"), self.retell_update_phone_number),
            ],
        }

    def _index_owners(self) -> dict[tuple[str, Any], str]:
        """(kind, id) -> tenant slug, to tell another tenant's id (401) from an unknown one (404)."""
        owners: dict[tuple[str, Any], str] = {}
        for slug, tenant in self.world.tenants.items():
            owners[("team", tenant.team.id)] = slug
            owners[("org", tenant.organization.id)] = slug
            owners.update({("event_type", et.id): slug for et in tenant.event_types})
            owners.update({("user", u.id): slug for u in tenant.users})
            owners.update({("schedule", s.id): slug for s in tenant.schedules})
            owners.update({("agent", a.agent_id): slug for a in tenant.agents})
            owners.update({("llm", a.llm_id): slug for a in tenant.agents})
            owners.update({("phone_number", p.phone_number): slug for p in tenant.phone_numbers})
        return owners

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = request.url.path
        if path.startswith("/_sim/"):
            response = await self._admin(request, path)
        else:
            response = await self._serve_api(request, path)
            with self.lock:
                self.log.append((request.method, loggable(path, scope.get("query_string", b"")), response.status_code))
        await response(scope, receive, send)

    async def _serve_api(self, request: Request, path: str) -> Response:
        if path.startswith("/calcom/v1/") or path == "/calcom/v1":
            api: Api = "v1"
            api_path = path.removeprefix("/calcom")
        elif path.startswith("/calcom/v2/") or path == "/calcom/v2":
            api = "v2"
            api_path = path.removeprefix("/calcom")
        elif path.startswith("/retell/"):
            api = "retell"
            api_path = path.removeprefix("/retell")
        else:
            return json_response(404, {"message": f"the simulator serves /calcom/v1, /calcom/v2 and /retell, not {path}"})

        if api == "v2":
            with self.lock:
                self.calcom_versions.append((api_path, request.headers.get("cal-api-version")))
        key = self._credential(api, request)
        tenant = self._tenant_for_key(api, key)
        fault = self._take_fault(path, tenant.slug if tenant else None)
        malformed = False
        changes = fault.changes if fault is not None and fault.kind == "drift" else None
        extra_headers: dict[str, str] = {}
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
        elif fault is not None and fault.kind == "malformed":
            malformed = True
        try:
            if fault is not None and fault.kind == "status":
                extra_headers = fault.retry_headers()
                raise self._fault_error(api, fault.status)
            body = await self._dispatch(api, api_path, request, key, tenant)
            response = Response(body.render(malformed, changes), status_code=200, media_type="application/json")
        except ApiError as error:
            response = self._error_response(api, api_path, error)
        response.headers.update(extra_headers)
        who = tenant.slug if tenant else f"key:{key}"
        if api != "retell":
            response.headers.update(self._rate_limit_headers(api, who))
        provider = "retell" if api == "retell" else "calcom"
        with self.lock:
            counted = (who, provider, response.status_code)
            self.served[counted] = self.served.get(counted, 0) + 1
        return response

    @staticmethod
    def _credential(api: Api, request: Request) -> str | None:
        if api == "v1":
            return request.query_params.get("apiKey")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _tenant_for_key(self, api: Api, key: str | None) -> TenantWorld | None:
        if api == "retell":
            return self.world.tenant_for_retell_key(key)
        return self.world.tenant_for_calcom_key(key)

    def _take_fault(self, path: str, tenant_slug: str | None) -> Fault | None:
        """The first matching fault, with one use consumed; exhausted faults are dropped."""
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path_prefix) and (fault.tenant is None or fault.tenant == tenant_slug):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self.faults.remove(fault)
                    return copy.copy(fault)
        return None

    @staticmethod
    def _fault_error(api: Api, status: int) -> ApiError:
        if status == 429:
            if api == "v1":
                return ApiError(429, "Rate limit exceeded")
            if api == "v2":
                return ApiError(429, "ThrottlerException: Too Many Requests")
            return ApiError(429, "Account rate limited, please throttle your requests.")
        if api == "retell" and status >= 500:
            return ApiError(status, "An unexpected server error occurred.")
        return ApiError(status, status_phrase(status))

    @staticmethod
    def _error_response(api: Api, api_path: str, error: ApiError) -> Response:
        if api == "v1":
            body = error.v1_body or {"message": error.message}
        elif api == "v2":
            body = {
                "status": "error",
                "timestamp": ERROR_TIMESTAMP,
                "path": api_path,
                "error": {
                    "code": error.code or V2_ERROR_CODES.get(error.status, "HttpException"),
                    "message": error.message,
                    "details": {"message": error.message, "error": status_phrase(error.status), "statusCode": error.status},
                },
            }
        else:
            body = {"status": "error", "message": error.message}
        return Response(dump_json(body), status_code=error.status, media_type="application/json")

    def _rate_limit_headers(self, api: Api, who: str) -> dict[str, str]:
        limit = V1_RATE_LIMIT if api == "v1" else V2_RATE_LIMIT
        now = time.monotonic()
        with self.lock:  # fixed 60 s windows per key, starting with the first request of each
            started, used, window = self.rate_windows.get((api, who), (now, 0, 0))
            if now - started >= RATE_LIMIT_WINDOW_S:
                started, used, window = now, 0, window + 1
            used = min(used, limit - 1)  # the simulator reports the limit; it does not enforce it
            self.rate_windows[(api, who)] = (started, used + 1, window)
            lowest = self.lowest_remaining.get(who)
            if lowest is None or limit - used - 1 < lowest[0]:
                self.lowest_remaining[who] = (limit - used - 1, limit)
        reset = str(RATE_LIMIT_CLOCK_START + (window + 1) * RATE_LIMIT_WINDOW_S)
        remaining = str(limit - used - 1)
        if api == "v1":
            return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset}
        return {
            "X-RateLimit-Limit-Default": str(limit),
            "X-RateLimit-Remaining-Default": remaining,
            "X-RateLimit-Reset-Default": reset,
        }

    def _unauthorized(self, api: Api, key: str | None) -> ApiError:
        if api == "v1":
            if key is None:
                return ApiError(401, "No apiKey provided", v1_body={"message": "No apiKey provided"})
            return ApiError(401, "Your API key is not valid.", v1_body={"error": "Your API key is not valid."})
        if api == "v2":
            reason = "No Authorization header provided" if key is None else "Invalid API Key"
            return ApiError(401, f"ApiAuthGuard - {reason}")
        return ApiError(401, "API key is missing or invalid.")

    async def _dispatch(
        self, api: Api, api_path: str, request: Request, key: str | None, tenant: TenantWorld | None
    ) -> Payload:
        handler, params, method_allowed = None, {}, False
        for method, pattern, candidate in self.routes[api]:
            match = pattern.fullmatch(api_path)
            if match:
                if method == request.method:
                    handler, params = candidate, match.groupdict()  # ASGI paths arrive percent-decoded
                    break
                method_allowed = True
        if handler is None:
            if method_allowed and api == "v1":
                raise ApiError(405, f"Method {request.method} Not Allowed")
            message = f"Cannot {request.method} {api_path}" if api == "v2" else "Not Found"
            raise ApiError(404, message)
        if tenant is None:
            raise self._unauthorized(api, key)
        if api == "retell" and not retell_routes.serves(tenant.spec.retell_generation, handler.__name__):
            raise ApiError(404, "Not Found")  # an account without this endpoint generation
        ctx = Ctx(
            api=api,
            method=request.method,
            path=api_path,
            query=request.query_params,
            headers=request.headers,
            body=await request.body(),
            tenant=tenant,
            views=self.views[tenant.slug],
        )
        return handler(ctx, **params)


class Simulator:
    """The fake APIs on a loopback port, served by uvicorn from a background thread."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0):
        self.config = config
        self.host = host
        self.port = port
        self.world: World = build_world(config)
        self._app = _App(self.world)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def calcom_base_url(self) -> str:
        return f"{self.base_url}/calcom"

    @property
    def retell_base_url(self) -> str:
        return f"{self.base_url}/retell"

    def start(self) -> str:
        """Serve in a background thread; returns the base URL once the server answers."""
        if self._thread is not None:
            return self.base_url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"askpro-simulator-{port}", daemon=True
        )
        self._thread.start()
        self.base_url = f"http://{self.host}:{port}"
        try:
            self._wait_until_serving(port)
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_until_serving(self, port: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the simulator server thread exited during startup")
            if self._server.started:
                connection = http.client.HTTPConnection(self.host, port, timeout=2)
                try:
                    connection.request("GET", "/_sim/health")
                    if connection.getresponse().status == 200:
                        return
                except OSError:
                    pass
                finally:
                    connection.close()
            time.sleep(0.005)
        raise RuntimeError(f"the simulator did not answer within {timeout_s} s")

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._thread = None
        self._server = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ---- faults and observation -----------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._app.lock:
            self._app.faults.append(fault)

    def clear_faults(self) -> None:
        with self._app.lock:
            self._app.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still pending (a copy)."""
        with self._app.lock:
            return [copy.copy(f) for f in self._app.faults]

    def request_count(self, path_prefix: str = "") -> int:
        """How many API requests (not /_sim ones) were served whose path starts with the prefix."""
        with self._app.lock:
            return sum(1 for _, path, _ in self._app.log if path.startswith(path_prefix))

    def served_by_key(self) -> dict[tuple[str, str], dict[int, int]]:
        """Ground truth per key: {(tenant slug, "calcom"|"retell"): {status: requests served}}; a key
        that belongs to no tenant counts as "key:<key>"."""
        with self._app.lock:
            served: dict[tuple[str, str], dict[int, int]] = {}
            for (who, provider, status), count in self._app.served.items():
                served.setdefault((who, provider), {})[status] = count
            return served

    def lowest_rate_limit_remaining(self, who: str) -> tuple[int, int] | None:
        """The lowest X-RateLimit-Remaining sent to a tenant's Cal.com key, with its limit."""
        with self._app.lock:
            return self._app.lowest_remaining.get(who)

    @property
    def calcom_api_versions(self) -> list[tuple[str, str | None]]:
        """(path, `cal-api-version` header or None) per Cal.com v2 request served (a copy)."""
        with self._app.lock:
            return list(self._app.calcom_versions)

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """(method, path with query minus apiKey, status) per served API request (a copy)."""
        with self._app.lock:
            return list(self._app.log)

    # ---- bookings (tests) ------------------------------------------------------------------

    def mutate_booking(self, slug: str, uid: str, /, **changes: Any) -> SimBooking:
        """Change a booking (SimBooking field names) so later responses show it.

        `updated_at` advances past every generated timestamp unless given, so an incremental
        sync by afterUpdatedAt picks the change up.
        """
        return self.world.tenant(slug).activity.mutate_booking(uid, **changes)

    def cancel_booking(self, slug: str, uid: str, reason: str = "Termin passt leider nicht mehr.") -> SimBooking:
        """Cancel a booking as its attendee would."""
        return self.world.tenant(slug).activity.cancel_booking(uid, reason)

    def add_booking(self, slug: str, start: datetime, **details: Any) -> SimBooking:
        """Book a new slot at `start` (aware); see TenantActivity.add_booking for the details."""
        return self.world.tenant(slug).activity.add_booking(start, **details)

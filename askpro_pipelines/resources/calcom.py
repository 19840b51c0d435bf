"""Cal.com as a Dagster resource: v2 by default, v1 for legacy accounts, one record shape for both.

The resource owns the run's shared httpx client and one circuit breaker per tenant; the
per-tenant `CalcomClient` knows the endpoints, envelopes and pagination of each API version
and hands back validated models, never raw dicts.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pydantic import Field

from askpro_pipelines.drift import ShapeLog
from askpro_pipelines.models.bookings import Booking, booking_from_v1, booking_from_v2
from askpro_pipelines.models.calcom import (
    EventType,
    Schedule,
    Staff,
    event_type_from_v1,
    event_type_from_v2,
    schedule_from_v1,
    schedule_from_v2,
    staff_from_v1_user,
    staff_from_v2_membership,
    staff_from_v2_user,
)
from askpro_pipelines.models.errors import RecordError, RejectedLog
from askpro_pipelines.models.slots import SLOTS, slots_from_v2
from askpro_pipelines.resources.api_base import ApiResource, parse_records
from askpro_pipelines.resources.http import (
    ApiError,
    PayloadError,
    RequestStats,
    ResilientClient,
)
from askpro_pipelines.tenants import Tenant

API = "calcom"

# Cal.com v2 picks a controller, and with it the response shape, from the `cal-api-version` header;
# a missing or wrong one silently answers an older shape (reference §3.1, §7.2). One registry for
# every v2 endpoint the client reads, by path template: a request to a template not listed here
# fails (KeyError) instead of going out unversioned. None: no version pins the shape (teams and
# organization lists accept any), so none is sent.
CAL_API_VERSIONS: dict[str, str | None] = {
    "/v2/me": None,
    "/v2/teams": None,
    "/v2/teams/{team_id}/memberships": None,
    "/v2/organizations/{org_id}/users": None,
    "/v2/event-types": "2024-06-14",
    "/v2/event-types/{event_type_id}": "2024-06-14",
    "/v2/teams/{team_id}/event-types": "2024-06-14",
    "/v2/schedules": "2024-06-11",
    "/v2/organizations/{org_id}/schedules": "2024-06-11",
    "/v2/bookings": "2024-08-13",
    "/v2/slots": "2024-09-04",
}


def v2_headers(template: str) -> dict[str, str]:
    """The `cal-api-version` header a v2 endpoint needs, from the registry."""
    version = CAL_API_VERSIONS[template]
    return {"cal-api-version": version} if version else {}


BOOKINGS = "calcom_bookings"
V2_PAGE_SIZE = 250  # SkipTakePagination maximum
V1_PAGE_SIZE = 100


def _iso(moment: dt.datetime) -> str:
    """UTC ISO 8601 with milliseconds and Z, as Cal.com writes its own timestamps."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class CalcomClient:
    """One tenant's Cal.com account over one API version."""

    def __init__(self, tenant: Tenant, http: ResilientClient, page_size: int | None = None):
        self.tenant = tenant
        self.http = http
        self.api_version = tenant.calcom.api_version
        self.page_size = page_size or (V2_PAGE_SIZE if self.api_version == "v2" else V1_PAGE_SIZE)
        self._me: dict[str, Any] | None = None
        self.shapes = ShapeLog(API)  # what each endpoint's records looked like (drift.py)
        self.rejected = RejectedLog()  # malformed records, for the quarantine (the assets settle it)

    @property
    def stats(self) -> RequestStats:
        return self.http.stats

    # ---- public: typed records ------------------------------------------------------------

    def event_types(self) -> Iterator[EventType]:
        """Personal and team event types of the account."""
        if self.api_version == "v1":
            personal = self._v1_list("/v1/event-types", "event_types", entity="event_types")
            raw = self._watched("/v1/event-types", personal)
            for team in self._v1_list("/v1/teams", "teams", entity="teams"):
                team_types = self._v1_list(f"/v1/teams/{team['id']}/event-types", "event_types", entity="event_types")
                raw += self._watched("/v1/teams/{team_id}/event-types", team_types)
            return self._parse("event_types", raw, event_type_from_v1)
        raw = self._watched("/v2/event-types", self._v2_data("/v2/event-types", entity="event_types"))
        for team in self._v2_data("/v2/teams", entity="teams"):
            template = "/v2/teams/{team_id}/event-types"
            raw += self._watched(template, self._v2_data(template, entity="event_types", team_id=team["id"]))
        return self._parse("event_types", raw, event_type_from_v2)

    def staff(self) -> Iterator[Staff]:
        """Users of the account: the organization's users, else the account owner and team members."""
        if self.api_version == "v1":
            users = self.shapes.watch("/v1/users", self._v1_pages("/v1/users", "users", entity="staff"))
            return self._parse("staff", users, staff_from_v1_user)
        org_id = self._organization_id()
        if org_id is not None:
            template = "/v2/organizations/{org_id}/users"
            pages = self.shapes.watch(template, self._v2_pages(template, entity="staff", org_id=org_id))
            return self._parse("staff", pages, staff_from_v2_user)
        return self._team_staff()

    def schedules(self, default_schedule_ids: Mapping[str, str] | None = None) -> Iterator[Schedule]:
        """Working-hour schedules of every user the key can see.

        v1 schedules do not say which is the default; `default_schedule_ids` (staff id → schedule id,
        from the staff table) fills that in.
        """
        default_tz = self.tenant.timezone
        raw: Iterable[Any]
        if self.api_version == "v1":
            raw = self._watched("/v1/schedules", self._v1_list("/v1/schedules", "schedules", entity="schedules"))
            return self._parse(
                "schedules",
                raw,
                lambda r: schedule_from_v1(r, default_time_zone=default_tz, default_schedule_ids=default_schedule_ids),
            )
        org_id = self._organization_id()
        if org_id is not None:
            template = "/v2/organizations/{org_id}/schedules"
            raw = self.shapes.watch(template, self._v2_pages(template, entity="schedules", org_id=org_id))
        else:
            raw = self.shapes.watch("/v2/schedules", self._v2_data("/v2/schedules", entity="schedules"))
        return self._parse("schedules", raw, lambda r: schedule_from_v2(r, default_time_zone=default_tz))

    def bookings(self, start: dt.datetime, end: dt.datetime, scope: str = "") -> Iterator[Booking]:
        """Bookings whose appointment starts in [start, end) (UTC instants), every status.

        Malformed bookings are rejected under `scope` (the day), for that day's quarantine.

        The APIs filter on start ≥ and end ≤, so the query reaches one day past `end` (a booking
        may end after midnight) and the start filter is applied here.
        """
        query_end = end + dt.timedelta(days=1)
        if self.api_version == "v1":
            params = {"dateFrom": _iso(start), "dateTo": _iso(query_end)}
            raw = self._v1_pages("/v1/bookings", "bookings", entity=BOOKINGS, params=params)
            parsed = self._parse(BOOKINGS, self.shapes.watch("/v1/bookings", raw), booking_from_v1, scope)
        else:
            params = {"afterStart": _iso(start), "beforeEnd": _iso(query_end), "sortStart": "asc"}
            raw = self._v2_booking_pages(params)
            parsed = self._parse(BOOKINGS, self.shapes.watch("/v2/bookings", raw), booking_from_v2, scope)
        return (b for b in parsed if start <= b.start_utc < end)

    def _v2_booking_pages(self, params: Mapping[str, str]) -> Iterator[Any]:
        """GET /v2/bookings pages: follow `pagination.hasNextPage` (take ≤ 250)."""
        skip, take = 0, min(self.page_size, V2_PAGE_SIZE)
        while True:
            page = {**params, "take": take, "skip": skip}
            body = self.http.get_json("/v2/bookings", entity=BOOKINGS, headers=v2_headers("/v2/bookings"), params=page)
            data = self._v2_envelope(body, "/v2/bookings", BOOKINGS)
            if not isinstance(data, list):
                raise self._payload_error(BOOKINGS, "/v2/bookings: 'data' is not a list")
            yield from data
            pagination = body.get("pagination") if isinstance(body, Mapping) else None
            has_next = pagination.get("hasNextPage") if isinstance(pagination, Mapping) else len(data) == take
            if not has_next or not data:
                return
            skip += len(data)

    def verify_account(self) -> None:
        """Fail fast when the key belongs to another account, before its data lands as this tenant's.

        Reads each branch's event type by id: another account's key gets 401/403 there. A 404 is
        left to the `branch_event_types_exist` check.
        """
        headers = v2_headers("/v2/event-types/{event_type_id}") if self.api_version == "v2" else None
        for branch in self.tenant.branches:
            event_type_id = str(branch.calcom_event_type_id)
            path = f"/{self.api_version}/event-types/{event_type_id}"
            try:
                self.http.get_json(path, entity="event_types", headers=headers, record_id=event_type_id)
            except ApiError as exc:
                if exc.status == 404:
                    continue
                if exc.status in (401, 403):
                    raise ApiError(
                        f"the key in {self.tenant.calcom.api_key_env} may not read branch {branch.id!r}'s event type: "
                        "is it another tenant's key?",
                        tenant=self.tenant.slug,
                        api=API,
                        entity="event_types",
                        record_id=event_type_id,
                        status=exc.status,
                        method="GET",
                        path=path,
                    ) from None
                raise

    # ---- v2 plumbing ----------------------------------------------------------------------

    def _team_staff(self) -> Iterator[Staff]:
        seen: set[str] = set()
        me = staff_from_v2_user(self._me_raw())
        seen.add(me.staff_id)
        yield me
        for team in self._v2_data("/v2/teams", entity="teams"):
            template = "/v2/teams/{team_id}/memberships"
            members = self.shapes.watch(template, self._v2_pages(template, entity="staff", team_id=team["id"]))
            for member in self._parse("staff", members, staff_from_v2_membership):
                if member.staff_id not in seen:
                    seen.add(member.staff_id)
                    yield member

    def _me_raw(self) -> dict[str, Any]:
        if self._me is None:
            body = self.http.get_json("/v2/me", entity="staff", headers=v2_headers("/v2/me"))
            data = self._v2_envelope(body, "/v2/me", "staff")
            if not isinstance(data, Mapping):
                raise self._payload_error("staff", "/v2/me: 'data' is not an object")
            self._me = dict(data)
        return self._me

    def _organization_id(self) -> Any:
        return self._me_raw().get("organizationId")

    def _v2_envelope(self, body: Any, path: str, entity: str) -> Any:
        if not isinstance(body, Mapping) or body.get("status") != "success" or "data" not in body:
            raise self._payload_error(entity, f"{path}: expected the v2 envelope {{status: success, data}}")
        return body["data"]

    def _v2_data(
        self, template: str, *, entity: str, params: Mapping[str, Any] | None = None, **path_args: Any
    ) -> list[Any]:
        """A v2 list endpoint's `data`, the path filled from `template`, sent with the registered version."""
        path = template.format(**path_args)
        body = self.http.get_json(path, entity=entity, headers=v2_headers(template), params=params)
        data = self._v2_envelope(body, path, entity)
        if not isinstance(data, list):
            raise self._payload_error(entity, f"{path}: 'data' is not a list")
        return data

    def _v2_pages(self, template: str, *, entity: str, **path_args: Any) -> Iterator[Any]:
        """SkipTakePagination: no pagination block, so page until a short page comes back."""
        skip = 0
        while True:
            params = {"take": self.page_size, "skip": skip}
            page = self._v2_data(template, entity=entity, params=params, **path_args)
            yield from page
            if len(page) < self.page_size:
                return
            skip += len(page)

    # ---- v1 plumbing ----------------------------------------------------------------------

    def _v1_list(self, path: str, key: str, *, entity: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        body = self.http.get_json(path, entity=entity, params=params)
        if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
            raise self._payload_error(entity, f"{path}: expected a {key!r} list in the v1 response")
        records: list[Any] = body[key]
        return records

    def _v1_pages(self, path: str, key: str, *, entity: str, params: Mapping[str, str] | None = None) -> Iterator[Any]:
        """take/page pagination: no cursor, so page until a short page comes back."""
        page = 1
        while True:
            items = self._v1_list(
                path, key, entity=entity, params={**(params or {}), "take": self.page_size, "page": page}
            )
            yield from items
            if len(items) < self.page_size:
                return
            page += 1

    # ---- records --------------------------------------------------------------------------

    def _watched(self, template: str, records: list[Any]) -> list[Any]:
        """The records of one endpoint, their shapes noted (drift.py) before they are combined."""
        return list(self.shapes.watch(template, records))

    def _parse(
        self, entity: str, raw: Any, parser: Callable[[Mapping[str, Any]], Any], scope: str = ""
    ) -> Iterator[Any]:
        return parse_records(
            raw, parser, tenant=self.tenant.slug, api=API, entity=entity, rejected=self.rejected, scope=scope
        )

    def _payload_error(self, entity: str, message: str) -> PayloadError:
        return PayloadError(message, tenant=self.tenant.slug, api=API, entity=entity)

    # ---- availability (Cal.com v2 /v2/slots, reference §11.1) ------------------------------

    def free_slots(
        self, event_type_id: str, first: dt.date, last: dt.date, time_zone: str
    ) -> dict[dt.date, list[dt.datetime]]:
        """Free start instants of an event type per day of `time_zone`, first..last, as Cal.com answers.

        Cal.com applies hours, overrides, bookings, buffers and notice: nothing is derived here.
        """
        params = {
            "eventTypeId": event_type_id,
            "start": first.isoformat(),
            "end": last.isoformat(),
            "timeZone": time_zone,
        }
        headers = v2_headers("/v2/slots")
        body = self.http.get_json("/v2/slots", entity=SLOTS, headers=headers, params=params, record_id=event_type_id)
        try:
            return slots_from_v2(body, event_type_id)
        except RecordError as exc:
            raise PayloadError(
                exc.message, tenant=self.tenant.slug, api=API, entity=SLOTS, record_id=event_type_id
            ) from None


class CalcomResource(ApiResource):
    """Cal.com access for every tenant: timeouts, retries with backoff, breaker, key redaction."""

    page_size: int | None = Field(default=None, description="Page size (v2 default 250, v1 default 100).")

    def client_for(self, tenant: Tenant) -> CalcomClient:
        """A client for one tenant, sharing the run's connection pool and the tenant's breaker."""
        key = tenant.calcom_api_key()
        if tenant.calcom.api_version == "v2":
            headers, params = {"Authorization": f"Bearer {key}"}, {}
        else:
            headers, params = {}, {"apiKey": key}
        http = self.resilient_client(
            tenant=tenant.slug,
            api=API,
            base_url=tenant.calcom.base_url,
            key=key,
            headers=headers,
            params=params,
            requests_per_minute=tenant.calcom.requests_per_minute,
            request_burst=tenant.calcom.request_burst,
        )
        return CalcomClient(tenant, http, page_size=self.page_size)

    def availability_client_for(self, tenant: Tenant) -> CalcomClient:
        """A v2 client for `/v2/slots` whatever the tenant's API version: v1 has no slots
        endpoint, and a Cal.com API key is also a v2 Bearer token."""
        key = tenant.calcom_api_key()
        http = self.resilient_client(
            tenant=tenant.slug,
            api=API,
            base_url=tenant.calcom.base_url,
            key=key,
            headers={"Authorization": f"Bearer {key}"},
            requests_per_minute=tenant.calcom.requests_per_minute,
            request_burst=tenant.calcom.request_burst,
        )
        client = CalcomClient(tenant, http, page_size=self.page_size)
        client.api_version = "v2"
        return client

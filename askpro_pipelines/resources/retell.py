"""Retell AI as a Dagster resource: current endpoints first, legacy ones when an account only has those.

Retell's list endpoints changed shape in 2026 (bare arrays became `{items, has_more,
pagination_key}`, agent list items became summaries). The client tries the current path, falls
back to the legacy path on 404/405, and remembers which generation answered so the next call
goes straight there. Prompts come from the agent's LLM and are redacted before they leave here.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeVar

from pydantic import Field

from askpro_pipelines.drift import ShapeLog
from askpro_pipelines.models.calls import Call, call_from_raw, merge_call
from askpro_pipelines.models.errors import RecordError, RejectedLog
from askpro_pipelines.models.prompts import LlmState, llm_state_from_raw
from askpro_pipelines.models.retell import (
    AGENTS,
    LLMS,
    PHONE_NUMBERS,
    AgentVersion,
    ListedVersion,
    Llm,
    PhoneNumber,
    StoredVersion,
    agent_summary_from_raw,
    agent_version_from_raw,
    listed_version_from_raw,
    llm_from_raw,
    phone_number_from_raw,
    unwrap_list,
    with_prompt,
)
from askpro_pipelines.resources.api_base import ApiResource, parse_records
from askpro_pipelines.resources.details import DetailFetcher, DetailRequest, ThreadedDetails
from askpro_pipelines.resources.http import (
    ApiError,
    PayloadError,
    RequestStats,
    ResilientClient,
)
from askpro_pipelines.tenants import Tenant

API = "retell"
CURRENT, LEGACY = "current", "legacy"
LEGACY_AGENT_PAGE = 1000  # legacy GET /list-agents maximum
CALL_PAGE = 1000  # list-calls maximum, both generations
CALLS = "retell_calls"
AGENT_VERSIONS = "retell_agent_versions"  # the per-agent version listing's generation


def _ms(moment: dt.datetime) -> int:
    """Epoch milliseconds, Retell's timestamp unit."""
    return int(moment.timestamp() * 1000)


_GONE = {404, 405}
W = TypeVar("W")  # the caller's key of a calls window (a day)
Parsed = TypeVar("Parsed")  # a parsed single record
Windows = Iterable[tuple[W, dt.datetime, dt.datetime]]  # (key, start, end) of each window
# (call id, end) → stored {"transcript", "tool_calls"} of a page's ended calls
KnownFor = Callable[[W, list[Call]], Mapping[tuple[str, dt.datetime], Mapping[str, Any]]]


class RetellClient:
    """One tenant's Retell account."""

    def __init__(
        self,
        tenant: Tenant,
        http: ResilientClient,
        page_size: int = 100,
        detail_concurrency: int = 8,
        details: DetailFetcher | None = None,
    ):
        self.tenant = tenant
        self.http = http
        self.page_size = page_size
        self.details = details or ThreadedDetails(detail_concurrency)
        self.generation: dict[str, str] = {}
        self._llms: dict[tuple[str, int | None], Llm | None] = {}
        self.agent_tags: dict[str, dict[str, int | None]] = {}  # from current list-agents summaries
        self.shapes = ShapeLog(API)  # what each endpoint's records looked like (drift.py)
        self.rejected = RejectedLog()  # malformed records, for the quarantine (the assets settle it)

    @property
    def stats(self) -> RequestStats:
        return self.http.stats

    def metadata(self) -> dict[str, Any]:
        """Request figures plus which endpoint generation each listing used."""
        return {
            **self.http.stats.as_metadata(API),
            **{f"retell/endpoints/{name}": generation for name, generation in sorted(self.generation.items())},
        }

    # ---- agents -----------------------------------------------------------------------------

    def agent_versions(self, stored: Mapping[tuple[str, int], StoredVersion] | None = None) -> list[AgentVersion]:
        """Every version of every agent, each with its LLM's (redacted) prompt and prompt hash.

        `stored` ((agent id, version) → the published versions the warehouse holds) saves the
        get-agent?version=N and LLM requests of a version that is published now and was then, with
        the same modified time: a published version no longer changes, as an ended call's
        transcript no longer does. Drafts are always read again.
        """
        stored = stored or {}
        versions = self._current_agent_versions(stored) if self._use(AGENTS) == CURRENT else None
        if versions is None:
            versions = self._legacy_agent_versions()
        unique = {(v.agent_id, v.version): v for v in versions}
        reused = {key for key, v in unique.items() if v.is_published and _same_published(v, stored.get(key))}
        self._load_llms(v for key, v in unique.items() if key not in reused)
        return [
            _with_stored_prompt(v, stored[key].row) if key in reused else with_prompt(v, self._llm_for(v))
            for key, v in sorted(unique.items())
        ]

    def _current_agent_versions(self, stored: Mapping[tuple[str, int], StoredVersion]) -> list[AgentVersion] | None:
        """POST /v2/list-agents gives summaries; each agent's versions are read per page of agents."""
        versions: list[AgentVersion] = []
        key: str | None = None
        while True:
            params = {"limit": self.page_size, "pagination_key": key, "sort_order": "ascending"}
            body = self._current_or_none(
                lambda: self.http.post_json("/v2/list-agents", entity=AGENTS, params=params, json={}),  # noqa: B023 - called at once
                first=key is None,
            )
            if body is None:
                return None
            items, has_more, key = self._unwrap(body, AGENTS)
            summaries = list(self._parse(AGENTS, items, agent_summary_from_raw, endpoint="/v2/list-agents"))
            for summary in summaries:
                self.agent_tags[summary.agent_id] = {tag.tag: tag.version for tag in summary.tags}
            versions += self._versions_of([s.agent_id for s in summaries], stored)
            if not has_more:
                self.generation[AGENTS] = CURRENT
                return versions

    def _versions_of(
        self, agent_ids: list[str], stored: Mapping[tuple[str, int], StoredVersion] | None = None
    ) -> list[AgentVersion]:
        """Every version of these agents: the versions' metadata from GET /list-agent-versions (paged),
        each version's configuration from GET /get-agent?version=N unless `stored` holds it unchanged
        (`_still_stored`). Accounts that answer 404 there get the legacy GET /get-agent-versions
        (every version in full) instead."""
        if not agent_ids:
            return []
        listed = self._listed_versions(agent_ids) if self._use(AGENT_VERSIONS) == CURRENT else None
        if listed is not None:
            self.generation[AGENT_VERSIONS] = CURRENT
            kept: list[AgentVersion] = []
            wanted: list[tuple[str, int]] = []
            for agent_id in agent_ids:
                newest = max((item.version for item in listed[agent_id]), default=None)
                for item in listed[agent_id]:
                    held = _still_stored(item, (stored or {}).get((agent_id, item.version)), newest)
                    kept += [held] if held else []
                    wanted += [] if held else [(agent_id, item.version)]
            requests = [DetailRequest(f"/get-agent/{a}", AGENTS, a, {"version": n}) for a, n in wanted]
            answers = self.details.fetch(self.http, requests)
            found = list(self._parse(AGENTS, answers, agent_version_from_raw, endpoint="/get-agent/{agent_id}"))
            for (agent_id, number), version in zip(wanted, found, strict=True):
                if (version.agent_id, version.version) != (agent_id, number):
                    raise self._payload_error(AGENTS, f"get-agent?version={number} answered another version", agent_id)
            return kept + found
        self.generation[AGENT_VERSIONS] = LEGACY
        versions: list[AgentVersion] = []
        requests = [DetailRequest(f"/get-agent-versions/{a}", AGENTS, a) for a in agent_ids]
        for agent_id, raw_versions in zip(agent_ids, self.details.fetch(self.http, requests), strict=True):
            if not isinstance(raw_versions, list):
                raise self._payload_error(AGENTS, "get-agent-versions did not return a list", agent_id)
            versions += self._parse(
                AGENTS, raw_versions, agent_version_from_raw, endpoint="/get-agent-versions/{agent_id}"
            )
        return versions

    def _listed_versions(self, agent_ids: list[str]) -> dict[str, list[ListedVersion]] | None:
        """Each agent's versions (number, published, modified) from every page of GET
        /list-agent-versions/{id}; None when the account answers 404/405 for the first agent (it
        lacks the endpoint)."""

        def request(agent_id: str, key: str | None) -> DetailRequest:
            params = {"limit": self.page_size, "sort_order": "ascending"} | ({"pagination_key": key} if key else {})
            return DetailRequest(f"/list-agent-versions/{agent_id}", AGENTS, agent_id, params)

        first = request(agent_ids[0], None)
        probe = self._current_or_none(
            lambda: self.http.get_json(first.path, entity=AGENTS, params=first.params, record_id=first.record_id),
            first=True,
        )
        if probe is None:
            return None
        numbers: dict[str, list[ListedVersion]] = {agent_id: [] for agent_id in agent_ids}
        batch = [(agent_ids[0], probe), *self._fetch_each([request(a, None) for a in agent_ids[1:]])]
        while batch:
            more: list[DetailRequest] = []
            for owner, body in batch:
                agent_id = str(owner)  # every request here names its agent
                items, has_more, key = self._unwrap(body, AGENTS)
                parser = partial(listed_version_from_raw, agent_id=agent_id)
                numbers[agent_id] += self._parse(
                    AGENTS, items, parser, endpoint="/list-agent-versions/{agent_id}", owner_id=agent_id
                )
                if has_more:
                    more.append(request(agent_id, key))
            batch = self._fetch_each(more)
        return numbers

    def _legacy_agent_versions(self) -> list[AgentVersion]:
        """GET /list-agents lists every version of every agent as full objects (agent_id repeats)."""
        versions: list[AgentVersion] = []
        params: dict[str, Any] = {"limit": LEGACY_AGENT_PAGE}
        while True:
            body = self.http.get_json("/list-agents", entity=AGENTS, params=params)
            items, _, _ = self._unwrap(body, AGENTS)
            page = list(self._parse(AGENTS, items, agent_version_from_raw, endpoint="/list-agents"))
            versions += page
            if len(items) < LEGACY_AGENT_PAGE or not page:
                break
            params = {
                "limit": LEGACY_AGENT_PAGE,
                "pagination_key": page[-1].agent_id,
                "pagination_key_version": page[-1].version,
            }
        self.generation[AGENTS] = LEGACY
        return versions

    def _load_llms(self, versions: Iterable[AgentVersion]) -> None:
        """Fetch every LLM (id, version) the agents use that is not cached yet, concurrently."""
        wanted = sorted({(v.llm_id, v.llm_version) for v in versions if v.llm_id} - set(self._llms), key=str)
        requests = [
            DetailRequest(
                f"/get-retell-llm/{llm_id}", LLMS, llm_id, {"version": version} if version is not None else None
            )
            for llm_id, version in wanted
        ]
        for cache_key, raw in zip(wanted, self.details.fetch(self.http, requests), strict=True):
            self._llms[cache_key] = self._parse_one(LLMS, raw, llm_from_raw, endpoint="/get-retell-llm/{llm_id}")

    def _llm_for(self, agent: AgentVersion) -> Llm | None:
        if not agent.llm_id:
            return None
        cache_key = (agent.llm_id, agent.llm_version)
        if cache_key not in self._llms:
            params = {"version": agent.llm_version} if agent.llm_version is not None else None
            raw = self.http.get_json(
                f"/get-retell-llm/{agent.llm_id}", entity=LLMS, params=params, record_id=agent.llm_id
            )
            self._llms[cache_key] = self._parse_one(LLMS, raw, llm_from_raw, endpoint="/get-retell-llm/{llm_id}")
        return self._llms[cache_key]

    # ---- phone numbers ----------------------------------------------------------------------

    def phone_numbers(self) -> list[PhoneNumber]:
        """Every phone number with its agent bindings (legacy single or weighted, as one shape)."""
        if self._use(PHONE_NUMBERS) == CURRENT:
            numbers: list[PhoneNumber] = []
            key: str | None = None
            while True:
                params = {"limit": self.page_size, "pagination_key": key}
                body = self._current_or_none(
                    lambda: self.http.get_json("/v2/list-phone-numbers", entity=PHONE_NUMBERS, params=params),  # noqa: B023 - called at once
                    first=key is None,
                )
                if body is None:
                    break
                items, has_more, key = self._unwrap(body, PHONE_NUMBERS)
                numbers += self._parse(PHONE_NUMBERS, items, phone_number_from_raw, endpoint="/v2/list-phone-numbers")
                if not has_more:
                    self.generation[PHONE_NUMBERS] = CURRENT
                    return numbers
        body = self.http.get_json("/list-phone-numbers", entity=PHONE_NUMBERS)
        items, _, _ = self._unwrap(body, PHONE_NUMBERS)
        self.generation[PHONE_NUMBERS] = LEGACY
        return list(self._parse(PHONE_NUMBERS, items, phone_number_from_raw, endpoint="/list-phone-numbers"))

    # ---- calls ------------------------------------------------------------------------------

    def calls_by_window(
        self, windows: "Windows[W]", with_transcripts: bool = True, known_for: "KnownFor[W] | None" = None
    ) -> Iterator[tuple[W, list[Call]]]:
        """(key, all calls of the window) for each window: `call_pages_by_window` joined per window."""
        for key, pages in groupby(self.call_pages_by_window(windows, with_transcripts, known_for), key=itemgetter(0)):
            yield key, [call for _, page in pages for call in page]

    def call_pages_by_window(
        self, windows: "Windows[W]", with_transcripts: bool = True, known_for: "KnownFor[W] | None" = None
    ) -> Iterator[tuple[W, list[Call]]]:
        """(key, one listing page of calls that started in [start, end)) for each window (key, start,
        end), in order, at least one (maybe empty) page per window.

        The current POST /v3/list-calls omits transcripts, so each call's transcript comes from
        GET /v2/get-call when asked for; the legacy POST /v2/list-calls has them inline.
        `known_for(key, calls)` ((call id, end) → transcript and tool calls of those calls, from the
        warehouse) saves that request for ended calls already synced: an ended call's transcript no
        longer changes.

        One page ahead: the next page (maybe the next window's first) is listed and its transcripts
        requested before this page is handed over, so the detail fetcher keeps working while the
        caller writes. Memory holds two pages, whatever the calls per window or the windows.
        """
        ahead = None
        for prepared in self._listed_pages(windows, with_transcripts, known_for):
            if ahead is not None:
                yield ahead[0], self._complete(ahead[1], str(ahead[0]))
            ahead = prepared
        if ahead is not None:
            yield ahead[0], self._complete(ahead[1], str(ahead[0]))

    def _listed_pages(
        self, windows: "Windows[W]", with_transcripts: bool, known_for: "KnownFor[W] | None"
    ) -> Iterator[tuple[W, tuple[Any, ...]]]:
        """(key, (calls, indexes waiting, ticket)) per listing page, transcripts already submitted.
        Malformed calls are rejected under the window's key as scope."""
        for key, start, end in windows:
            lo, hi, scope = _ms(start), _ms(end) - 1, str(key)
            listed = False
            if self._use(CALLS) == CURRENT:
                for page in self._current_calls(lo, hi, scope):
                    listed = True
                    if not with_transcripts:
                        yield key, (page, [], None)
                        continue
                    known = known_for(key, page) if known_for else {}
                    yield key, self._request_transcripts(page, known)
                if self.generation[CALLS] == CURRENT:
                    if not listed:
                        yield key, ([], [], None)
                    continue
            chunk: list[Call] = []
            for call in self._legacy_calls(lo, hi, scope):  # transcripts inline: handed over a page at a time
                chunk.append(call)
                if len(chunk) == CALL_PAGE:
                    yield key, (chunk, [], None)
                    chunk, listed = [], True
            if chunk or not listed:
                yield key, (chunk, [], None)

    def _request_transcripts(
        self, calls: list[Call], known: Mapping[tuple[str, dt.datetime], Mapping[str, Any]]
    ) -> tuple[Any, ...]:
        """Fill each connected call's transcript and tool calls from the stored ones for an ended
        call already synced, and submit GET /v2/get-call for the rest: (calls, indexes waiting, ticket)."""
        calls = [
            c.model_copy(update=dict(known[(c.call_id, c.end_utc)]))
            if c.transcript is None and c.call_status == "ended" and c.end_utc and (c.call_id, c.end_utc) in known
            else c
            for c in calls
        ]
        missing = [i for i, c in enumerate(calls) if c.transcript is None and c.call_status != "not_connected"]
        requests = [DetailRequest(f"/v2/get-call/{calls[i].call_id}", CALLS, calls[i].call_id) for i in missing]
        return calls, missing, self.details.submit(self.http, requests) if requests else None

    def _complete(self, listed: tuple[Any, ...], scope: str) -> list[Call]:
        """A page's calls with the requested transcripts merged in (a malformed detail is
        quarantined and its call lands as listed, without the transcript)."""
        calls, missing, ticket = listed
        page = list(calls)
        if ticket is not None:
            for index, raw in zip(missing, self.details.collect(ticket), strict=True):
                detail = self._parse_one(CALLS, raw, call_from_raw, scope, endpoint="/v2/get-call/{call_id}")
                if detail is not None:
                    page[index] = merge_call(calls[index], detail)
        return page

    def _current_calls(self, lo: int, hi: int, scope: str = "") -> Iterator[list[Call]]:
        """Pages of POST /v3/list-calls (no transcripts); nothing when the account lacks it (404/405)."""
        key: str | None = None
        while True:
            body_json: dict[str, Any] = {
                "filter_criteria": {"start_timestamp": {"op": "bt", "type": "range", "value": [lo, hi]}},
                "sort_order": "ascending",
                "limit": CALL_PAGE,
            }
            if key:
                body_json["pagination_key"] = key
            body = self._current_or_none(
                lambda: self.http.post_json("/v3/list-calls", entity=CALLS, json=body_json),  # noqa: B023 - called at once
                first=key is None,
            )
            if body is None:
                self.generation[CALLS] = LEGACY
                return
            self.generation[CALLS] = CURRENT
            items, has_more, key = self._unwrap(body, CALLS)
            yield list(self._parse(CALLS, items, call_from_raw, scope, endpoint="/v3/list-calls"))
            if not has_more:
                return

    def _legacy_calls(self, lo: int, hi: int, scope: str = "") -> Iterator[Call]:
        """POST /v2/list-calls: bare arrays, pagination_key = the last call_id of the previous page."""
        self.generation[CALLS] = LEGACY
        key: str | None = None
        while True:
            body_json: dict[str, Any] = {
                "filter_criteria": {"start_timestamp": {"lower_threshold": lo, "upper_threshold": hi}},
                "sort_order": "ascending",
                "limit": CALL_PAGE,
            }
            if key:
                body_json["pagination_key"] = key
            body = self.http.post_json("/v2/list-calls", entity=CALLS, json=body_json)
            items, _, _ = self._unwrap(body, CALLS)
            page = list(self._parse(CALLS, items, call_from_raw, scope, endpoint="/v2/list-calls"))
            yield from page
            if len(items) < CALL_PAGE or not page:
                return
            key = page[-1].call_id

    # ---- plumbing ---------------------------------------------------------------------------

    def _fetch_each(self, requests: list[DetailRequest]) -> list[tuple[str | None, Any]]:
        """(record id, answer) of each detail request, in order."""
        if not requests:
            return []
        return list(zip([r.record_id for r in requests], self.details.fetch(self.http, requests), strict=True))

    def _current_or_none(self, call: Callable[[], Any], *, first: bool) -> Any:
        """The current endpoint's answer, or None when an account without it answers 404/405 on page one."""
        try:
            return call()
        except ApiError as exc:
            if first and exc.status in _GONE:
                return None
            raise

    def _use(self, listing: str) -> str:
        return self.generation.get(listing, CURRENT)

    def _unwrap(self, body: Any, entity: str) -> tuple[list[Any], bool, str | None]:
        try:
            return unwrap_list(body, entity=entity)
        except RecordError as exc:
            raise self._payload_error(entity, exc.message, exc.record_id) from None

    def _parse(
        self,
        entity: str,
        raw: Any,
        parser: Callable[[Mapping[str, Any]], Any],
        scope: str = "",
        *,
        endpoint: str,
        owner_id: str | None = None,
    ) -> Iterator[Any]:
        """Validated records (malformed ones go to the quarantine log); the shape of each raw record
        is noted for drift detection on the way."""
        watched = self.shapes.watch(endpoint, raw, owner_id)
        return parse_records(
            watched, parser, tenant=self.tenant.slug, api=API, entity=entity, rejected=self.rejected, scope=scope
        )

    def _parse_one(
        self, entity: str, raw: Any, parser: Callable[[Mapping[str, Any]], Any], scope: str = "", *, endpoint: str
    ) -> Any:
        """One detail record, or None when it was rejected (quarantined)."""
        parsed = list(self._parse(entity, [raw], parser, scope, endpoint=endpoint))
        return parsed[0] if parsed else None

    def _payload_error(self, entity: str, message: str, record_id: str | None = None) -> PayloadError:
        return PayloadError(message, tenant=self.tenant.slug, api=API, entity=entity, record_id=record_id)

    # ---- prompt pushes (reference §11.2): read the draft, write, publish, re-point ---------

    def versions_of_agent(self, agent_id: str) -> list[AgentVersion]:
        """Every version of one agent, oldest first (the newest is the draft, or the last published)."""
        return sorted(self._versions_of([agent_id]), key=lambda v: v.version)

    def agent(self, agent_id: str, version: int | None = None) -> AgentVersion:
        """One agent version (without `version`: the newest, which is the draft)."""
        params = {"version": version} if version is not None else None
        body = self.http.get_json(f"/get-agent/{agent_id}", entity=AGENTS, params=params, record_id=agent_id)
        return self._one(AGENTS, body, agent_version_from_raw, agent_id)

    def llm_state(self, llm_id: str, version: int | None = None) -> LlmState:
        """The managed fields of an LLM version, unredacted (models/prompts.py says why)."""
        params = {"version": version} if version is not None else None
        body = self.http.get_json(f"/get-retell-llm/{llm_id}", entity=LLMS, params=params, record_id=llm_id)
        return self._one(LLMS, body, llm_state_from_raw, llm_id)

    def update_llm(self, llm_id: str, changes: Mapping[str, Any]) -> LlmState:
        """PATCH the LLM's draft with `changes`; Retell answers the edited draft."""
        body = self.http.request_json(
            "PATCH", f"/update-retell-llm/{llm_id}", entity=LLMS, json=dict(changes), record_id=llm_id
        )
        return self._one(LLMS, body, llm_state_from_raw, llm_id)

    def publish_agent(self, agent_id: str) -> AgentVersion:
        """Publish the agent's draft in place (a new draft follows); answers the published version."""
        body = self.http.post_json(f"/publish-agent-version/{agent_id}", entity=AGENTS, json={}, record_id=agent_id)
        return self._one(AGENTS, body, agent_version_from_raw, agent_id)

    def phone_number(self, number: str) -> PhoneNumber:
        body = self.http.get_json(f"/get-phone-number/{number}", entity=PHONE_NUMBERS, record_id=number)
        return self._one(PHONE_NUMBERS, body, phone_number_from_raw, number)

    def repoint_number(self, number: str, inbound_agents: list[dict[str, Any]]) -> PhoneNumber:
        """Replace the number's inbound bindings (each {agent_id, agent_version, weight})."""
        body = self.http.request_json(
            "PATCH",
            f"/update-phone-number/{number}",
            entity=PHONE_NUMBERS,
            json={"inbound_agents": inbound_agents},
            record_id=number,
        )
        return self._one(PHONE_NUMBERS, body, phone_number_from_raw, number)

    def _one(self, entity: str, body: Any, parser: Callable[[Mapping[str, Any]], Parsed], record_id: str) -> Parsed:
        try:
            return parser(body)
        except RecordError as exc:
            raise self._payload_error(entity, exc.message, exc.record_id or record_id) from None


def _still_stored(item: ListedVersion, stored: StoredVersion | None, newest: int | None) -> AgentVersion | None:
    """The stored version when the listing shows it published with the stored modified time (the
    agent's newest version only when its agent-level fields were stored with it), else None."""
    if stored is None or not item.is_published or item.last_modified is None:
        return None
    if stored.row.last_modified != item.last_modified or (item.version == newest and not stored.whole):
        return None
    return stored.row


def _same_published(version: AgentVersion, stored: StoredVersion | None) -> bool:
    """Whether `stored` holds this published version's prompt: same LLM, LLM version and modified time."""
    if stored is None or stored.row is version:
        return stored is not None
    row = stored.row
    same_llm = (row.llm_id, row.llm_version) == (version.llm_id, version.llm_version)
    return bool(version.llm_id) and same_llm and row.last_modified == version.last_modified and row.prompt is not None


def _with_stored_prompt(version: AgentVersion, stored: AgentVersion) -> AgentVersion:
    """`version` with the prompt stored for it (itself when it is the stored version)."""
    if version is stored:
        return version
    return AgentVersion.model_validate({**version.model_dump(), "prompt": stored.prompt, "prompt_hash": None})


class RetellResource(ApiResource):
    """Retell access for every tenant, with the same resilience as the Cal.com resource."""

    timeout_s: float = Field(default=60.0, description="Per-request timeout (Retell's SDK uses 60 s).")
    page_size: int = Field(default=100, description="Items per page of the current list endpoints (max 1000).")
    detail_concurrency: int = Field(
        default=8, description="Detail requests (versions, LLM prompts, transcripts) in flight at once per tenant."
    )
    detail_processes: int = Field(
        default=2,
        ge=0,
        description="Helper processes that send the detail requests, so HTTP work and parsing use several "
        "cores (resources/details.py); 0 keeps them on threads of the run's process.",
    )

    def client_for(self, tenant: Tenant) -> RetellClient:
        """A client for one tenant, sharing the run's connection pool and the tenant's breaker."""
        key = tenant.retell_api_key()
        assert tenant.retell is not None  # retell_api_key raised otherwise
        http = self.resilient_client(
            tenant=tenant.slug,
            api=API,
            base_url=tenant.retell.base_url,
            key=key,
            headers={"Authorization": f"Bearer {key}"},
            requests_per_minute=tenant.retell.requests_per_minute,
            request_burst=tenant.retell.request_burst,
        )
        details = self.detail_fetcher(tenant.slug, self.detail_concurrency, self.detail_processes)
        return RetellClient(tenant, http, page_size=self.page_size, details=details)

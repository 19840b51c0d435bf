"""What the Cal.com and Retell resources share: the run's connection pool, per-tenant breakers,
the resilience settings ops can tune in the Launchpad, and record parsing that fails once."""

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from askpro_pipelines.models.errors import RecordError, Rejected, RejectedLog
from askpro_pipelines.redaction import install_log_redaction
from askpro_pipelines.resources.budget import bucket_path, budget_for, budget_settings
from askpro_pipelines.resources.details import DetailFetcher, details_for
from askpro_pipelines.resources.http import (
    CircuitBreaker,
    PayloadError,
    RequestStats,
    ResilientClient,
    RetrySettings,
)

MAX_REPORTED_RECORD_ERRORS = 10


def parse_records(
    raw: Any,
    parser: Callable[[Mapping[str, Any]], Any],
    *,
    tenant: str,
    api: str,
    entity: str,
    rejected: RejectedLog | None = None,
    scope: str = "",
) -> Iterator[Any]:
    """Validate every record.

    With a `rejected` log, a malformed record is logged there (redacted, for the quarantine) and the
    rest go on: one bad record stops only itself. Without one, fail once after the stream naming
    every malformed record (the previous warehouse slice then stays as it was).
    """
    problems: list[RecordError] = []
    for item in raw:
        try:
            if not isinstance(item, Mapping):
                raise RecordError(entity, None, f"expected an object, got {type(item).__name__}")
            yield parser(item)
        except RecordError as exc:
            if rejected is not None:
                rejected.add(Rejected.of(api, entity, exc.record_id, exc.message, item, scope))
            else:
                problems.append(exc)
    if problems:
        shown = "; ".join(str(p) for p in problems[:MAX_REPORTED_RECORD_ERRORS])
        more = len(problems) - MAX_REPORTED_RECORD_ERRORS
        suffix = f"; and {more} more" if more > 0 else ""
        raise PayloadError(
            f"{len(problems)} malformed record(s): {shown}{suffix}",
            tenant=tenant,
            api=api,
            entity=entity,
            record_id=problems[0].record_id,
        )


class ApiResource(ConfigurableResource):  # type: ignore[type-arg]  # not parametrised in Dagster's own usage
    """Base of the API resources: one httpx pool per run, one circuit breaker per tenant.

    Tenant API keys are not `EnvVar` fields: Dagster resolves an `EnvVar` for a field declared when
    the code location loads, but which variables hold keys is named per tenant in the tenants file,
    which is re-read on every use so tenants come and go without a reload. A field per tenant would
    tie the code location to one version of that file. So each client reads its tenant's key by
    the variable's name when it is made, and the key is registered with `askpro_pipelines.redaction`
    at once, so no log line, error or metadata value can carry it.
    """

    timeout_s: float = Field(default=30.0, description="Per-request timeout in seconds.")
    max_attempts: int = Field(default=5, description="Attempts per request (5xx, 408, 429, timeouts are retried).")
    backoff_base_s: float = Field(default=0.5, description="Base of the exponential backoff (full jitter).")
    max_backoff_s: float = Field(default=30.0, description="Cap of one backoff delay.")
    breaker_failure_threshold: int = Field(default=5, description="Consecutive failures that open a tenant's breaker.")
    breaker_cooldown_s: float = Field(default=30.0, description="Seconds an open breaker waits before a probe.")
    budget_wait_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest wait of one request for a token of its key's request budget; longer fails the request.",
    )

    _http: httpx.Client | None = PrivateAttr(default=None)
    _breakers: dict[str, CircuitBreaker] = PrivateAttr(default_factory=dict)
    _detail_fetchers: dict[tuple[str, int, int], DetailFetcher] = PrivateAttr(default_factory=dict)
    _clients: list[tuple[ResilientClient, RequestStats]] = PrivateAttr(default_factory=list)  # (client, flushed)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        install_log_redaction()
        self._http = httpx.Client(timeout=self.timeout_s)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        for fetcher in self._detail_fetchers.values():
            fetcher.close()
        self._detail_fetchers.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    def detail_fetcher(self, tenant: str, workers: int, processes: int) -> DetailFetcher:
        """One tenant's detail fetcher for the run (helper processes are started once and reused)."""
        key = (tenant, workers, processes)
        if key not in self._detail_fetchers:
            self._detail_fetchers[key] = details_for(processes, workers)
        return self._detail_fetchers[key]

    def resilient_client(
        self,
        *,
        tenant: str,
        api: str,
        base_url: str,
        key: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        requests_per_minute: float | None = None,
        request_burst: int | None = None,
    ) -> ResilientClient:
        """A client for one tenant's account on the run's pool, behind that tenant's breaker and
        the key's request budget (the tenants file's, else the environment's or the API's default)."""
        if self._http is None:  # used outside a Dagster run (scripts, benchmarks)
            install_log_redaction()
            self._http = httpx.Client(timeout=self.timeout_s)
        breaker = self._breakers.setdefault(
            tenant, CircuitBreaker(self.breaker_failure_threshold, self.breaker_cooldown_s)
        )
        client = ResilientClient(
            base_url=base_url,
            tenant=tenant,
            api=api,
            secrets=[key],
            headers=headers,
            params=params,
            timeout=self.timeout_s,
            retry=RetrySettings(
                max_attempts=self.max_attempts, base_delay_s=self.backoff_base_s, max_delay_s=self.max_backoff_s
            ),
            breaker=breaker,
            budget=budget_for(bucket_path(api, key), budget_settings(api, requests_per_minute, request_burst)),
            budget_wait_s=self.budget_wait_s,
            http=self._http,
        )
        self._clients.append((client, RequestStats()))
        return client

    def take_request_stats(self) -> dict[tuple[str, str], RequestStats]:
        """Per (tenant, API): what this resource's clients counted since the last call (requests of
        detail helpers included once their answers are in). Empty entries are left out."""
        taken: dict[tuple[str, str], RequestStats] = {}
        for index, (client, flushed) in enumerate(self._clients):
            now = copy.deepcopy(client.stats)
            delta = now.minus(flushed)
            self._clients[index] = (client, now)
            if delta.requests or delta.budget_waits:
                taken.setdefault((client.tenant, client.api), RequestStats()).merge(delta)
        return taken

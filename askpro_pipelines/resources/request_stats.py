"""Request statistics of one client: the figures behind the asset metadata and `api_health`.

Counters add up across threads (forks), detail helper processes (each answer carries its own) and
steps (the warehouse sums the rows each process wrote), so every figure must merge exactly.
Latency is therefore a fixed log-scale histogram, not a sample: buckets 4 % wide from 0.01 ms up,
stored sparsely (a run touches a few dozen), summed bucket by bucket; a percentile read from it is
within 2 % of the true one. A bounded reservoir would need the same size to be as close and could
not be merged without bias between processes that saw different numbers of requests.
"""

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["LATENCY_RATIO", "RequestStats", "is_rate_limit_header", "latency_bucket", "percentile_ms"]

LATENCY_RATIO = 1.04
_LOG_RATIO = math.log(LATENCY_RATIO)
_FLOOR_MS = 0.01


def latency_bucket(ms: float) -> int:
    """The histogram bucket of an answer time: [0.01·1.04^i, 0.01·1.04^(i+1)) ms."""
    return max(0, int(math.log(max(ms, _FLOOR_MS) / _FLOOR_MS) / _LOG_RATIO))


def _bucket_ms(index: int) -> float:
    """A bucket's representative time: the geometric middle of its bounds."""
    return float(_FLOOR_MS * LATENCY_RATIO ** (index + 0.5))


def percentile_ms(histogram: Mapping[int, int], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q <= 1) of the times in the histogram; None when empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return round(_bucket_ms(index), 3)
    return None  # unreachable: the counts add up to total


def is_rate_limit_header(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("x-ratelimit") or lowered in ("retry-after", "retry-after-ms")


def _as_int(value: str) -> int | None:
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        return None


def _min_optional(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max_optional(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class RequestStats:
    """Counters for one client, reported as asset metadata and written to `api_request_stats`."""

    requests: int = 0  # HTTP attempts actually sent
    retries: int = 0
    rate_limited: int = 0  # 429s seen
    client_errors: int = 0  # 4xx other than 429
    server_errors: int = 0
    transport_errors: int = 0  # timeouts + connection errors
    breaker_opens: int = 0  # times this client's failures opened the tenant's breaker
    budget_waits: int = 0  # attempts that waited for a token of the key's request budget
    latency: dict[int, int] = field(default_factory=dict)  # bucket -> answers (latency_bucket)
    min_remaining: int | None = None  # lowest X-RateLimit-Remaining* seen
    rate_limit: int | None = None  # the X-RateLimit-Limit* that went with it
    first_at: float | None = None  # wall clock of the first attempt
    last_at: float | None = None  # wall clock of the last answer
    rate_limit_headers: dict[str, str] = field(default_factory=dict)  # last seen value per header

    def note_answer(self, started: float, elapsed_s: float) -> None:
        """One attempt that got an HTTP answer after `elapsed_s` (`started`: wall clock)."""
        index = latency_bucket(elapsed_s * 1000.0)
        self.latency[index] = self.latency.get(index, 0) + 1
        self.note_span(started, started + elapsed_s)

    def note_span(self, started: float, ended: float) -> None:
        self.first_at = _min_optional(self.first_at, started)
        self.last_at = _max_optional(self.last_at, ended)

    def note_plain(self, latency_ms: float) -> None:
        """One request answered at once, as a helper process reports it (see detail_worker)."""
        now = time.time()
        self.requests += 1
        index = latency_bucket(latency_ms)
        self.latency[index] = self.latency.get(index, 0) + 1
        self.note_span(now - latency_ms / 1000.0, now)

    def note_headers(self, headers: Mapping[str, str]) -> None:
        """Keep one answer's rate-limit headers (lower-case names); the lowest remaining and the
        limit with the same suffix (`-default` on Cal.com v2) are kept as numbers."""
        self.rate_limit_headers.update(headers)
        for name, value in headers.items():
            if not name.startswith("x-ratelimit-remaining"):
                continue
            remaining = _as_int(value)
            if remaining is None or (self.min_remaining is not None and remaining > self.min_remaining):
                continue
            self.min_remaining = remaining
            self.rate_limit = _as_int(headers.get("x-ratelimit-limit" + name[len("x-ratelimit-remaining") :], ""))

    def plain_latency_ms(self) -> float | None:
        """For one request answered at once with nothing else to report, its time; else None."""
        if (
            self.requests != 1
            or self.retries
            or self.rate_limited
            or self.client_errors
            or self.server_errors
            or self.transport_errors
            or self.breaker_opens
            or self.budget_waits
            or self.rate_limit_headers
            or sum(self.latency.values()) != 1
            or self.first_at is None
            or self.last_at is None
        ):
            return None
        return (self.last_at - self.first_at) * 1000.0

    def merge(self, other: "RequestStats") -> None:
        """Add a forked client's counters (concurrent detail requests) into these."""
        self.requests += other.requests
        self.retries += other.retries
        self.rate_limited += other.rate_limited
        self.client_errors += other.client_errors
        self.server_errors += other.server_errors
        self.transport_errors += other.transport_errors
        self.breaker_opens += other.breaker_opens
        self.budget_waits += other.budget_waits
        for index, count in other.latency.items():
            self.latency[index] = self.latency.get(index, 0) + count
        if other.min_remaining is not None and (self.min_remaining is None or other.min_remaining < self.min_remaining):
            self.min_remaining = other.min_remaining
            self.rate_limit = other.rate_limit
        self.first_at = _min_optional(self.first_at, other.first_at)
        self.last_at = _max_optional(self.last_at, other.last_at)
        self.rate_limit_headers.update(other.rate_limit_headers)

    def minus(self, earlier: "RequestStats") -> "RequestStats":
        """What happened since `earlier` (a copy of these counters taken before): the counts and
        histogram differ; extremes (lowest remaining, times) are kept whole."""
        return RequestStats(
            requests=self.requests - earlier.requests,
            retries=self.retries - earlier.retries,
            rate_limited=self.rate_limited - earlier.rate_limited,
            client_errors=self.client_errors - earlier.client_errors,
            server_errors=self.server_errors - earlier.server_errors,
            transport_errors=self.transport_errors - earlier.transport_errors,
            breaker_opens=self.breaker_opens - earlier.breaker_opens,
            budget_waits=self.budget_waits - earlier.budget_waits,
            latency={
                i: c - earlier.latency.get(i, 0) for i, c in self.latency.items() if c != earlier.latency.get(i, 0)
            },
            min_remaining=self.min_remaining,
            rate_limit=self.rate_limit,
            first_at=self.first_at,
            last_at=self.last_at,
        )

    def as_metadata(self, prefix: str) -> dict[str, int | str]:
        """Flat metadata, e.g. {"calcom/requests": 12, "calcom/ratelimit/x-ratelimit-remaining": "97"}."""
        metadata: dict[str, int | str] = {
            f"{prefix}/requests": self.requests,
            f"{prefix}/retries": self.retries,
            f"{prefix}/rate_limited": self.rate_limited,
            f"{prefix}/server_errors": self.server_errors,
            f"{prefix}/transport_errors": self.transport_errors,
        }
        for name, value in sorted(self.rate_limit_headers.items()):
            metadata[f"{prefix}/ratelimit/{name}"] = value
        return metadata

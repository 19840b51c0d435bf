"""The per-key request budget: a token bucket per tenant API key, shared through a small file.

A Cal.com API key allows 120 requests a minute, and accounts have been locked after bursts; a pool
of concurrent steps does not bound the request rate of one key, because one step sends many
requests and several runs may use the same key at once. So every attempt first takes a token from
the key's bucket: `requests_per_minute` tokens a minute, at most `burst` saved up. The bucket's
state (tokens, time of the last refill) lives in a 16-byte file named after a hash of the key (never
the key itself), locked with flock for each take, so every thread, every detail helper process and
every concurrent run on the machine draws from the one bucket. A take that cannot get a token
within its wait raises `BudgetExhausted`; the client turns it into an ApiError naming tenant, API
and entity.
"""

import fcntl
import hashlib
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BUDGET_DIR_ENV",
    "BudgetExhausted",
    "BudgetSettings",
    "RequestBudget",
    "budget_dir",
    "budget_for",
    "budget_settings",
]

BUDGET_DIR_ENV = "ASKPRO_BUDGET_DIR"
# Defaults per API: Cal.com keys allow 120 requests a minute (reference §3.3), so 100 with a burst of
# 10 keeps a key under it in any minute. Retell publishes no per-minute limit (reference §5: only
# concurrent calls); its budget (500 a second) guards against a runaway loop without slowing the
# transcript requests of a large tenant's backfill.
DEFAULT_BUDGETS = {"calcom": (100.0, 10), "retell": (30000.0, 500)}
RATE_ENV = "ASKPRO_{api}_REQUESTS_PER_MINUTE"
BURST_ENV = "ASKPRO_{api}_REQUEST_BURST"
_STATE = struct.Struct("=dd")  # tokens, monotonic time of the last refill (0: never used)


class BudgetExhausted(Exception):
    """No token came within the wait: the key's budget is used up by this and other processes."""

    def __init__(self, waited_s: float, needed_s: float):
        self.waited_s = waited_s
        self.needed_s = needed_s
        super().__init__(f"no request token within {waited_s:.1f} s (next in {needed_s:.1f} s)")


@dataclass(frozen=True)
class BudgetSettings:
    """One key's budget: the sustained rate and how many requests may go out back to back."""

    requests_per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")


def budget_settings(api: str, requests_per_minute: float | None, burst: int | None) -> BudgetSettings:
    """A key's budget: the tenants file's values, else ASKPRO_<API>_REQUESTS_PER_MINUTE and
    ASKPRO_<API>_REQUEST_BURST, else the API's default."""
    default_rate, default_burst = DEFAULT_BUDGETS[api]
    rate_env = os.environ.get(RATE_ENV.format(api=api.upper()))
    burst_env = os.environ.get(BURST_ENV.format(api=api.upper()))
    rate = requests_per_minute or (float(rate_env) if rate_env else default_rate)
    return BudgetSettings(rate, burst or (int(burst_env) if burst_env else default_burst))


def budget_dir() -> Path:
    """Where the buckets live: ASKPRO_BUDGET_DIR, else one directory per user in the temp dir, so
    runs started from any working directory on this machine share them."""
    configured = os.environ.get(BUDGET_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"askpro-budget-{os.getuid()}"


def bucket_path(api: str, key: str, directory: Path | None = None) -> Path:
    """The bucket file of one API key: named by a hash, so the key never reaches the file system."""
    digest = hashlib.sha256(f"askpro-budget:{api}:{key}".encode()).hexdigest()[:32]
    return (directory or budget_dir()) / f"{api}-{digest}.bucket"


class RequestBudget:
    """A token bucket in a file; thread-safe, and shared with every process that opens the file.

    The clock is CLOCK_MONOTONIC, one clock for all processes on the machine (as for the breaker).
    `take` returns whether it had to wait; `on_grant` (tests) sees the clock at each grant, read
    while the bucket is locked.
    """

    def __init__(
        self,
        path: Path | str,
        settings: BudgetSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_grant: Callable[[float], None] | None = None,
    ):
        self.path = Path(path)
        self.settings = settings
        self._rate_per_s = settings.requests_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._on_grant = on_grant
        self._lock = threading.Lock()  # flock is per open file: threads of one process queue here
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def take(self, wait_s: float) -> bool:
        """Take one token, waiting up to `wait_s` for it; True when it had to wait."""
        started = self._clock()
        waited = False
        while True:
            needed = self._try_take()
            if needed <= 0:
                return waited
            spent = self._clock() - started
            if spent + needed > wait_s:
                raise BudgetExhausted(wait_s, needed)
            waited = True
            self._sleep(needed)

    def _try_take(self) -> float:
        """Take a token if one is there (0.0), else the seconds until the next one."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(self._fd, _STATE.size, 0)
                now = self._clock()
                burst = float(self.settings.burst)
                if len(raw) == _STATE.size:
                    tokens, last = (float(v) for v in _STATE.unpack(raw))
                else:
                    tokens, last = burst, 0.0
                if last <= 0.0 or now < last:  # new, or written before a reboot: start full
                    tokens, last = burst, now
                tokens = min(burst, tokens + (now - last) * self._rate_per_s)
                if tokens >= 1.0:
                    os.pwrite(self._fd, _STATE.pack(tokens - 1.0, now), 0)
                    if self._on_grant is not None:
                        self._on_grant(now)
                    return 0.0
                os.pwrite(self._fd, _STATE.pack(tokens, now), 0)
                return (1.0 - tokens) / self._rate_per_s
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


_OPEN: dict[tuple[Path, BudgetSettings], RequestBudget] = {}
_OPEN_LOCK = threading.Lock()


def budget_for(path: Path | str, settings: BudgetSettings) -> RequestBudget:
    """The process's one RequestBudget for a bucket file and settings (opened once, kept open)."""
    key = (Path(path), settings)
    with _OPEN_LOCK:
        budget = _OPEN.get(key)
        if budget is None:
            budget = _OPEN[key] = RequestBudget(path, settings)
        return budget

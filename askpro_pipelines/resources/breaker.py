"""The circuit breaker of one tenant's API account: fails fast while the upstream is down.

One per tenant and API for the whole run, shared by the run's client, its forks on threads and the
detail helper processes (its state can live in shared memory), so the threshold means what it says.
"""

import fcntl
import mmap
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

__all__ = ["BreakerOpen", "CircuitBreaker"]


class BreakerOpen(Exception):
    """Raised by `CircuitBreaker.before_request`; the client turns it into CircuitOpenError."""

    def __init__(self, consecutive_failures: int, retry_in_s: float):
        self.consecutive_failures = consecutive_failures
        self.retry_in_s = retry_in_s
        super().__init__(
            f"circuit open after {consecutive_failures} consecutive failures; next probe in {retry_in_s:.1f} s"
        )


class CircuitBreaker:
    """Per tenant and API: opens after `failure_threshold` consecutive failed attempts (5xx, 408,
    timeouts, connection errors; NOT 429 and NOT other 4xx), fails fast while open, lets one probe
    through after `cooldown_s` (half-open); probe success closes it, probe failure re-opens it.

    Any other HTTP answer counts as success: it proves the upstream is up, even if it said no.
    Thread-safe: clients forked for concurrent detail requests share one breaker, and while the
    half-open probe is in flight every other request is refused. `share()` moves the state into
    shared memory that helper processes attach to (`shared_fd`), so a tenant has one breaker
    across all of them: it opens at its threshold, not at the threshold of each process.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        shared_fd: int | None = None,
    ):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state: Literal["closed", "open", "half_open"] = "closed"
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()
        self._shared: _SharedBreakerState | None = None if shared_fd is None else _SharedBreakerState(shared_fd)

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        """Reports half_open as soon as the cooldown has elapsed, i.e. when the next request would probe."""
        with self._critical():
            if self._state == "open" and self._cooldown_left() <= 0:
                return "half_open"
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._critical():
            return self._consecutive_failures

    def retry_in_s(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        with self._critical():
            return self._cooldown_left() if self._state == "open" else 0.0

    def share(self) -> int:
        """The file descriptor of this breaker's state in shared memory (created on first call; the
        state so far moves there). Pass it to a helper process, which attaches with `shared_fd`."""
        with self._lock:
            if self._shared is None:
                if self._clock is not time.monotonic:  # other processes read the same clock
                    raise ValueError("only a breaker on time.monotonic can be shared")
                shared = _SharedBreakerState(None)
                shared.store(self._state, self._probing, self._consecutive_failures, self._opened_at)
                self._shared = shared
            return self._shared.fd

    def before_request(self) -> None:
        """Allow the attempt, or raise BreakerOpen while the breaker refuses traffic."""
        if self._shared is not None and self._shared.closed():  # no lock for the usual case
            return
        with self._critical():
            if self._state == "closed":
                return
            if self._state == "open":
                left = self._cooldown_left()
                if left > 0:
                    raise BreakerOpen(self._consecutive_failures, left)
                self._state = "half_open"
            elif self._probing:  # half-open: one probe at a time decides
                raise BreakerOpen(self._consecutive_failures, 0.0)
            self._probing = True

    def record_success(self) -> None:
        if self._shared is not None and self._shared.quiet():  # nothing to reset: no lock
            return
        with self._critical():
            self._state = "closed"
            self._consecutive_failures = 0
            self._probing = False

    def record_failure(self) -> bool:
        """Count a failed attempt; True when this failure opened the breaker (it was not open)."""
        with self._critical():
            self._consecutive_failures += 1
            self._probing = False
            if self._state == "half_open" or self._consecutive_failures >= self.failure_threshold:
                opened = self._state != "open"
                self._state = "open"
                self._opened_at = self._clock()
                return opened
            return False

    def _cooldown_left(self) -> float:
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    @contextmanager
    def _critical(self) -> Iterator[None]:
        """The thread lock; for a shared breaker also the lock on the shared state, which is
        loaded into the attributes on entry and written back on exit."""
        with self._lock:
            shared = self._shared
            if shared is None:
                yield
                return
            with shared.locked():
                self._state, self._probing, self._consecutive_failures, self._opened_at = shared.load()
                try:
                    yield
                finally:
                    shared.store(self._state, self._probing, self._consecutive_failures, self._opened_at)


_STATES: tuple[Literal["closed", "open", "half_open"], ...] = ("closed", "open", "half_open")


class _SharedBreakerState:
    """A breaker's state in an anonymous shared-memory file (memfd), guarded by a POSIX record lock
    so several processes update it in turn. CLOCK_MONOTONIC is one clock for every process."""

    LAYOUT = struct.Struct("=BBqd")  # state, probing, consecutive failures, opened at

    def __init__(self, fd: int | None):
        if fd is None:
            fd = os.memfd_create("askpro-breaker") if hasattr(os, "memfd_create") else _anonymous_file()
            os.ftruncate(fd, self.LAYOUT.size)
        self.fd = fd
        self.memory = mmap.mmap(fd, self.LAYOUT.size)

    @contextmanager
    def locked(self) -> Iterator[None]:
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    def closed(self) -> bool:
        """Closed, read without the lock: a request let through while another process opens the
        breaker is one more request in flight, as on threads."""
        return self.memory[0] == 0

    def quiet(self) -> bool:
        """Closed, no failures, no probe: what a success would leave unchanged (read without the lock)."""
        state, probing, failures, _ = self.LAYOUT.unpack_from(self.memory)
        return state == 0 and not probing and failures == 0

    def load(self) -> tuple[Literal["closed", "open", "half_open"], bool, int, float]:
        state, probing, failures, opened_at = self.LAYOUT.unpack_from(self.memory)
        return _STATES[state], bool(probing), failures, opened_at

    def store(self, state: str, probing: bool, failures: int, opened_at: float) -> None:
        self.LAYOUT.pack_into(self.memory, 0, _STATES.index(state), probing, failures, opened_at)


def _anonymous_file() -> int:
    """An unlinked temporary file's descriptor, where memfd is missing (macOS)."""
    with tempfile.TemporaryFile() as handle:
        return os.dup(handle.fileno())

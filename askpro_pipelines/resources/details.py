"""Detail requests: many independent GETs (a call's transcript, an agent's versions, an LLM's prompt).

Two ways to run them, both answering in request order. A batch is `submit`ted and `collect`ed later,
so a caller can queue the next batch while it still works on the previous one (`fetch` does both):

- `ThreadedDetails`: threads of this process. Simple, but every byte of HTTP work holds this
  interpreter's GIL, so it cannot overlap with the parsing and writing the asset does.
- `ProcessDetails`: helper processes (`python -m askpro_pipelines.resources.detail_worker`) run the
  same resilient client on their own threads and pipe the bodies back, so HTTP runs on other cores
  (figures in benchmarks/RESULTS.md).

Both bound the requests in flight (sent, answer not yet taken by the caller) to `ahead`; the rest of a
submitted batch waits here unsent and goes out as answers are taken. So nothing can fill up while
the caller is busy elsewhere: a 30-day backfill once hung for good when answers queued up behind
the next day's requests. Every wait has a deadline that ends the step with an ApiError naming
tenant, entity and record. This module does not import Dagster, so a helper starts in ~0.15 s.
"""

import abc
import fcntl
import itertools
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import httpx

from askpro_pipelines.resources.http import ApiError, RawBody, RequestStats, ResilientClient, logger

WORKER_MODULE = "askpro_pipelines.resources.detail_worker"
_LENGTH = struct.Struct("!Q")

# Requests in flight per fetcher (sent, answer not yet taken): enough to keep the helpers busy while
# the caller writes a day (~0.5 s of helper work), small enough for memory (~5 MB of transcripts).
AHEAD = 1024

# Until a batch this large comes, batches run on threads here: starting the helpers (~0.2 s of CPU
# each) costs more than it saves for a small tenant's few dozen requests.
SMALL_BATCH = 64


@dataclass(frozen=True)
class DetailRequest:
    """One GET for a record's details (a call's transcript, an agent's versions, an LLM's prompt)."""

    path: str
    entity: str
    record_id: str | None = None
    params: Mapping[str, Any] | None = None


def request_wait_s(http: ResilientClient) -> float:
    """How long one request may take at worst with the client's retries: the default deadline of
    every wait for an answer (a wait that exceeds it is a hang, not a slow API)."""
    timeout = http._timeout
    if isinstance(timeout, httpx.Timeout):
        timeout = sum(t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t)
    pause = max(http.retry.max_delay_s, http.retry.max_retry_after_s)
    return http.retry.max_attempts * (float(timeout or 0) + pause) + 30.0


def _no_answer(http: ResilientClient, request: DetailRequest, waited_s: float, what: str) -> ApiError:
    return ApiError(f"{what} for {waited_s:.0f} s; the detail requests were abandoned", tenant=http.tenant,
                    api=http.api, entity=request.entity, record_id=request.record_id)  # fmt: skip


def iter_all(
    http: ResilientClient,
    requests: Sequence[DetailRequest],
    workers: int,
    ahead: int = AHEAD,
    wait_s: float | None = None,
) -> Iterator[Any]:
    """GET every request, `workers` at a time on threads of this process, answers in request order.
    The first error is raised. The first `ahead` requests are sent at once, one more per answer taken.

    Each thread uses a fork of the client (same pool, breaker and secrets); their counters are
    merged back when the iteration ends, also when it is abandoned early.
    """
    if workers <= 1 or len(requests) <= 1:
        return (http.get_json(r.path, entity=r.entity, record_id=r.record_id, params=r.params) for r in requests)
    wait = wait_s if wait_s is not None else request_wait_s(http)
    local = threading.local()
    forks: list[ResilientClient] = []
    forks_lock = threading.Lock()

    def fetch(request: DetailRequest) -> Any:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = http.fork()
            with forks_lock:
                forks.append(client)
        return client.get_json(request.path, entity=request.entity, record_id=request.record_id, params=request.params)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{http.api}-details")
    unsent = iter(requests)
    futures: deque[Any] = deque()

    def top_up() -> None:
        while len(futures) < max(1, ahead) and (request := next(unsent, None)) is not None:
            futures.append(pool.submit(fetch, request))

    top_up()

    def in_order() -> Iterator[Any]:
        finished = False
        try:
            for request in requests:
                try:
                    value = futures.popleft().result(timeout=wait)
                except FutureTimeout:
                    raise _no_answer(http, request, wait, "no answer") from None
                top_up()
                yield value
            finished = True
        finally:
            pool.shutdown(wait=finished, cancel_futures=True)  # a hung request is not waited for
            with forks_lock:
                for fork in forks:
                    http.stats.merge(fork.stats)

    return in_order()


class DetailFetcher(abc.ABC):
    """How a client GETs many independent records (a call's transcript, an LLM's prompt, ...)."""

    @abc.abstractmethod
    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Any:
        """Queue the batch (its first requests go out at once); returns a ticket for `collect`.
        Collect tickets in the order submitted."""

    @abc.abstractmethod
    def collect(self, ticket: Any) -> Iterator[Any]:
        """The decoded answers in request order; the first failure raises (an ApiError)."""

    def fetch(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]:
        """Submit and collect one batch."""
        return self.collect(self.submit(http, requests))

    def close(self) -> None:  # noqa: B027 - an optional hook: a fetcher that holds nothing keeps the no-op
        """Release what the fetcher holds (helper processes)."""


@dataclass
class ThreadedDetails(DetailFetcher):
    """Detail requests on `workers` threads of this process."""

    workers: int
    ahead: int = AHEAD
    wait_s: float | None = None

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]:
        return iter_all(http, requests, self.workers, self.ahead, self.wait_s)

    def collect(self, ticket: Iterator[Any]) -> Iterator[Any]:
        return ticket


# ---- the helper process ---------------------------------------------------------------------
# Frames both ways: 8-byte length, then a pickle. Parent → helper: the client settings once, then
# lists of (seq, DetailRequest). Helper → parent: ("ok", seq, value, stats) or ("error", seq, ApiError,
# stats) per request as it completes (stats a float: one request answered in that many ms, nothing else to count), and ("log", level, message) for the client's warnings
# (retries). Pickle is safe here: both ends are this package.


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def send_frame(fd: int, value: Any, timeout_s: float) -> None:
    """Write a frame to a non-blocking pipe; TimeoutError when the reader takes none of it for
    `timeout_s`, an OSError (BrokenPipeError) when the reader is gone."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    deadline = time.monotonic() + timeout_s
    while view:
        try:
            view = view[os.write(fd, view) :]
            continue
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            raise TimeoutError("the pipe to the detail request process stayed full")


def read_raw_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's bytes, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame, or None at the end of the stream."""
    data = read_raw_frame(stream)
    return None if data is None else pickle.loads(data)


def client_settings(http: ResilientClient) -> dict[str, Any]:
    """What a helper needs to rebuild `http` (secrets included: they travel over the pipe only), and
    the file descriptor of the tenant's breaker in shared memory: one breaker across the processes."""
    return {
        "base_url": http.base_url,
        "tenant": http.tenant,
        "api": http.api,
        "secrets": list(http._secrets),
        "headers": dict(http._default_headers),
        "params": dict(http._default_params),
        "timeout": http._timeout,
        "retry": asdict(http.retry),
        "breaker": {
            "failure_threshold": http.breaker.failure_threshold,
            "cooldown_s": http.breaker.cooldown_s,
            "shared_fd": http.breaker.share(),
        },  # fmt: skip
        "budget": None
        if http.budget is None
        else {
            "path": str(http.budget.path),
            "settings": asdict(http.budget.settings),
        },  # fmt: skip
        "budget_wait_s": http.budget_wait_s,
    }


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close the helper's stdin (it exits at end of input) and reap it; kill it if it hangs."""
    if process.poll() is None:
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for stream in (process.stdin, process.stdout):
        if stream is None:
            continue
        try:
            stream.close()
        except OSError:
            pass


ANY = -1  # the consumer waits for any answer (room to send more)


class _Wake(threading.Condition):
    """Wakes the consumer, only for the answer it waits for (`awaiting`, a seq or ANY)."""

    awaiting: int | None = None


def _count(http: ResilientClient, stats: RequestStats | float) -> None:
    """Add one answer's counters to the client's (a float: one request answered in that many ms)."""
    if isinstance(stats, RequestStats):
        http.stats.merge(stats)
    else:
        http.stats.note_plain(stats)


class _Worker:
    """One running helper and the thread that reads its answers as they come (never blocking: at
    most `ahead` answers can be on their way), waking the fetcher's consumer."""

    def __init__(self, python: str, settings: dict[str, Any], threads: int, wake: "_Wake",
                 pipe_bytes: int | None = None):  # fmt: skip
        self.process = subprocess.Popen(
            [python, "-m", WORKER_MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            pass_fds=(settings["breaker"]["shared_fd"],),
        )  # fmt: skip
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.stdout: IO[bytes] = self.process.stdout
        if pipe_bytes:  # tests: a small pipe makes a full pipe easy to reach
            for stream in (self.process.stdin, self.process.stdout):
                fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, pipe_bytes)
        self.finalizer = weakref.finalize(self, _stop, self.process)
        self.fd = self.process.stdin.fileno()  # written with os.write (send_frame), never through the buffer
        os.set_blocking(self.fd, False)
        self.wake = wake
        self.answers: dict[int, tuple[Any, ...]] = {}  # seq -> frame: the reader adds, the consumer pops
        self.in_flight = 0  # requests sent and not taken (the consumer's count)
        self.ended = False
        self.last_frame = time.monotonic()
        self.send({**settings, "workers": threads}, 30.0)
        self.reader = threading.Thread(target=self._read, name="detail-process-reader", daemon=True)
        self.reader.start()

    def send(self, value: Any, timeout_s: float) -> None:
        send_frame(self.fd, value, timeout_s)

    def _read(self) -> None:
        stream = self.stdout
        try:
            while (data := read_raw_frame(stream)) is not None:
                frame = pickle.loads(data)
                self.last_frame = time.monotonic()
                if frame[0] == "log":
                    logger.log(frame[1], frame[2])
                    continue
                self.answers[frame[1]] = frame
                if self.wake.awaiting in (frame[1], ANY):  # the consumer sets it under the lock
                    with self.wake:
                        self.wake.notify_all()
        except Exception:  # the pipe was closed under us (the helper is being stopped), or garbled
            pass
        with self.wake:
            self.ended = True
            self.wake.notify_all()

    def stop(self, *, kill: bool = False) -> None:
        """End the helper: at the end of its input when idle; `kill` when its work is abandoned."""
        if kill and self.process.poll() is None:
            self.process.kill()
        self.finalizer()  # runs _stop once
        self.reader.join(timeout=5)


@dataclass(eq=False)  # identity: a ticket is one submitted batch
class _Ticket:
    http: ResilientClient
    requests: list[DetailRequest]
    seqs: list[int | None] = field(default_factory=list)  # per request, once sent
    sent: int = 0  # requests[:sent] went out
    collected: bool = False
    local: Iterator[Any] | None = None  # a small batch answered by threads of this process


class ProcessDetails(DetailFetcher):
    """Detail requests in `helpers` helper processes per tenant and API, started by the first batch of
    at least `small_batch` requests (smaller ones before it run on threads here) and kept for the
    run. The resource closes them at teardown; they exit with the run's process at the latest.

    `workers` requests run at once, split over the helpers; at most `ahead` are in flight (sent, answer
    not taken), the rest wait here in submission order. The helpers share the tenant's breaker (shared
    memory), and each answer carries its request counters, added to the calling client's. A batch not
    collected before a later one is abandoned (its answers are dropped; collecting it later sends it
    again), as is the rest of a batch whose consumer stopped. No wait lasts longer than `wait_s`
    without a word from the helpers (default: one request's worst case with retries).
    """

    def __init__(self, workers: int, helpers: int = 2, python: str = sys.executable, small_batch: int = SMALL_BATCH,
                 ahead: int = AHEAD, wait_s: float | None = None, pipe_bytes: int | None = None):  # fmt: skip
        self.workers = max(1, workers)
        self.helpers = max(1, min(helpers, self.workers))
        self.small_batch = small_batch
        self.python = python
        self.ahead = max(1, ahead)
        self.wait_s = wait_s
        self.pipe_bytes = pipe_bytes
        self._wake = _Wake()
        self._pool: list[_Worker] = []
        self._settings: dict[str, Any] | None = None
        self._tickets: deque[_Ticket] = deque()  # submitted, not finished, in order
        self._in_flight: dict[int, tuple[_Ticket, int, _Worker]] = {}  # seq -> (ticket, index, helper)
        self._dropped: set[int] = set()  # in flight, but nobody wants the answer any more
        self._seq = itertools.count()

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> _Ticket:
        ticket = _Ticket(http, list(requests))
        if not self._pool and len(ticket.requests) < self.small_batch:
            ticket.local = iter_all(http, ticket.requests, self.workers, self.ahead, self.wait_s)
        elif ticket.requests:
            self._queue(ticket)
        return ticket

    def collect(self, ticket: _Ticket) -> Iterator[Any]:
        if ticket.local is not None:
            yield from ticket.local
            return
        if not ticket.requests or ticket.collected:
            return
        if ticket not in self._tickets:  # dropped since (helpers ended, or collected out of order)
            self._queue(ticket)
        while self._tickets[0] is not ticket:  # submitted earlier, never collected: abandoned
            self._drop(self._tickets[0])
        finished = False
        try:
            for index, request in enumerate(ticket.requests):
                kind, _, value, stats = self._answer(ticket, index)
                _count(ticket.http, stats)
                if kind == "error":
                    raise value
                if isinstance(value, RawBody):  # decoded here, where it is used: the helpers' CPU is the limit
                    value = ticket.http.decode_body(value, method="GET", path=request.path, entity=request.entity,
                                                    record_id=request.record_id)  # fmt: skip
                yield value
            finished = True
        finally:
            ticket.collected = finished
            if ticket in self._tickets:
                self._drop(ticket)

    # -- scheduling (all on the consumer's thread; the readers only fill `answers`) --

    def _queue(self, ticket: _Ticket) -> None:
        try:
            self._start(ticket.http)
        except (OSError, TimeoutError) as exc:  # could not start a helper or hand it the settings
            self.close(kill=True)
            request = ticket.requests[0]
            raise ApiError(f"could not start the detail request processes ({type(exc).__name__})",
                           tenant=ticket.http.tenant, api=ticket.http.api, entity=request.entity,
                           record_id=request.record_id) from None  # fmt: skip
        ticket.seqs, ticket.sent, ticket.collected = [None] * len(ticket.requests), 0, False
        self._tickets.append(ticket)
        self._send(minimum=1)

    def _send(self, minimum: int) -> None:
        """Send queued requests while fewer than `ahead` are in flight, at least `minimum` at a time
        (one frame per helper, not one per request)."""
        room = self.ahead - len(self._in_flight)
        if room < minimum or not self._pool:
            return
        frames: dict[_Worker, list[Any]] = {}
        for ticket in self._tickets:
            while ticket.sent < len(ticket.requests) and room > 0:
                worker = min(self._pool, key=lambda w: w.in_flight)
                seq = next(self._seq)
                index = ticket.sent
                ticket.seqs[index], ticket.sent = seq, index + 1
                self._in_flight[seq] = (ticket, index, worker)
                worker.in_flight += 1
                frames.setdefault(worker, []).append((seq, ticket.requests[index]))
                room -= 1
        for worker, batch in frames.items():
            ticket, index, _ = self._in_flight[batch[0][0]]
            try:
                worker.send(batch, self._wait(ticket.http))
            except TimeoutError:
                self._fail(ticket, index, "the detail request process took no requests")
            except OSError:
                self._died(ticket, index)

    def _answer(self, ticket: _Ticket, index: int) -> tuple[Any, ...]:
        """The frame answering request `index` of the ticket; waits for it (sending what is queued)."""
        wait, started = self._wait(ticket.http), time.monotonic()
        while True:
            self._send(minimum=1 if ticket.seqs[index] is None else max(1, self.ahead // 16))
            seq = ticket.seqs[index]
            if seq is not None and (frame := (worker := self._in_flight[seq][2]).answers.pop(seq, None)):
                break  # the common case: it is there already
            if self._dropped and self._take_dropped():
                continue  # room for more requests
            with self._wake:  # set what we wait for, look once more, then wait: no wake-up is lost
                self._wake.awaiting = ANY if seq is None else seq
                frame = None if seq is None else worker.answers.pop(seq, None)
                ended = any(w.ended for w in self._pool)
                silent = time.monotonic() - max(started, *(w.last_frame for w in self._pool))
                if frame is None and not ended and silent < wait:
                    self._wake.wait(min(wait - silent, 1.0))
                self._wake.awaiting = None
            if frame is not None:
                break
            if ended:
                self._died(ticket, index)
            if silent >= wait:
                self._fail(ticket, index, "no answer from the detail request processes")
        assert seq is not None  # an answer arrived for it
        del self._in_flight[seq]
        worker.in_flight -= 1
        return frame

    def _take_dropped(self) -> bool:
        """Discard the answers that came for dropped requests (their counters still count)."""
        freed = False
        for seq in [s for s in self._dropped if s in self._in_flight[s][2].answers]:
            ticket, _, worker = self._in_flight.pop(seq)
            _count(ticket.http, worker.answers.pop(seq)[3])
            worker.in_flight -= 1
            self._dropped.discard(seq)
            freed = True
        return freed

    def _drop(self, ticket: _Ticket) -> None:
        """Abandon a ticket: its queued requests are not sent, its answers in flight are discarded."""
        self._tickets.remove(ticket)
        self._dropped.update(seq for seq in ticket.seqs if seq in self._in_flight)

    def _wait(self, http: ResilientClient) -> float:
        return self.wait_s if self.wait_s is not None else request_wait_s(http)

    # -- the helpers --

    def _start(self, http: ResilientClient) -> None:
        """Helpers for this client's settings: the running ones, or new ones (started once per run)."""
        settings = client_settings(http)
        if self._pool and settings != self._settings:
            self.close(kill=True)
        if not self._pool:
            share, extra = divmod(self.workers, self.helpers)  # `workers` in flight in all, exactly
            self._pool = [
                _Worker(self.python, settings, share + (k < extra), self._wake, self.pipe_bytes)
                for k in range(self.helpers)
            ]
            self._settings = settings

    def _fail(self, ticket: _Ticket, index: int, what: str) -> None:
        self.close(kill=True)
        raise _no_answer(ticket.http, ticket.requests[index], self._wait(ticket.http), what)

    def _died(self, ticket: _Ticket, index: int) -> None:
        codes = sorted({w.process.poll() for w in self._pool if w.ended or w.process.poll() is not None}, key=str)
        self.close(kill=True)
        request = ticket.requests[index]
        raise ApiError(f"the detail request process ended unexpectedly (exit code {', '.join(map(str, codes))})",
                       tenant=ticket.http.tenant, api=ticket.http.api, entity=request.entity,
                       record_id=request.record_id)  # fmt: skip

    def close(self, *, kill: bool = False) -> None:
        """Stop the helpers; batches still queued are dropped (collecting one sends it again)."""
        kill = kill or bool(self._in_flight)
        for worker in self._pool:
            worker.stop(kill=kill)
        self._pool, self._settings = [], None
        self._tickets.clear()
        self._in_flight.clear()
        self._dropped.clear()


def details_for(processes: int, workers: int) -> DetailFetcher:
    """The fetcher a resource hands its clients: threads here (0 processes), or helper processes."""
    return ProcessDetails(workers, helpers=processes) if processes > 0 else ThreadedDetails(workers)

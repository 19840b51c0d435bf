"""Detail requests: many independent GETs (a call's transcript, an agent's versions, an LLM's prompt).

Two ways to run them, both streaming the decoded answers back in request order. A batch is
`submit`ted (its requests start at once) and `collect`ed later, so a caller can have the next batch
fetched while it still works on the previous one (`fetch` does both at once):

- `ThreadedDetails`: threads of this process. Simple, but every byte of HTTP work (httpx builds
  the request, parses the response, decodes the JSON) holds this interpreter's GIL, so it cannot
  overlap with the parsing and writing the asset does with the answers.
- `ProcessDetails`: helper processes (`python -m askpro_pipelines.resources.detail_worker`) run
  the same resilient client on their own threads and pipe the answers back. HTTP and parsing then
  run on several cores. On the benchmark tenant the plain HTTP client work alone was
  ~0.4 ms of CPU per request, about as much as everything the sync does with the answer
  (benchmarks/RESULTS.md).

This module does not import Dagster, so the helper process starts in ~0.15 s.
"""

import pickle
import queue
import struct
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import IO, Any, NoReturn

from askpro_pipelines.resources.http import ApiError, RawBody, RequestStats, ResilientClient, logger

WORKER_MODULE = "askpro_pipelines.resources.detail_worker"
_LENGTH = struct.Struct("!Q")


@dataclass(frozen=True)
class DetailRequest:
    """One GET for a record's details (a call's transcript, an agent's versions, an LLM's prompt)."""

    path: str
    entity: str
    record_id: str | None = None
    params: Mapping[str, Any] | None = None


def iter_all(http: ResilientClient, requests: Sequence[DetailRequest], workers: int) -> Iterator[Any]:
    """GET every request, `workers` at a time on threads of this process, answers in request order
    as they arrive. The first error is raised. The requests are sent as soon as this is called.

    Each thread uses a fork of the client (same pool, breaker and secrets); their counters are
    merged back when the iteration ends, also when it is abandoned early.
    """
    if workers <= 1 or len(requests) <= 1:
        return (http.get_json(r.path, entity=r.entity, record_id=r.record_id, params=r.params) for r in requests)
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
    answers = pool.map(fetch, requests)  # submits every request now

    def in_order() -> Iterator[Any]:
        try:
            yield from answers
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for fork in forks:
                http.stats.merge(fork.stats)

    return in_order()


class DetailFetcher:
    """How a client GETs many independent records (a call's transcript, an LLM's prompt, ...)."""

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Any:
        """Start the batch; returns a ticket for `collect`. Collect tickets in the order submitted."""
        raise NotImplementedError

    def collect(self, ticket: Any) -> Iterator[Any]:
        """The decoded answers in request order; the first failure raises (an ApiError)."""
        raise NotImplementedError

    def fetch(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]:
        """Submit and collect one batch."""
        return self.collect(self.submit(http, requests))

    def close(self) -> None:
        """Release what the fetcher holds (helper processes)."""


@dataclass
class ThreadedDetails(DetailFetcher):
    """Detail requests on `workers` threads of this process."""

    workers: int

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]:
        return iter_all(http, requests, self.workers)

    def collect(self, ticket: Iterator[Any]) -> Iterator[Any]:
        return ticket


# ---- the helper process ---------------------------------------------------------------------
# Frames both ways: 8-byte length, then a pickle. Parent → worker: the client settings once, then one
# list of DetailRequest per batch. Worker → parent, per batch: ("ok", value) per request in order, at most
# one ("error", ApiError) after which the batch stops, ("log", level, message) for the client's
# warnings (retries), and ("end", stats) last. Pickle is safe here: both ends are this package.

MAX_BUFFERED_FRAMES = 4096  # answers read ahead of the consumer; then the worker waits (backpressure)


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


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


def client_settings(http: ResilientClient, workers: int) -> dict[str, Any]:
    """What the worker needs to rebuild `http` (secrets included: they travel over the pipe only)."""
    return {
        "base_url": http.base_url,
        "tenant": http.tenant,
        "api": http.api,
        "secrets": list(http._secrets),
        "headers": dict(http._default_headers),
        "params": dict(http._default_params),
        "timeout": http._timeout,
        "retry": asdict(http.retry),
        "breaker": {"failure_threshold": http.breaker.failure_threshold, "cooldown_s": http.breaker.cooldown_s},
        "workers": workers,
    }


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close the worker's stdin (it exits at end of input) and reap it; kill it if it hangs."""
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
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is None:
            continue
        try:
            stream.close()
        except OSError:
            pass


class _Worker:
    """One running helper process and the thread that reads its answers into a bounded queue, so
    the worker keeps fetching while the consumer parses and writes."""

    def __init__(self, python: str, settings: dict[str, Any]):
        self.settings = settings
        self.process = subprocess.Popen(
            [python, "-m", WORKER_MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None
        )
        self.frames: queue.Queue[bytes | None] = queue.Queue(MAX_BUFFERED_FRAMES)
        self.finalizer = weakref.finalize(self, _stop, self.process)
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        write_frame(self.stdin, settings)
        self.reader = threading.Thread(target=self._read, name="detail-process-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.stdout
        try:
            while (data := read_raw_frame(stream)) is not None:
                self.frames.put(data)
        except (OSError, ValueError):  # the pipe was closed under us: the worker is being stopped
            pass
        self.frames.put(None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, kill: bool = False) -> None:
        """End the worker: at the end of its input when idle; `kill` when its work is abandoned (it
        would otherwise finish the batch, or block on a full pipe nobody reads any more)."""
        if kill and self.process.poll() is None:
            self.process.kill()
        self.finalizer()  # runs _stop once
        while self.reader.is_alive():  # let the reader see the end of the stream
            try:
                self.frames.get(timeout=0.05)
            except queue.Empty:
                pass


# Until a batch this large comes, batches run on threads here: starting the helpers (~0.2 s of CPU
# each) costs more than it saves for a small tenant's few dozen requests.
SMALL_BATCH = 64


@dataclass(eq=False)  # identity: a ticket is one submitted batch
class _Ticket:
    http: ResilientClient
    requests: list[DetailRequest]
    workers: list[_Worker] = field(default_factory=list)  # request i went to workers[i % len(workers)]
    collected: bool = False
    local: Iterator[Any] | None = None  # a small batch answered by threads of this process


class ProcessDetails(DetailFetcher):
    """Detail requests in `helpers` helper processes per tenant and API (request i of a batch goes to
    helper i mod n; the answers are merged back in order), started by the first batch of at least
    `small_batch` requests (smaller ones before it run on threads here) and kept for the run.
    The resource closes them at teardown; they exit with the run's process at the latest.

    `workers` is the total of requests in flight; each helper runs its share on threads. Each helper
    has its own breaker with the same thresholds, and its request counters are added to the calling
    client's after every batch. A consumer that stops in the middle of a batch (a malformed record
    raised) ends the helpers; batches submitted after it are sent again to fresh ones. A batch that
    is not collected before a later one is abandoned: its answers are read and dropped.
    """

    def __init__(self, workers: int, helpers: int = 2, python: str = sys.executable, small_batch: int = SMALL_BATCH):
        self.workers = max(1, workers)
        self.helpers = max(1, min(helpers, self.workers))
        self.small_batch = small_batch
        self.python = python
        self._pool: list[_Worker] = []
        self._outstanding: list[_Ticket] = []

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> _Ticket:
        ticket = _Ticket(http, list(requests))
        if not self._pool and len(ticket.requests) < self.small_batch:
            ticket.local = iter_all(http, ticket.requests, self.workers)
        elif ticket.requests:
            self._send(ticket)
        return ticket

    def collect(self, ticket: _Ticket) -> Iterator[Any]:
        if ticket.local is not None:
            yield from ticket.local
            return
        if not ticket.requests or ticket.collected:
            return
        if ticket not in self._outstanding:  # its helpers were ended since: send it again
            self._send(ticket)
        while self._outstanding[0] is not ticket:  # submitted earlier, never collected: abandoned
            self._drain(self._outstanding[0])
        yield from self._answers(ticket)

    def _send(self, ticket: _Ticket) -> None:
        pool = self._pool_for(ticket.http)
        ticket.workers = pool[: min(len(pool), len(ticket.requests))]
        n = len(ticket.workers)
        for index, worker in enumerate(ticket.workers):
            try:
                write_frame(worker.stdin, ticket.requests[index::n])
            except OSError:
                self._died(ticket, worker)
        self._outstanding.append(ticket)

    def _frame(self, ticket: _Ticket, worker: _Worker) -> tuple[Any, ...]:
        """The worker's next answer, error or end frame (its log frames are logged here)."""
        while True:
            data = worker.frames.get()
            if data is None:
                self._died(ticket, worker)
            frame: tuple[Any, ...] = pickle.loads(data)
            if frame[0] != "log":
                return frame
            logger.log(frame[1], frame[2])

    def _answers(self, ticket: _Ticket) -> Iterator[Any]:
        http, workers = ticket.http, ticket.workers
        ended: set[int] = set()  # workers whose "end" frame was read
        error: ApiError | None = None
        finished = False
        try:
            for index, request in enumerate(ticket.requests):
                slot = index % len(workers)
                frame = self._frame(ticket, workers[slot])
                if frame[0] == "error":
                    error = frame[1]
                    break
                if frame[0] == "end":  # fewer answers than requests: cannot happen without an error
                    ended.add(slot)
                    http.stats.merge(RequestStats(**frame[1]))
                    error = ApiError("the detail request process answered too few requests", tenant=http.tenant,
                                     api=http.api, entity=request.entity, record_id=request.record_id)  # fmt: skip
                    break
                value = frame[1]
                if isinstance(value, RawBody):  # decoded here, where it is used: the helpers' CPU is the limit
                    value = http.decode_body(value, method="GET", path=request.path, entity=request.entity, record_id=request.record_id)
                yield value
            for slot, worker in enumerate(workers):  # each helper's "end" (after its error, if it had one)
                if slot not in ended:
                    while (frame := self._frame(ticket, worker))[0] != "end":
                        pass
                    http.stats.merge(RequestStats(**frame[1]))
            finished = True
        finally:
            ticket.collected = True
            if ticket in self._outstanding:
                self._outstanding.remove(ticket)
            if not finished:  # abandoned mid-batch or died: never read a stale answer later
                self.close(kill=True)
        if error is not None:
            raise error

    def _drain(self, ticket: _Ticket) -> None:
        try:
            for _ in self._answers(ticket):
                pass
        except ApiError:  # nobody asked for these answers any more, nor for their errors
            pass
        ticket.collected = False  # collecting it after all sends it again

    def _pool_for(self, http: ResilientClient) -> list[_Worker]:
        threads = -(-self.workers // self.helpers)  # ceil: `workers` in flight in all
        settings = client_settings(http, threads)
        if self._pool and (not all(w.alive() for w in self._pool) or settings != self._pool[0].settings):
            for ticket in list(self._outstanding):
                self._drain(ticket)
            self.close()
        if not self._pool:
            self._pool = [_Worker(self.python, settings) for _ in range(self.helpers)]
        return self._pool

    def _died(self, ticket: _Ticket, worker: _Worker) -> NoReturn:
        code = worker.process.poll()
        self.close(kill=True)
        raise ApiError(
            f"the detail request process ended unexpectedly (exit code {code})",
            tenant=ticket.http.tenant,
            api=ticket.http.api,
            entity=ticket.requests[0].entity,
        )

    def close(self, *, kill: bool = False) -> None:
        """Stop the helpers; batches still outstanding are dropped (collecting one sends it again)."""
        kill = kill or bool(self._outstanding)
        for worker in self._pool:
            worker.stop(kill=kill)
        self._pool = []
        for ticket in self._outstanding:
            ticket.workers = []
        self._outstanding = []


def details_for(processes: int, workers: int) -> DetailFetcher:
    """The fetcher a resource hands its clients: threads here (0 processes), or helper processes."""
    return ProcessDetails(workers, helpers=processes) if processes > 0 else ThreadedDetails(workers)

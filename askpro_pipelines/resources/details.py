"""Detail requests: many independent GETs (a call's transcript, an agent's versions, an LLM's prompt).

Two ways to run them, both streaming the decoded answers back in request order. A batch is
`submit`ted (its requests start at once) and `collect`ed later, so a caller can have the next batch
fetched while it still works on the previous one (`fetch` does both at once):

- `ThreadedDetails`: threads of this process. Simple, but every byte of HTTP work (httpx builds
  the request, parses the response, decodes the JSON) holds this interpreter's GIL, so it cannot
  overlap with the parsing and writing the asset does with the answers.
- `ProcessDetails`: a helper process (`python -m askpro_pipelines.resources.detail_worker`) runs
  the same resilient client on its own threads and pipes the decoded answers back. HTTP and
  parsing then run on two cores. On the benchmark tenant the plain HTTP client work alone was
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
from dataclasses import asdict, dataclass
from typing import IO, Any, Protocol

from askpro_pipelines.resources.http import ApiError, ResilientClient, RequestStats, logger

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


class DetailFetcher(Protocol):
    """How a client GETs many independent records (a call's transcript, an LLM's prompt, ...)."""

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Any:
        """Start the batch; returns a ticket for `collect`. Collect tickets in the order submitted."""
        ...

    def collect(self, ticket: Any) -> Iterator[Any]:
        """The decoded answers in request order; the first failure raises (an ApiError)."""
        ...

    def fetch(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]: ...

    def close(self) -> None: ...


@dataclass
class ThreadedDetails:
    """Detail requests on `workers` threads of this process."""

    workers: int

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]:
        return iter_all(http, requests, self.workers)

    def collect(self, ticket: Iterator[Any]) -> Iterator[Any]:
        return ticket

    def fetch(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]:
        return self.collect(self.submit(http, requests))

    def close(self) -> None:
        pass


# ---- the helper process ---------------------------------------------------------------------
# Frames both ways: 8-byte length, then a pickle. Parent → worker: the client settings once, then one
# tuple of requests per batch. Worker → parent, per batch: ("ok", value) per request in order, at most
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


def _stop(process: subprocess.Popen) -> None:
    """Close the worker's stdin (it exits at end of input) and reap it; kill it if it hangs."""
    if process.poll() is None:
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
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
        write_frame(self.process.stdin, settings)
        self.reader = threading.Thread(target=self._read, name="detail-process-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        try:
            while (data := read_raw_frame(stream)) is not None:
                self.frames.put(data)
        except (OSError, ValueError):  # the pipe was closed under us: the worker is being stopped
            pass
        self.frames.put(None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.finalizer()  # runs _stop once
        while self.reader.is_alive():  # let the reader see the end of the stream
            try:
                self.frames.get(timeout=0.05)
            except queue.Empty:
                pass


@dataclass(eq=False)  # identity: a ticket is one submitted batch
class _Ticket:
    http: ResilientClient
    requests: Sequence[DetailRequest]
    worker: "_Worker"
    collected: bool = False


class ProcessDetails:
    """Detail requests in one helper process per tenant and API, started on first use and kept for
    the run (the resource closes it at teardown; at interpreter exit at the latest).

    The worker has its own breaker with the same thresholds, and its request counters are added
    to the calling client's after every batch. A consumer that stops in the middle of a batch (a
    malformed record raised) ends the worker; batches submitted after it are sent again to a fresh one.
    """

    def __init__(self, workers: int, python: str = sys.executable):
        self.workers = max(1, workers)
        self.python = python
        self._worker: _Worker | None = None
        self._outstanding: list[_Ticket] = []

    def submit(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> _Ticket:
        worker = self._worker_for(http)
        ticket = _Ticket(http, list(requests), worker)
        if ticket.requests:
            self._send(ticket)
            self._outstanding.append(ticket)
        return ticket

    def collect(self, ticket: _Ticket) -> Iterator[Any]:
        if not ticket.requests or ticket.collected:
            return
        if ticket.worker is not self._worker or ticket not in self._outstanding:  # its worker was ended
            ticket.worker = self._worker_for(ticket.http)
            self._send(ticket)
            self._outstanding.append(ticket)
        if self._outstanding[0] is not ticket:
            raise RuntimeError("detail batches must be collected in the order they were submitted")
        yield from self._answers(ticket)

    def fetch(self, http: ResilientClient, requests: Sequence[DetailRequest]) -> Iterator[Any]:
        return self.collect(self.submit(http, requests))

    def _send(self, ticket: _Ticket) -> None:
        batch = tuple((r.path, r.entity, r.record_id, dict(r.params) if r.params else None) for r in ticket.requests)
        try:
            write_frame(ticket.worker.process.stdin, batch)
        except OSError:
            self._died(ticket)

    def _answers(self, ticket: _Ticket) -> Iterator[Any]:
        worker, http = ticket.worker, ticket.http
        finished = False
        error: ApiError | None = None
        try:
            while True:
                data = worker.frames.get()
                if data is None:
                    self._died(ticket)
                frame = pickle.loads(data)
                kind = frame[0]
                if kind == "ok":
                    yield frame[1]
                elif kind == "log":
                    logger.log(frame[1], frame[2])
                elif kind == "error":
                    error = frame[1]
                elif kind == "end":
                    http.stats.merge(RequestStats(**frame[1]))
                    finished = True
                    break
        finally:
            ticket.collected = True
            if ticket in self._outstanding:
                self._outstanding.remove(ticket)
            if not finished:  # abandoned mid-batch or died: never read a stale answer later
                self.close()
        if error is not None:
            raise error

    def _worker_for(self, http: ResilientClient) -> _Worker:
        settings = client_settings(http, self.workers)
        if self._worker is not None and (not self._worker.alive() or settings != self._worker.settings):
            if self._outstanding:
                raise RuntimeError("a detail batch of another client is still outstanding")
            self.close()
        if self._worker is None:
            self._worker = _Worker(self.python, settings)
        return self._worker

    def _died(self, ticket: _Ticket) -> None:
        code = ticket.worker.process.poll()
        self.close()
        raise ApiError(
            f"the detail request process ended unexpectedly (exit code {code})",
            tenant=ticket.http.tenant,
            api=ticket.http.api,
            entity=ticket.requests[0].entity,
        )

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        self._worker = None
        self._outstanding = []


def details_for(in_process: bool, workers: int) -> DetailFetcher:
    """The fetcher a resource hands its clients: threads here, or the helper process."""
    return ThreadedDetails(workers) if in_process else ProcessDetails(workers)

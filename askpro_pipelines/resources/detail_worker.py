"""The helper process of `ProcessDetails`: runs detail requests and pipes the bodies back.

    python -m askpro_pipelines.resources.detail_worker     (started by ProcessDetails, not by hand)

Reads the client settings, then lists of (seq, request), from stdin, and answers each request as it
completes on stdout (frames: see `details.py`). Its main thread only reads, so the parent's writes
never wait on the answers. The breaker is the tenant's own, in shared memory, so every process
counts the same failures. It exits at the end of its input, so it never outlives the process that
started it. Everything else it would print goes to stderr, and its log records (retries) are sent to
the parent, already redacted by the client.
"""

import logging
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from askpro_pipelines.redaction import install_log_redaction
from askpro_pipelines.resources.budget import BudgetSettings, budget_for
from askpro_pipelines.resources.details import DetailRequest, read_frame, write_frame
from askpro_pipelines.resources.http import (
    ApiError,
    CircuitBreaker,
    RequestStats,
    ResilientClient,
    RetrySettings,
    logger,
)


class _ToParent(logging.Handler):
    """Forwards the client's log records to the parent as ("log", level, message) frames."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]):
        super().__init__(logging.WARNING)
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        self.send(("log", record.levelno, record.getMessage()))


def _unless_plain(stats: RequestStats) -> RequestStats | float:
    """The usual answer (one request, no retry, nothing else to count) travels as its answer time
    in ms only: nothing to pickle but a float."""
    latency_ms = stats.plain_latency_ms()
    return stats if latency_ms is None else latency_ms


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    settings = read_frame(stdin)
    if settings is None:
        return
    outbox: queue.SimpleQueue[tuple[Any, ...] | None] = (
        queue.SimpleQueue()
    )  # the request threads never wait on the pipe
    send = outbox.put

    def write() -> None:
        try:
            while (frame := outbox.get()) is not None:
                write_frame(stdout, frame)
        except (BrokenPipeError, ValueError):  # the parent went away
            pass

    writer = threading.Thread(target=write, name="answers", daemon=True)
    writer.start()

    install_log_redaction()
    logger.addHandler(_ToParent(send))
    logger.propagate = False
    http = ResilientClient(
        base_url=settings["base_url"],
        tenant=settings["tenant"],
        api=settings["api"],
        secrets=settings["secrets"],
        headers=settings["headers"],
        params=settings["params"],
        timeout=settings["timeout"],
        retry=RetrySettings(**settings["retry"]),
        breaker=CircuitBreaker(**settings["breaker"]),
        budget=None
        if settings["budget"] is None
        else budget_for(settings["budget"]["path"], BudgetSettings(**settings["budget"]["settings"])),
        budget_wait_s=settings["budget_wait_s"],
        raw_bodies=True,  # the parent decodes: this process's CPU is what limits the request rate
    )

    def run(seq: int, request: DetailRequest) -> None:
        client = http.fork()  # its own counters: they travel with the answer
        try:
            value = client.get_json(
                request.path, entity=request.entity, record_id=request.record_id, params=request.params
            )
            frame = ("ok", seq, value, _unless_plain(client.stats))
        except ApiError as exc:  # already names tenant, entity and record, and is redacted
            frame = ("error", seq, exc, _unless_plain(client.stats))
        except Exception as exc:  # a bug here: report the type only, a message could hold a payload
            error = ApiError(f"{type(exc).__name__} in the detail request process", tenant=http.tenant,
                             api=http.api, entity=request.entity, record_id=request.record_id)  # fmt: skip
            frame = ("error", seq, error, _unless_plain(client.stats))
        send(frame)

    pool = ThreadPoolExecutor(max_workers=settings["workers"], thread_name_prefix="details")
    try:
        while (batch := read_frame(stdin)) is not None:
            for seq, request in batch:
                pool.submit(run, seq, request)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        send(None)
        writer.join(timeout=30)
        http.close()


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # the frame stream is stdout's alone
    try:
        serve(stdin, stdout)
    except (BrokenPipeError, KeyboardInterrupt):  # the parent went away
        pass


if __name__ == "__main__":
    main()

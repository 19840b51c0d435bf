"""The helper process of `ProcessDetails`: runs detail requests and pipes the decoded answers back.

    python -m askpro_pipelines.resources.detail_worker     (started by ProcessDetails, not by hand)

Reads the client settings, then batches of requests, from stdin; writes frames to stdout (see
`details.py`). It exits at the end of its input, so it never outlives the process that started it.
Everything else it would print goes to stderr, and its log records (retries) are sent to the parent,
already redacted by the client.
"""

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import IO, Any

from askpro_pipelines.redaction import install_log_redaction
from askpro_pipelines.resources.details import iter_all, read_frame, write_frame
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


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    settings = read_frame(stdin)
    if settings is None:
        return
    lock = threading.Lock()

    def send(frame: tuple[Any, ...]) -> None:
        with lock:
            write_frame(stdout, frame)

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
        raw_bodies=True,  # the parent decodes: this process's CPU is what limits the request rate
    )
    try:
        while (requests := read_frame(stdin)) is not None:
            http.stats = RequestStats()
            try:
                for value in iter_all(http, requests, settings["workers"]):
                    send(("ok", value))
            except ApiError as exc:  # already names tenant, entity and record, and is redacted
                send(("error", exc))
            except Exception as exc:  # a bug here: report the type only, a message could hold a payload
                entity = requests[0].entity if requests else "details"
                send(("error", ApiError(f"{type(exc).__name__} in the detail request process", tenant=http.tenant, api=http.api, entity=entity)))
            send(("end", asdict(http.stats)))
    finally:
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

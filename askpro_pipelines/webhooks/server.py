"""Run the webhook receiver: `serve` for `askpro webhooks serve`, `ReceiverThread` for tests and benchmarks."""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

import uvicorn

from askpro_pipelines.deployment import check_mode
from askpro_pipelines.tenants import TenantsConfig, load_tenants
from askpro_pipelines.warehouse.engine import create_engine
from askpro_pipelines.warehouse.store import display_url, resolve_warehouse_url
from askpro_pipelines.webhooks.app import DEFAULT_MAX_BODY_BYTES, build_app
from askpro_pipelines.webhooks.asgi import App
from askpro_pipelines.webhooks.store import WebhookStore

logger = logging.getLogger("askpro_pipelines.webhooks")


def _uvicorn_options(log_level: str) -> dict[str, Any]:
    # No access log: at thousands of deliveries a second it costs more than the handler; rejections
    # are logged by the app with their reason instead.
    return dict(
        lifespan="off",
        log_config=None,
        log_level=log_level,
        access_log=False,
        # The receiver never looks at the client's address, so X-Forwarded-For need not be parsed.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def _uvicorn_config(app: Any, log_level: str, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(app, **_uvicorn_options(log_level), **options)


def _log_to_stderr() -> None:
    if not logging.getLogger().handlers:
        # Rejections are logged at WARNING with their reason; ops must see them without extra setup.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _new_store(url: str) -> WebhookStore:
    # No ping per batch: it was 12% of the receiver's time under load (benchmarks/RESULTS.md).
    return WebhookStore(create_engine(url, pre_ping=False))


def serve(host: str = "127.0.0.1", port: int = 8088, warehouse_url: str | None = None, workers: int = 1) -> None:
    """Serve the receiver until interrupted, landing events in the warehouse database.

    `workers` > 1 serves from that many processes on one listening socket (uvicorn's supervisor
    restarts one that dies). One process is bound by its interpreter lock to one core: on 2 cores it
    took ~300 µs of CPU per event (benchmarks/RESULTS.md, figure 5). Duplicates stay duplicates
    across processes: the landing table's unique key decides, not process memory.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    _log_to_stderr()
    # Fail at startup, not on the first delivery, when the tenants file is broken (or, in
    # production, not named explicitly).
    check_mode()
    load_tenants()
    url = resolve_warehouse_url(warehouse_url)
    logger.info(
        "webhook receiver on http://%s:%d (%d process%s), landing in %s",
        host, port, workers, "" if workers == 1 else "es", display_url(url),
    )  # fmt: skip
    if workers > 1:
        os.environ[_WORKER_URL_ENV] = url  # the workers are spawned: they read it at import of the factory
        options = {**_uvicorn_options("info"), "lifespan": "on"}  # each worker disposes of its store at shutdown
        uvicorn.run(f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers, **options)
        return
    store = _new_store(url)
    try:
        app = build_app(store=store, tenants=load_tenants)
        uvicorn.Server(_uvicorn_config(app, "info", host=host, port=port)).run()
    finally:
        store.dispose()


_WORKER_URL_ENV = "ASKPRO_WEBHOOKS_WORKER_WAREHOUSE_URL"


def worker_app() -> App:
    """The app of one worker process of `serve(workers=N)`: its own store, closed when uvicorn stops."""
    _log_to_stderr()
    store = _new_store(os.environ[_WORKER_URL_ENV])
    return build_app(store=store, tenants=load_tenants, on_shutdown=store.dispose)


class ReceiverThread:
    """The receiver on a loopback port, served by uvicorn from a background thread.

    `with ReceiverThread(store, tenants) as receiver: httpx.post(receiver.url + "/webhooks/...")`.
    The socket is bound before the thread starts, so `url` is usable as soon as `start` returns.
    """

    def __init__(
        self,
        store: WebhookStore,
        tenants: Callable[[], TenantsConfig] = load_tenants,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock_ms: Callable[[], int] | None = None,
        environ: Mapping[str, str] | None = None,
        tenants_check_interval_s: float = 1.0,
    ):
        options: dict[str, Any] = {"clock_ms": clock_ms} if clock_ms is not None else {}
        self.app = build_app(
            store=store,
            tenants=tenants,
            max_body_bytes=max_body_bytes,
            environ=environ,
            tenants_check_interval_s=tenants_check_interval_s,
            **options,
        )
        self.host = host
        self.port = port
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Serve in a background thread; returns the base URL once uvicorn has started."""
        if self._thread is not None:
            return self.url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        self._server = uvicorn.Server(_uvicorn_config(self.app, "warning"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"askpro-webhooks-{port}", daemon=True
        )
        self._thread.start()
        self.url = f"http://{self.host}:{port}"
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.005)
        return self.url

    def stop(self) -> None:
        """Stop serving (in-flight requests finish) and join the thread; safe to call twice."""
        if self._thread is None:
            return
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None
        self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

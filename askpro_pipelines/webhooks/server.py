"""Run the webhook receiver: `serve` for `askpro webhooks serve`, `ReceiverThread` for tests and benchmarks."""

import logging
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
from askpro_pipelines.webhooks.store import WebhookStore

logger = logging.getLogger("askpro_pipelines.webhooks")


def _uvicorn_config(app: Any, log_level: str, **options: Any) -> uvicorn.Config:
    # No access log: at thousands of deliveries a second it costs more than the handler; rejections
    # are logged by the app with their reason instead.
    return uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        log_level=log_level,
        access_log=False,
        # The receiver never looks at the client's address, so X-Forwarded-For need not be parsed.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        **options,
    )


def serve(host: str = "127.0.0.1", port: int = 8088, warehouse_url: str | None = None) -> None:
    """Serve the receiver until interrupted, landing events in the warehouse database."""
    if not logging.getLogger().handlers:
        # Rejections are logged at WARNING with their reason; ops must see them without extra setup.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Fail at startup, not on the first delivery, when the tenants file is broken (or, in
    # production, not named explicitly).
    check_mode()
    load_tenants()
    url = resolve_warehouse_url(warehouse_url)
    # No ping per batch: it was 12% of the receiver's time under load (benchmarks/RESULTS.md).
    store = WebhookStore(create_engine(url, pre_ping=False))
    try:
        app = build_app(store=store, tenants=load_tenants)
        logger.info("webhook receiver on http://%s:%d, landing in %s", host, port, display_url(url))
        uvicorn.Server(_uvicorn_config(app, "info", host=host, port=port)).run()
    finally:
        store.dispose()


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
        options = {"clock_ms": clock_ms} if clock_ms is not None else {}
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

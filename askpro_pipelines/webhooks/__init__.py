"""Webhook intake: Cal.com and Retell deliveries are verified, deduplicated and landed durably.

The receiver (`app.build_app`, served by `server.serve` / `server.ReceiverThread`) only stores;
sensors read the landing table (`store.WebhookStore`) and refresh the affected partitions.
"""

from askpro_pipelines.webhooks.app import build_app
from askpro_pipelines.webhooks.server import ReceiverThread, serve
from askpro_pipelines.webhooks.signatures import (
    calcom_signature,
    retell_signature,
    verify_calcom,
    verify_retell,
)
from askpro_pipelines.webhooks.store import LandedEvent, WebhookStore

__all__ = [
    "LandedEvent",
    "ReceiverThread",
    "WebhookStore",
    "build_app",
    "calcom_signature",
    "retell_signature",
    "serve",
    "verify_calcom",
    "verify_retell",
]

"""Signed deliveries for the receiver tests: the reference's secrets, a tenants file, and posting helpers."""

import json
import time

from askpro_pipelines.webhooks.signatures import calcom_signature, retell_signature
from tests.fixtures import api_example

CALCOM_VECTORS = api_example("calcom_webhook_signature_test_vectors.json")
RETELL_VECTORS = api_example("retell_webhook_signature_test_vectors.json")
CAL_SECRET = CALCOM_VECTORS["webhook_secret"]
RETELL_KEY = RETELL_VECTORS["api_key"]

TENANTS_YAML = """
tenants:
  - slug: praxis
    name: Praxis am Stadtpark
    timezone: Europe/Berlin
    calcom:
      api_key_env: TEST_PRAXIS_CAL_KEY
      webhook_secret_env: TEST_PRAXIS_CAL_WEBHOOK_SECRET
    retell:
      api_key_env: TEST_PRAXIS_RETELL_KEY
  - slug: quiet
    name: No webhooks configured
    timezone: America/New_York
    calcom:
      api_key_env: TEST_QUIET_CAL_KEY
"""


def post_calcom(client, receiver, body: bytes, *, tenant="praxis", secret=CAL_SECRET, signature=None, **kwargs):
    headers = {"Content-Type": "application/json"}
    if signature is not False:
        headers["X-Cal-Signature-256"] = signature or calcom_signature(secret, body)
    return client.post(f"{receiver.url}/webhooks/calcom/{tenant}", content=body, headers=headers, **kwargs)


def post_retell(client, receiver, body: bytes, *, tenant="praxis", key=RETELL_KEY, signature=None, ts=None):
    headers = {"content-type": "application/json"}
    if signature is not False:
        stamp = ts if ts is not None else time.time_ns() // 1_000_000
        headers["x-retell-signature"] = signature or retell_signature(key, body, stamp)
    return client.post(f"{receiver.url}/webhooks/retell/{tenant}", content=body, headers=headers)


def retell_body(call_id: str, event: str = "call_ended", transcript: str = "Grüß Gott") -> bytes:
    call = {"call_id": call_id, "start_timestamp": 1789459083120, "transcript": transcript}
    return json.dumps({"event": event, "call": call}, ensure_ascii=False, separators=(",", ":")).encode()

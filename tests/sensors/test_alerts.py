"""Alert sensors end to end: real Dagster runs and checks on an ephemeral instance, alerts delivered
over loopback to a recording webhook (http.server) and a small SMTP sink (socketserver)."""

import base64
import json
import logging
import socketserver
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import (
    AssetCheckResult,
    DagsterInstance,
    Definitions,
    SensorResult,
    asset,
    asset_check,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
    materialize,
)
from dagster_shared.error import SerializableErrorInfo

from askpro_pipelines.partitions import tenant_day_key, tenant_partitions
from askpro_pipelines.resources.alerts import Alert, AlertsResource
from askpro_pipelines.sensors.alerts import (
    AlertDeliveryError,
    check_failure_alert_sensor,
    first_error_line,
    run_failure_alert_sensor,
    run_partition,
    run_tenant,
    tenant_of_partition,
)

TENANT = "praxis-am-stadtpark"
WEBHOOK_TOKEN = "T000/B000/hook-secret-4f9a"
SMTP_PASSWORD = "smtp-pass-7c1e"
ENV_VARS = (
    "ASKPRO_ALERT_WEBHOOK_URL",
    "ASKPRO_SMTP_HOST",
    "ASKPRO_SMTP_PORT",
    "ASKPRO_SMTP_USERNAME",
    "ASKPRO_SMTP_PASSWORD",
    "ASKPRO_ALERT_EMAIL_TO",
    "ASKPRO_ALERT_EMAIL_FROM",
    "ASKPRO_DAGSTER_UI_URL",
)


# ---- loopback receivers ----------------------------------------------------------------------


class WebhookReceiver:
    """Records POSTed JSON; `status` decides the answer. Error bodies echo the path, like a
    careless proxy would, so the redaction of the secret path is really exercised."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(json.loads(body))
                reply = b"ok" if receiver.status < 400 else f"no hook at {self.path}".encode()
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{WEBHOOK_TOKEN}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts]


class SmtpSink:
    """Speaks just enough SMTP (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and
    records parsed messages. `auth_reply` can reject logins; the rejection echoes the credentials,
    so a leak of the password into logs would show."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []
        self.auth_ok = True
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 sink ready")
                sender, recipients = "", []
                while raw := self.rfile.readline():
                    line = raw.decode().rstrip("\r\n")
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.reply("250-sink\r\n250 AUTH PLAIN")
                    elif verb in ("HELO", "NOOP", "RSET"):
                        self.reply("250 ok")
                    elif verb == "AUTH":
                        credentials = base64.b64decode(line.split()[2]).decode().replace("\0", " ").strip()
                        sink.logins.append(credentials)
                        self.reply("235 ok" if sink.auth_ok else f"535 bad credentials {credentials}")
                    elif verb == "MAIL":
                        sender, recipients = line.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        recipients.append(line.split(":", 1)[1].strip(" <>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        sink.messages.append(message_from_bytes(b"".join(data), policy=policy.default))
                        sink.envelopes.append((sender, recipients))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Alert settings come from the environment when unset: start every test without any."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def smtp():
    sink = SmtpSink()
    sink.thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture
def alerts(webhook, smtp) -> AlertsResource:
    return AlertsResource(
        webhook_url=webhook.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_username="alerts@askpro.test",
        smtp_password=SMTP_PASSWORD,
        mail_from="alerts@askpro.test",
        mail_to=["ops@askpro.test", "oncall@askpro.test"],
        timeout_s=5,
    )


# ---- a tiny code location: one failing asset, checks that fail -------------------------------


@asset(partitions_def=tenant_partitions)
def calcom_event_types() -> None:
    raise ValueError("Cal.com down\nsecond line")


@asset(partitions_def=tenant_partitions)
def calcom_staff() -> int:
    return 1


@asset_check(asset=calcom_staff, partitions_def=tenant_partitions, description="Staff have e-mails.")
def staff_have_emails(context) -> AssetCheckResult:
    return AssetCheckResult(
        passed=False, description=f"tenant {context.partition_key}: 2 staff without e-mail\nanna, ben"
    )


@asset_check(asset=calcom_staff, partitions_def=tenant_partitions)
def staff_not_empty() -> AssetCheckResult:
    return AssetCheckResult(passed=True, description="1 staff member")


sync_job = define_asset_job("sync_dimensions", selection=[calcom_event_types])
test_defs = Definitions(
    assets=[calcom_event_types, calcom_staff], asset_checks=[staff_have_emails, staff_not_empty], jobs=[sync_job]
)


@pytest.fixture(params=["ephemeral"])
def instance(request, tmp_path):
    """In-memory by default; "sqlite" is the run-sharded storage `dagster dev` uses."""
    with (
        DagsterInstance.ephemeral() if request.param == "ephemeral" else DagsterInstance.local_temp(str(tmp_path))
    ) as instance:
        instance.add_dynamic_partitions(tenant_partitions.name, [TENANT, "praxis-nord"])
        yield instance


def _failed_run(instance):
    result = test_defs.resolve_job_def("sync_dimensions").execute_in_process(
        instance=instance, partition_key=TENANT, tags={"askpro/tenant": TENANT}, raise_on_error=False
    )
    assert not result.success
    return result


def _run_failure_context(instance, result, alerts):
    return build_run_status_sensor_context(
        sensor_name=run_failure_alert_sensor.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"alerts": alerts},
    ).for_run_failure()


def _check_staff(instance, tenant=TENANT):
    materialize([calcom_staff, staff_have_emails, staff_not_empty], instance=instance, partition_key=tenant)


def _tick(instance, alerts, cursor) -> SensorResult:
    with build_sensor_context(instance=instance, cursor=cursor, resources={"alerts": alerts}) as context:
        return check_failure_alert_sensor(context)


# ---- run failure sensor ----------------------------------------------------------------------


def test_run_failure_alert_names_tenant_asset_partition_and_first_error_line(
    instance, alerts, webhook, smtp, monkeypatch
):
    monkeypatch.setenv("ASKPRO_DAGSTER_UI_URL", "http://dagster.local:3000/")
    result = _failed_run(instance)

    run_failure_alert_sensor(_run_failure_context(instance, result, alerts))

    (text,) = webhook.texts()
    title = f"[askpro] run failed: tenant {TENANT}, asset calcom_event_types, partition {TENANT}"
    assert text.splitlines()[0] == title
    assert "```ValueError: Cal.com down```" in text
    assert "second line" not in text
    assert f"http://dagster.local:3000/runs/{result.run_id}" in text
    assert "`sync_dimensions`" in text

    (mail,) = smtp.messages
    assert mail["Subject"] == title
    assert mail["From"] == "alerts@askpro.test"
    assert smtp.envelopes == [("alerts@askpro.test", ["ops@askpro.test", "oncall@askpro.test"])]
    assert smtp.logins == [f"alerts@askpro.test {SMTP_PASSWORD}"]
    body = mail.get_content()
    assert "ValueError: Cal.com down" in body and "second line" not in body
    assert f"Run:       {result.run_id}" in body


def test_run_failure_sensor_tick_through_the_run_status_machinery(instance, alerts, webhook):
    """As the daemon runs it: the sensor finds the failed run itself and gets `alerts` from Definitions."""
    location = Definitions(
        assets=[calcom_event_types], jobs=[sync_job], sensors=[run_failure_alert_sensor], resources={"alerts": alerts}
    )
    with build_sensor_context(instance=instance, definitions=location, resources={"alerts": alerts}) as context:
        run_failure_alert_sensor.evaluate_tick(context)
        start = context.cursor
    result = _failed_run(instance)

    with build_sensor_context(
        instance=instance, definitions=location, cursor=start, resources={"alerts": alerts}
    ) as context:
        tick = run_failure_alert_sensor.evaluate_tick(context)

    assert [reaction.dagster_run.run_id for reaction in tick.dagster_run_reactions] == [result.run_id]
    assert tick.dagster_run_reactions[0].error is None
    assert [text.splitlines()[0] for text in webhook.texts()] == [
        f"[askpro] run failed: tenant {TENANT}, asset calcom_event_types, partition {TENANT}"
    ]


def test_run_failure_sensor_fails_the_tick_when_no_channel_accepts(instance, alerts, webhook, smtp):
    webhook.status = 500
    smtp.auth_ok = False
    result = _failed_run(instance)

    with pytest.raises(AlertDeliveryError, match="no alert channel accepted"):
        run_failure_alert_sensor(_run_failure_context(instance, result, alerts))


def test_run_failure_without_alert_configuration_is_silent(instance, caplog):
    result = _failed_run(instance)
    caplog.set_level(logging.WARNING, logger="askpro_pipelines.alerts")

    run_failure_alert_sensor(_run_failure_context(instance, result, AlertsResource()))

    assert AlertsResource().send(Alert("run_failure", TENANT, "calcom_staff", TENANT, "boom")) == []
    assert not caplog.records


# ---- check failure sensor --------------------------------------------------------------------


@pytest.mark.parametrize("instance", ["ephemeral", "sqlite"], indirect=True)
def test_check_sensor_starts_at_the_end_then_alerts_once_per_failed_check(instance, alerts, webhook, smtp):
    _check_staff(instance, "praxis-nord")  # history before the sensor existed: never alerted

    first = _tick(instance, alerts, cursor=None)
    assert first.cursor is not None and int(first.cursor) > 0
    assert webhook.posts == [] and smtp.messages == []

    _check_staff(instance)
    second = _tick(instance, alerts, cursor=first.cursor)

    (text,) = webhook.texts()  # the passing check sends nothing
    title = f"[askpro] check failed: tenant {TENANT}, asset calcom_staff, check staff_have_emails, partition {TENANT}"
    assert text.splitlines()[0] == title
    assert f"tenant {TENANT}: 2 staff without e-mail" in text and "anna, ben" not in text
    assert [mail["Subject"] for mail in smtp.messages] == [title]
    assert int(second.cursor) > int(first.cursor)

    third = _tick(instance, alerts, cursor=second.cursor)
    assert len(webhook.posts) == 1 and third.cursor == second.cursor


def test_check_sensor_retries_an_undelivered_alert_without_repeating_sent_ones(instance, alerts, webhook, smtp):
    cursor = _tick(instance, alerts, cursor=None).cursor
    _check_staff(instance, "praxis-nord")
    webhook.status, smtp.auth_ok = 500, False

    stuck = _tick(instance, alerts, cursor=cursor)
    assert stuck.cursor == cursor  # nothing accepted the alert: it stays ahead of the cursor

    webhook.status, smtp.auth_ok = 200, True
    _check_staff(instance)
    done = _tick(instance, alerts, cursor=stuck.cursor)
    delivered = [text.splitlines()[0] for text in webhook.texts()[-2:]]
    assert ["tenant praxis-nord" in delivered[0], f"tenant {TENANT}" in delivered[1]] == [True, True]
    assert len(smtp.messages) == 2
    assert int(done.cursor) > int(cursor)


def test_check_sensor_without_alert_configuration_still_advances(instance):
    cursor = _tick(instance, AlertsResource(), cursor=None).cursor
    _check_staff(instance)
    result = _tick(instance, AlertsResource(), cursor=cursor)
    assert int(result.cursor) > int(cursor)


# ---- the resource on its own -----------------------------------------------------------------


ALERT = Alert("run_failure", TENANT, "calcom_event_types", TENANT, "ValueError: Cal.com down", run_id="r1", job="j")


def test_webhook_failure_does_not_stop_the_email(alerts, webhook, smtp):
    webhook.status = 500
    assert alerts.send(ALERT) == ["email"]
    assert len(webhook.posts) == 1 and [mail["Subject"] for mail in smtp.messages] == [ALERT.title]


def test_failures_are_logged_without_webhook_path_or_smtp_password(alerts, webhook, smtp, caplog):
    caplog.set_level(logging.DEBUG)  # includes httpx's request lines, which carry the URL
    webhook.status, smtp.auth_ok = 500, False

    assert alerts.send(ALERT) == []

    assert smtp.logins == [f"alerts@askpro.test {SMTP_PASSWORD}"]  # the password really went out
    warnings = [record.getMessage() for record in caplog.records if record.name == "askpro_pipelines.alerts"]
    assert len(warnings) == 2
    assert "HTTP 500" in warnings[0] and "http://127.0.0.1:" in warnings[0]
    assert "SMTPAuthenticationError" in warnings[1]
    assert any(record.name == "httpx" for record in caplog.records)
    for secret in (WEBHOOK_TOKEN, "hook-secret-4f9a", SMTP_PASSWORD):
        assert secret not in caplog.text


def test_settings_are_read_from_the_environment_at_send_time(webhook, smtp, monkeypatch):
    resource = AlertsResource()  # created before the variables exist, as at code-location load
    assert resource.configured_channels() == []
    monkeypatch.setenv("ASKPRO_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("ASKPRO_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ASKPRO_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("ASKPRO_ALERT_EMAIL_TO", "ops@askpro.test, oncall@askpro.test")

    assert resource.send(ALERT) == ["webhook", "email"]
    assert smtp.envelopes == [("askpro-pipelines@127.0.0.1", ["ops@askpro.test", "oncall@askpro.test"])]
    assert smtp.logins == []  # no username: no login


def test_half_configured_email_is_reported(caplog):
    resource = AlertsResource(mail_to=["ops@askpro.test"])
    assert resource.send(ALERT) == []
    assert "no SMTP host" in caplog.text


def test_slack_text_escapes_markup_and_keeps_the_code_block_closed():
    alert = Alert("check_failure", "t", "a", None, "bad <@U123> & `rm` ```x```\nmore", check="c")
    first, code = alert.slack_text.splitlines()[:2]
    assert first == "[askpro] check failed: tenant t, asset a, check c"
    assert code == "```bad &lt;@U123&gt; &amp; 'rm' '''x'''```"
    assert alert.text.splitlines()[2] == "bad <@U123> & `rm` ```x```"


# ---- pure helpers ----------------------------------------------------------------------------


def _error(cls_name: str, message: str, cause=None) -> SerializableErrorInfo:
    return SerializableErrorInfo(message=message, stack=[], cls_name=cls_name, cause=cause)


def test_first_error_line_unwraps_dagster_wrappers_only():
    user = _error(
        "ApiError",
        "askpro_pipelines.resources.http.ApiError: [tenant=t api=calcom entity=staff] HTTP 503: down\ndetail\n",
        cause=_error("ConnectError", "httpx.ConnectError: refused\n"),
    )
    wrapped = _error(
        "DagsterExecutionStepExecutionError",
        'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "x":\n',
        cause=user,
    )
    assert first_error_line(wrapped) == "ApiError: [tenant=t api=calcom entity=staff] HTTP 503: down"
    assert (
        first_error_line(_error("ValueError", "ValueError: Cal.com down\nsecond line\n")) == "ValueError: Cal.com down"
    )
    assert first_error_line(None) is None


@pytest.mark.parametrize(
    ("key", "tenant"),
    [
        (None, None),
        (TENANT, TENANT),
        (str(tenant_day_key(TENANT, "2026-03-01")), TENANT),
        (f"2026-03-01|{TENANT}...2026-03-07|{TENANT}", TENANT),
        ("2026-03-01|a...2026-03-07|b", None),
    ],
)
def test_tenant_of_partition(key, tenant):
    assert tenant_of_partition(key) == tenant


def test_run_partition_and_tenant_from_tags():
    ranged = {
        "dagster/asset_partition_range_start": "2026-03-01|x",
        "dagster/asset_partition_range_end": "2026-03-02|x",
    }
    assert run_partition(ranged) == "2026-03-01|x...2026-03-02|x"
    assert run_tenant(ranged) == "x"
    assert run_tenant({"dagster/partition": "2026-03-01|x", "dagster/partition/tenant": "x"}) == "x"
    assert run_tenant({"askpro/tenant": "y", "dagster/partition": "z"}) == "y"
    assert run_partition({}) is None and run_tenant({}) is None


def test_the_alert_sensors_read_the_instance_through_public_apis_only():
    """Event-log storage methods are not public API and change between releases."""
    import inspect

    from askpro_pipelines.sensors import alerts as module

    source = inspect.getsource(module)
    for private in ("event_log_storage", "get_logs_for_all_runs_by_log_id", "get_maximum_record_id", "all_logs("):
        assert private not in source, private

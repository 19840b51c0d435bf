"""Failure alerts to a Slack-compatible incoming webhook and/or e-mail.

Alerts are optional: with nothing configured `send` does nothing, so local runs and tests need no
setup. Unset fields fall back to environment variables read when an alert is sent (never at
import), so a deployment turns alerts on without code changes and a missing variable cannot break
loading the code location. Each channel fails on its own: a dead webhook never stops the e-mail.
Webhook paths (a Slack webhook URL is its own credential) and SMTP credentials never reach a log.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal
from urllib.parse import urlsplit

import httpx
from dagster import ConfigurableResource
from pydantic import Field

from askpro_pipelines.redaction import install_log_redaction, redact_known, register_secret

__all__ = ["Alert", "AlertKind", "AlertsResource"]

logger = logging.getLogger("askpro_pipelines.alerts")

AlertKind = Literal["run_failure", "check_failure"]
TITLE_PREFIX = "[askpro]"
MAX_LINE_CHARS = 300
MAX_REPLY_CHARS = 200
DEFAULT_SMTP_PORT = 25
DEFAULT_MAIL_FROM_USER = "askpro-pipelines"


def _one_line(text: str) -> str:
    """The first non-blank line, shortened: alerts must stay readable on a phone screen."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


@dataclass
class Alert:
    """One failure worth a human's attention, already reduced to what identifies it."""

    kind: AlertKind
    tenant: str | None
    asset: str | None
    partition: str | None
    error_first_line: str
    run_id: str | None = None
    job: str | None = None
    url: str | None = None
    check: str | None = None  # the asset check's name, for check failures

    def __post_init__(self) -> None:
        # A second line of a traceback or check description is noise in a chat message.
        self.error_first_line = _one_line(self.error_first_line) or "no error message"

    @property
    def title(self) -> str:
        """One line, e.g. "[askpro] run failed: tenant praxis-x, asset calcom_event_types, partition praxis-x"."""
        what = "run failed" if self.kind == "run_failure" else "check failed"
        parts = [
            f"{label} {_one_line(value)}"
            for label, value in (
                ("tenant", self.tenant),
                ("asset", self.asset),
                ("check", self.check),
                ("partition", self.partition),
            )
            if value
        ]
        return f"{TITLE_PREFIX} {what}" + (f": {', '.join(parts)}" if parts else "")

    def _details(self) -> list[tuple[str, str]]:
        rows = (
            ("Tenant", self.tenant),
            ("Asset", self.asset),
            ("Check", self.check),
            ("Partition", self.partition),
            ("Job", self.job),
            ("Run", self.run_id),
        )
        return [(label, _one_line(value)) for label, value in rows if value]

    @property
    def text(self) -> str:
        """Plain-text body (the e-mail): title, the error line, then one labelled detail per line."""
        lines = [self.title, "", self.error_first_line, ""]
        lines += [f"{label + ':':<11}{value}" for label, value in self._details()]
        if self.url:
            lines.append(f"{'Dagster:':<11}{self.url}")
        return "\n".join(lines) + "\n"

    @property
    def slack_text(self) -> str:
        """Incoming-webhook text: the title as a short first line, the error in a code block."""
        lines = [_slack_escape(self.title), f"```{_slack_code(self.error_first_line)}```"]
        footer = [
            f"{label} `{_slack_code(value)}`" for label, value in (("job", self.job), ("run", self.run_id)) if value
        ]
        if self.url:
            footer.append(f"<{_slack_escape(self.url)}|open in Dagster>")
        if footer:
            lines.append(" · ".join(footer))
        return "\n".join(lines)


def _slack_escape(text: str) -> str:
    """Slack reads &, < and > as markup (links, mentions), so text from errors must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_code(text: str) -> str:
    """Escaped text for inside backticks, where a backtick of its own would end the code span."""
    return _slack_escape(_one_line(text)).replace("`", "'")


# ---- log redaction ---------------------------------------------------------------------------


def _register_secret_url(url: str) -> str:
    """Mask `url`'s path and query in logs and errors (httpx logs it); returns its loggable form."""
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}/***" if parts.netloc else "***"
    secret_tail = url[len(f"{parts.scheme}://{parts.netloc}") :] if parts.netloc else url
    register_secret(url, shown)
    if secret_tail not in ("", "/"):
        register_secret(secret_tail, "/***")
    install_log_redaction()
    return shown


# ---- the resource ----------------------------------------------------------------------------


@dataclass
class _EmailSettings:
    host: str | None
    port: str | int | None
    username: str | None
    password: str | None
    starttls: bool
    mail_from: str | None
    mail_to: list[str] = field(default_factory=list)


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


class AlertsResource(ConfigurableResource):  # type: ignore[type-arg]  # not parametrised in Dagster's own usage
    """Where failure alerts go: a Slack-compatible incoming webhook, e-mail, both, or nowhere.

    Every unset field falls back to its ASKPRO_* environment variable at send time.
    """

    webhook_url: str | None = Field(
        default=None,
        description="Slack-compatible incoming webhook URL (a secret). Empty: ASKPRO_ALERT_WEBHOOK_URL.",
    )
    smtp_host: str | None = Field(default=None, description="SMTP relay host. Empty: ASKPRO_SMTP_HOST.")
    smtp_port: int | None = Field(default=None, description="SMTP port. Empty: ASKPRO_SMTP_PORT, else 25.")
    smtp_username: str | None = Field(default=None, description="SMTP login. Empty: ASKPRO_SMTP_USERNAME (no login).")
    smtp_password: str | None = Field(
        default=None, description="SMTP password (a secret). Empty: ASKPRO_SMTP_PASSWORD."
    )
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS before login.")
    mail_from: str | None = Field(
        default=None,
        description="Sender address. Empty: ASKPRO_ALERT_EMAIL_FROM, else the SMTP login if it is an address, "
        "else askpro-pipelines@<smtp host>.",
    )
    mail_to: list[str] = Field(
        default_factory=list, description="Recipients. Empty: ASKPRO_ALERT_EMAIL_TO (comma-separated)."
    )
    timeout_s: float = Field(default=10, description="Timeout of each webhook request and SMTP operation, in seconds.")

    # -- resolution (at use time) --

    def _webhook(self) -> str | None:
        return self.webhook_url or _env("ASKPRO_ALERT_WEBHOOK_URL")

    def _email(self) -> _EmailSettings:
        recipients = self.mail_to or (_env("ASKPRO_ALERT_EMAIL_TO") or "").split(",")
        return _EmailSettings(
            host=self.smtp_host or _env("ASKPRO_SMTP_HOST"),
            port=self.smtp_port if self.smtp_port is not None else _env("ASKPRO_SMTP_PORT"),
            username=self.smtp_username or _env("ASKPRO_SMTP_USERNAME"),
            password=self.smtp_password or _env("ASKPRO_SMTP_PASSWORD"),
            starttls=self.smtp_starttls,
            mail_from=self.mail_from or _env("ASKPRO_ALERT_EMAIL_FROM"),
            mail_to=[address.strip() for address in recipients if address.strip()],
        )

    def configured_channels(self) -> list[str]:
        """Channels with any configuration, so callers can tell "not configured" from "all failed"."""
        email = self._email()
        channels = ["webhook"] if self._webhook() else []
        if email.host or email.mail_to:
            channels.append("email")
        return channels

    # -- sending --

    def send(self, alert: Alert) -> list[str]:
        """Deliver `alert` on every configured channel; returns the channels that accepted it.

        A failing channel is logged (without secrets) and does not stop the others; nothing
        configured returns [] without a word, because alerts are optional.
        """
        delivered: list[str] = []
        webhook = self._webhook()
        if webhook:
            shown = _register_secret_url(webhook)
            try:
                self._post_webhook(webhook, alert)
                delivered.append("webhook")
            except Exception as exc:  # noqa: BLE001 - any failure of this channel must not stop the next
                detail = redact_known(f"{type(exc).__name__}: {exc}")
                logger.warning("alert webhook %s failed: %s", shown, detail)

        email = self._email()
        if email.host or email.mail_to:
            try:
                self._send_email(email, alert)
                delivered.append("email")
            except Exception as exc:  # noqa: BLE001 - the webhook result above must still be reported
                # A server may echo the credentials in its rejection (smtplib puts replies in errors).
                detail = redact_known(f"{type(exc).__name__}: {exc}", [email.password or ""])
                logger.warning("alert e-mail via %s failed: %s", email.host or "(no SMTP host)", detail)
        return delivered

    def _post_webhook(self, url: str, alert: Alert) -> None:
        response = httpx.post(url, json={"text": alert.slack_text}, timeout=self.timeout_s)
        if not response.is_success:
            # Not raise_for_status(): its message carries the full (secret) URL.
            reply = " ".join(response.text.split())[:MAX_REPLY_CHARS]
            raise WebhookRejected(f"HTTP {response.status_code}" + (f": {reply}" if reply else ""))

    def _send_email(self, settings: _EmailSettings, alert: Alert) -> None:
        if not settings.host:
            raise EmailNotConfigured("recipients are set but no SMTP host (ASKPRO_SMTP_HOST)")
        if not settings.mail_to:
            raise EmailNotConfigured("an SMTP host is set but no recipients (ASKPRO_ALERT_EMAIL_TO)")
        port = DEFAULT_SMTP_PORT if settings.port is None else int(settings.port)
        sender = settings.mail_from or (
            settings.username
            if settings.username and "@" in settings.username
            else f"{DEFAULT_MAIL_FROM_USER}@{settings.host}"
        )

        message = EmailMessage()
        message["Subject"] = alert.title
        message["From"] = sender
        message["To"] = ", ".join(settings.mail_to)
        message["Date"] = formatdate(localtime=True)
        # An explicit domain: the default asks DNS for this host's FQDN, which can hang offline.
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or settings.host)
        message.set_content(alert.text)

        with smtplib.SMTP(settings.host, port, timeout=self.timeout_s) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)


class WebhookRejected(Exception):
    """The webhook answered with a non-2xx status."""


class EmailNotConfigured(Exception):
    """Half of the e-mail settings are present: worth a warning, since someone meant to turn it on."""

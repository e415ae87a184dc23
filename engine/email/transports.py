"""How an email leaves: an SMTP server (STARTTLS when it offers it, or implicit TLS), or the
signed review webhook for owners whose email provider does the sending."""

import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session

from engine.errors import EngineError, InvalidInput
from engine.outbox import enqueue


class SendFailed(EngineError):
    """The transport refused or could not take a message; `permanent` when retrying is futile
    (the server answered 5xx for the recipient or the message)."""

    code = "send_failed"

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpServer:
    """Where SMTP_URL points: host, port, credentials, and whether TLS is implicit."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool


def parse_smtp_url(url: str) -> SmtpServer:
    """smtp://user:pass@host:port (587 by default) or smtps://... (465 by default)."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise InvalidInput(
            "must look like smtp://user:pass@host:port or smtps://...", field="SMTP_URL"
        )
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 587)
    except ValueError:
        raise InvalidInput("has a port that is no number", field="SMTP_URL") from None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
    )


class SmtpTransport:
    """Sends through one SMTP connection, opened on first use and reopened after an error."""

    name = "smtp"

    def __init__(
        self, server: SmtpServer, *, context: ssl.SSLContext | None = None, timeout: float = 30.0
    ) -> None:
        self.server = server
        self._context = context or ssl.create_default_context()
        self._timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self._timeout, context=self._context
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
            smtp.ehlo()
            # Credentials and customers' addresses never cross the network in the clear when
            # the server can encrypt.
            if smtp.has_extn("starttls"):
                smtp.starttls(context=self._context)
                smtp.ehlo()
        if server.username:
            smtp.login(server.username, server.password or "")
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Hand one message to the server; SendFailed says whether a retry may help."""
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused: dict[str, Any] = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            codes = [code for code, _ in error.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise SendFailed(f"recipient refused: {codes}", permanent=permanent) from None
        except smtplib.SMTPResponseException as error:
            self.close()
            raise SendFailed(
                f"server answered {error.smtp_code}", permanent=error.smtp_code >= 500
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise SendFailed(f"{type(error).__name__}: {error}", permanent=False) from None
        if refused:
            raise SendFailed(f"recipient refused: {sorted(refused)}", permanent=True)

    def close(self) -> None:
        """Quit the connection, if one is open."""
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None


class WebhookTransport:
    """Pushes each message as a `draft.approved` event through the signed review webhook, in the
    transaction that marks it sent: the provider behind the webhook sends it."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        self.url = url

    def enqueue(self, session: Session, message: EmailMessage, *, draft_id: int) -> None:
        """Queue the rendered message for the webhook in the caller's transaction."""
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        payload = {
            "draft": {"id": draft_id},
            "message": {
                "headers": {key: str(value) for key, value in message.items()},
                "text": text.get_content() if text is not None else None,
                "html": html.get_content() if html is not None else None,
                "raw": message.as_string(),
            },
        }
        enqueue(session, draft_id=draft_id, event="draft.approved", payload=payload, url=self.url)


Transport = SmtpTransport | WebhookTransport

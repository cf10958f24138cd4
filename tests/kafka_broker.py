"""The shared Kafka broker fixture: a real Tansu broker on a free loopback port.

Use it from a ``conftest.py``::

    from kafka_broker import kafka_bootstrap  # noqa: F401

then ask for ``kafka_bootstrap`` (``"127.0.0.1:PORT"``) in a test. One broker serves the
whole session, with memory storage; give each test its own topic and group names.
The launcher itself is :func:`datacanary.stream.broker.local_broker`, shared with the
benchmark and the demo.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datacanary.errors import MissingDependencyError
from datacanary.stream.broker import local_broker

__all__ = ["kafka_bootstrap"]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``"127.0.0.1:PORT"`` of a Tansu broker that lives for the test session."""
    try:
        launcher = local_broker(timeout=30.0)
        bootstrap = launcher.__enter__()
    except MissingDependencyError as error:
        pytest.skip(f"the Kafka tests need the tansu broker: {error}")
    try:
        yield bootstrap
    finally:
        launcher.__exit__(None, None, None)

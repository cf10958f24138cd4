from __future__ import annotations

from kafka_broker import kafka_bootstrap  # noqa: F401

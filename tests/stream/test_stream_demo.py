from __future__ import annotations

import io
import uuid

import pytest
from rich.console import Console

from datacanary.stream import stream_demo


def test_stream_demo_shows_alerts_anomalies_and_dead_letters(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    topic = f"demo-{uuid.uuid4().hex[:8]}"
    stats = stream_demo(
        events=6_000, bootstrap=kafka_bootstrap, topic=topic, console=Console(file=out, width=140)
    )

    text = out.getvalue()
    assert stats.consumed == 6_000 and stats.stopped_by == "max-messages"
    assert stats.dead_letters == 2  # events 2,502 and 5,005 are malformed
    assert f"{topic}.dead-letter: 2 messages" in text
    assert "Caught 6 of 6 injected row anomalies" in text
    alerts = capsys.readouterr().out  # the demo's stdout alert sink
    assert f"[WARNING · {topic} · row] {topic} row {{" in alerts

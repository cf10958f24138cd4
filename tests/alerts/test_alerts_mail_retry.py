"""E-mail retried after a timeout is delivered once, against a real (slow) SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from typing import Any

from datacanary.alerts import Alert, AlertDispatcher, EmailSink
from datacanary.results import Verdict


def failing() -> Verdict:
    return Verdict.judge("row_count", 12, 9800, 10400, score=9.0, detector="mad",
                         history_size=14, dataset="orders")  # fmt: skip


class _SlowToAccept:
    """Accepts every message, but answers the end of DATA only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        await asyncio.sleep(self.delay)
        return "250 Message accepted"


def _start(handler: _SlowToAccept) -> tuple[Any, int]:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def test_alerts_email_timed_out_attempt_that_delivers_is_not_sent_again() -> None:
    handler = _SlowToAccept(delay=1.5)  # 3x the sink's timeout
    controller, port = _start(handler)
    try:
        sink = EmailSink(
            host="127.0.0.1", port=port, sender="canary@example.com",
            recipients=["ops@example.com"], timeout=0.5, retries=4,
        )  # fmt: skip
        dispatcher = AlertDispatcher([sink], backoff=0.05, max_backoff=0.1, time_limit=10)
        report = dispatcher.dispatch([Alert.from_verdict(failing())])
        time.sleep(2.0)  # any thread left behind would deliver a second copy by now
    finally:
        controller.stop()
    assert report.ok, report.summary()
    assert report.delivered[0].attempts >= 2  # the first attempt did time out
    assert len(handler.messages) == 1
    assert handler.messages[0]["Subject"].startswith("[datacanary] WARNING · orders · row_count")


def test_alerts_email_slow_server_is_still_one_message_per_alert() -> None:
    handler = _SlowToAccept(delay=0.3)
    controller, port = _start(handler)
    try:
        sink = EmailSink(
            host="127.0.0.1", port=port, sender="canary@example.com",
            recipients=["ops@example.com"], timeout=0.2, retries=6,
        )  # fmt: skip
        dispatcher = AlertDispatcher([sink], backoff=0.01, max_backoff=0.02, time_limit=10)
        verdicts = [
            failing(),
            Verdict.judge(
                "null_fraction",
                0.5,
                0.0,
                0.01,
                score=9.0,
                detector="mad",
                history_size=14,
                dataset="orders",
            ),
        ]
        report = dispatcher.dispatch([Alert.from_verdict(v) for v in verdicts])
        time.sleep(1.0)
    finally:
        controller.stop()
    assert report.ok, report.summary()
    subjects = sorted(str(m["Subject"]).split(" · ")[2].split(":")[0] for m in handler.messages)
    assert subjects == ["null_fraction", "row_count"]  # each once

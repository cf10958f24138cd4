from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datacanary.alerts import Alert, AlertDispatcher, EmailSink, build_sink
from datacanary.results import Verdict

StartSmtp = Callable[..., Any]  # the smtp_server_factory fixture (conftest.py)


def failing() -> Verdict:
    return Verdict.judge("row_count", 12, 9800, 10400, score=9.0, detector="mad",
                         history_size=14, dataset="orders")  # fmt: skip


def test_alerts_email_plain_smtp_receives_text_and_html(smtp_server_factory: StartSmtp) -> None:
    server = smtp_server_factory()
    sink = build_sink(
        {"type": "email", "host": server.host, "port": server.port, "sender": "canary@example.com",
         "recipients": ["ops@example.com", "data@example.com"]}
    )  # fmt: skip
    report = AlertDispatcher([sink]).dispatch([Alert.from_verdict(failing(), severity="critical")])
    assert report.ok, report.summary()
    (message,) = server.messages
    assert server.envelopes == [("canary@example.com", ["ops@example.com", "data@example.com"])]
    assert message["Subject"] == (
        "[datacanary] CRITICAL · orders · row_count: row_count 12 is below the expected "
        "9,800–10,400 from the last 14 runs"
    )
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Expected: 9,800–10,400" in text and "Key:      orders:row_count" in text
    assert "<th align='left' style='padding-right:1em'>Value</th><td>12</td>" in html


def test_alerts_email_starttls_and_login(
    smtp_server_factory: StartSmtp,
    tls_cert: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server_factory(starttls=True, login=("canary", "pw"))
    monkeypatch.setenv("SMTP_USER", "canary")
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    sink = build_sink(
        {"type": "email", "host": server.host, "port": server.port, "starttls": True,
         "ca_file": str(tls_cert[0]), "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD",
         "sender": "canary@example.com", "recipients": "ops@example.com"}
    )  # fmt: skip
    report = AlertDispatcher([sink]).dispatch([failing()])
    assert report.ok, report.summary()
    assert server.logins == ["canary"]
    assert len(server.messages) == 1


def test_alerts_email_wrong_password_fails_at_once_without_the_password(
    smtp_server_factory: StartSmtp, tls_cert: tuple[Path, Path]
) -> None:
    server = smtp_server_factory(starttls=True, login=("canary", "pw"))
    sink = EmailSink(
        host=server.host, port=server.port, starttls=True, ca_file=tls_cert[0],
        username="canary", password="wrong-pw", sender="c@example.com",
        recipients=["ops@example.com"], retries=3,
    )  # fmt: skip
    (failure,) = AlertDispatcher([sink]).dispatch([failing()]).failed
    assert failure.error.startswith(
        f"SMTP server 127.0.0.1:{server.port} refused the login of 'canary' (535)"
    )
    assert "(1 attempt," in failure.error and "wrong-pw" not in failure.error
    assert server.messages == []


def test_alerts_email_untrusted_certificate_names_the_fix(smtp_server_factory: StartSmtp) -> None:
    server = smtp_server_factory(starttls=True)
    sink = EmailSink(host=server.host, port=server.port, starttls=True,
                     sender="c@example.com", recipients=["ops@example.com"])  # fmt: skip
    (failure,) = AlertDispatcher([sink]).dispatch([failing()]).failed
    assert "presented a certificate that is not trusted" in failure.error
    assert "set ca_file" in failure.error


def test_alerts_email_server_down_is_reported(dead_port: int) -> None:
    sink = EmailSink(host="127.0.0.1", port=dead_port, sender="c@example.com",
                     recipients=["ops@example.com"], retries=1, timeout=1)  # fmt: skip
    report = AlertDispatcher([sink], backoff=0.05).dispatch([failing()])
    (failure,) = report.failed
    assert failure.error.startswith("ConnectionRefusedError: ")
    assert "(2 attempts" in failure.error

"""E-mail over SMTP (``smtplib`` in a worker thread): a clear subject, text and HTML bodies."""

from __future__ import annotations

import asyncio
import html
import smtplib
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from ssl import SSLCertVerificationError, SSLContext, create_default_context

from datacanary.alerts._models import Alert, jsonable
from datacanary.alerts._sinks.base import AlertSink
from datacanary.errors import DeliveryError
from datacanary.results import format_number

__all__ = ["EmailSink", "email_message"]

_EXECUTOR: ThreadPoolExecutor | None = None

DATA_REPLY_TIMEOUT = 60.0
"""Seconds the worker thread waits for the server's reply to a message it has handed over.

Longer than an attempt's ``timeout`` on purpose: a server that takes long to accept a
message has usually accepted it, and giving up on it then retrying sends it twice. The
attempt itself still ends at ``timeout``; the next attempt waits for this reply instead of
sending again (RFC 5321 section 4.5.3.2 suggests 10 minutes for it).
"""


def _executor() -> ThreadPoolExecutor:
    """Threads for blocking SMTP calls; a stuck call cannot hold up ``asyncio.run``'s exit."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="datacanary-smtp")
    return _EXECUTOR


def _facts(alert: Alert) -> list[tuple[str, str]]:
    facts = [("Dataset", alert.dataset or "-"), ("What", alert.subject)]
    if alert.row is not None:
        facts.append(("Row", ", ".join(f"{k}={v}" for k, v in jsonable(alert.row).items())))
        if alert.explanation:
            facts.append(("Stands out on", alert.explanation))
    else:
        facts += [("Value", format_number(alert.value)), ("Expected", alert.expected_text)]
    if alert.score is not None:
        facts.append(("Score", format_number(alert.score)))
    if alert.detector:
        facts.append(("Detector", alert.detector))
    facts += [
        ("Severity", alert.severity.value),
        ("Observed", alert.observed_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Key", alert.key),
    ]
    return facts


def email_message(
    alert: Alert, *, sender: str, recipients: Sequence[str], subject_prefix: str = "[datacanary]"
) -> EmailMessage:
    """The e-mail for one alert: plain text with a simple HTML alternative.

    >>> from datacanary.results import Verdict
    >>> v = Verdict.judge("row_count", 1204, 9800, 10400, score=31.2, detector="mad",
    ...                   history_size=14, dataset="orders")
    >>> msg = email_message(Alert.from_verdict(v), sender="canary@example.com",
    ...                     recipients=["ops@example.com"])
    >>> msg["Subject"]
    '[datacanary] WARNING · orders · row_count: row_count 1,204 is below the expected ...'
    >>> msg.get_content_type(), [p.get_content_type() for p in msg.iter_parts()]
    ('multipart/alternative', ['text/plain', 'text/html'])
    """
    subject = f"{subject_prefix} {alert.title}: {alert.sentence}".strip()
    if len(subject) > 200:
        subject = subject[:199] + "…"
    facts = _facts(alert)
    width = max(len(k) for k, _ in facts)
    text = "\n".join(
        [alert.title, "", alert.sentence, "", *(f"{k + ':':<{width + 1}} {v}" for k, v in facts)]
    )
    rows = "".join(
        f"<tr><th align='left' style='padding-right:1em'>{html.escape(k)}</th>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in facts
    )
    colour = "#2e7d32" if alert.kind == "recovery" else "#c62828"
    body = (
        f"<html><body><h2 style='color:{colour}'>{html.escape(alert.title)}</h2>"
        f"<p>{html.escape(alert.sentence)}</p><table>{rows}</table></body></html>"
    )
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text + "\n")
    message.add_alternative(body, subtype="html")
    return message


class _Stopped(ConnectionError):
    """The attempt this SMTP call served gave up before the message was handed over."""


@dataclass(eq=False)
class _InFlight:
    """One alert's e-mail: the message (one Message-ID for every try) and its last try."""

    message: EmailMessage
    future: Future[None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass(kw_only=True, eq=False)
class EmailSink(AlertSink):
    """Send each alert as one e-mail through an SMTP server.

    ``starttls`` upgrades a plain connection (port 587); ``ssl`` speaks TLS from the start
    (port 465); ``ca_file`` trusts a private CA. A login is only sent over TLS.
    """

    name: str = "email"
    host: str
    port: int = 587
    sender: str
    recipients: Sequence[str]
    starttls: bool = False
    ssl: bool = False
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    subject_prefix: str = "[datacanary]"

    _in_flight: dict[str, _InFlight] = field(default_factory=dict, init=False, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The SMTP password."""
        return (self.password,) if self.password else ()

    async def send(self, alert: Alert) -> None:
        """Send one e-mail; runs ``smtplib`` in a worker thread, never twice for one alert.

        A thread cannot be killed, so an attempt that times out tells its thread to stop
        before its next SMTP step; a message already being handed over finishes. The next
        attempt for the same alert first waits for that thread: when it delivered, nothing
        is sent again; only when it failed is a new e-mail (same Message-ID) sent.
        """
        ident = f"{alert.kind}|{alert.key}|{alert.observed_at.isoformat()}"
        pending = self._in_flight.get(ident)
        if pending is not None and pending.future is not None:
            try:
                await asyncio.shield(asyncio.wrap_future(pending.future))
            except asyncio.CancelledError:
                raise  # this attempt ran out too; the earlier one may still deliver
            except Exception:
                pass  # the earlier attempt failed: send again below
            else:
                del self._in_flight[ident]  # the earlier attempt delivered it after all
                return
        if pending is None:
            message = email_message(
                alert,
                sender=self.sender,
                recipients=self.recipients,
                subject_prefix=self.subject_prefix,
            )
            pending = self._in_flight[ident] = _InFlight(message)
        pending.stop = threading.Event()
        pending.future = _executor().submit(self._send_blocking, pending.message, pending.stop)
        try:
            await asyncio.shield(asyncio.wrap_future(pending.future))
        except asyncio.CancelledError:
            pending.stop.set()  # no new SMTP step starts; one under way finishes on its own
            raise
        except BaseException:
            self._in_flight.pop(ident, None)
            raise
        self._in_flight.pop(ident, None)

    def _tls(self) -> SSLContext:
        return create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def _send_blocking(self, message: EmailMessage, stop: threading.Event | None = None) -> None:
        where = f"SMTP server {self.host}:{self.port}"

        def check() -> None:
            if stop is not None and stop.is_set():
                raise _Stopped(f"{where}: the attempt timed out before the message was sent")

        if self.username and not (self.starttls or self.ssl):
            raise DeliveryError(
                f"email sink {self.name!r} would send a password unencrypted to {where}; "
                "set starttls: true (port 587) or ssl: true (port 465)"
            )
        try:
            check()
            smtp: smtplib.SMTP
            if self.ssl:
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._tls()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                check()
                if self.starttls:
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if self.username:
                    check()
                    smtp.login(self.username, self.password or "")
                check()  # past here the message is handed over: a late stop lets it finish
                if smtp.sock is not None:  # wait for the server's verdict on the message
                    smtp.sock.settimeout(max(self.timeout, DATA_REPLY_TIMEOUT))
                smtp.send_message(message, from_addr=self.sender, to_addrs=list(self.recipients))
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"{where} refused the login of {self.username!r} "
                f"({error.smtp_code}); check the username/password variables"
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(f"{where} does not support this: {error}") from None
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError(
                f"{where} refused the recipients {sorted(error.recipients)}"
            ) from None
        except smtplib.SMTPResponseException as error:
            text = (
                error.smtp_error.decode(errors="replace")
                if isinstance(error.smtp_error, bytes)
                else str(error.smtp_error)
            )
            sentence = f"{where} answered {error.smtp_code} {text}"
            if error.smtp_code >= 500:  # permanent: retrying will not help
                raise DeliveryError(sentence) from None
            raise ConnectionError(sentence) from None
        except SSLCertVerificationError as error:
            raise DeliveryError(
                f"{where} presented a certificate that is not trusted ({error.verify_message}); "
                "set ca_file to the CA that signed it"
            ) from None

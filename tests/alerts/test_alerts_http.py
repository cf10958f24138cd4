from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from pytest_httpserver import HTTPServer

from datacanary.alerts import (
    SIGNATURE_HEADER,
    Alert,
    AlertDispatcher,
    SlackSink,
    WebhookSink,
    build_sink,
)
from datacanary.results import Verdict


def failing(metric: str = "row_count") -> Verdict:
    return Verdict.judge(metric, 12, 9800, 10400, score=9.0, detector="mad",
                         history_size=14, dataset="orders")  # fmt: skip


def test_alerts_slack_posts_readable_blocks(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/services/T0/B0/xyz", method="POST").respond_with_data("ok")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", httpserver.url_for("/services/T0/B0/xyz"))
    sink = build_sink({"type": "slack", "webhook_url_env": "SLACK_WEBHOOK_URL"})
    alert = Alert.from_verdict(failing(), severity="critical")
    report = AlertDispatcher([sink]).dispatch([alert])
    assert report.ok and [d.sink for d in report.delivered] == ["slack"]
    (request, _), *_ = httpserver.log
    body = json.loads(request.get_data())
    assert body["text"].startswith("CRITICAL · orders · row_count: row_count 12 is below")
    header, sentence, fields, context = body["blocks"]
    assert header["text"]["text"] == ":rotating_light: CRITICAL · orders · row_count"
    assert sentence["text"]["text"] == alert.sentence
    assert {f["text"] for f in fields["fields"]} >= {"*Value*\n12", "*Expected*\n9,800–10,400"}
    assert "orders:row_count" in context["elements"][0]["text"]


def test_alerts_webhook_posts_signed_stable_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    sink = WebhookSink(url=httpserver.url_for("/hook"), secret="s3cret", headers={"X-Team": "data"})
    report = AlertDispatcher([sink]).dispatch([failing()])
    assert report.ok
    (request, _), *_ = httpserver.log
    raw = request.get_data()
    expected = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == expected
    assert request.headers["X-Team"] == "data"
    assert request.headers["Content-Type"].startswith("application/json")
    payload = json.loads(raw)
    assert payload["schema"] == "datacanary.alert/1"
    assert (payload["key"], payload["kind"], payload["value"]) == (
        "orders:row_count",
        "anomaly",
        12,
    )


def test_alerts_webhook_500_then_200_is_retried_and_delivered(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    sink = WebhookSink(url=httpserver.url_for("/hook"), retries=3)
    report = AlertDispatcher([sink], backoff=0.05, seed=1).dispatch([failing()])
    assert report.ok
    assert report.delivered[0].attempts == 2
    assert [r.status_code for _, r in httpserver.log] == [500, 200]


def test_alerts_webhook_4xx_is_not_retried_and_slack_url_stays_secret(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/services/T0/B0/xyz").respond_with_data("no_service", status=404)
    url = httpserver.url_for("/services/T0/B0/xyz")
    report = AlertDispatcher([SlackSink(webhook_url=url)], backoff=0.05).dispatch([failing()])
    (failure,) = report.failed
    assert failure.sink == "slack" and failure.key == "orders:row_count"
    assert failure.error.startswith("Slack answered HTTP 404: no_service (1 attempt, ")
    assert len(httpserver.log) == 1
    assert "xyz" not in report.summary()


def test_alerts_failed_delivery_is_retried_on_the_next_run(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    dispatcher = AlertDispatcher([WebhookSink(url=httpserver.url_for("/hook"), retries=0)])
    assert len(dispatcher.dispatch([failing()]).failed) == 1
    assert [d.kind for d in dispatcher.dispatch([failing()]).delivered] == ["anomaly"]


def test_alerts_dead_and_silent_hooks_fail_within_the_bound_others_deliver(
    httpserver: HTTPServer, silent_url: str, dead_port: int
) -> None:
    httpserver.expect_request("/slack").respond_with_data("ok")
    sinks = [
        WebhookSink(name="silent", url=silent_url, timeout=0.4, retries=10),
        WebhookSink(name="dead", url=f"http://127.0.0.1:{dead_port}/hook", timeout=0.4, retries=2),
        SlackSink(webhook_url=httpserver.url_for("/slack")),
    ]
    dispatcher = AlertDispatcher(sinks, time_limit=1.5, backoff=0.05, seed=3)
    started = time.monotonic()
    report = dispatcher.dispatch([failing("row_count"), failing("null_count")])
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1.0, elapsed
    assert sorted(d.key for d in report.delivered if d.sink == "slack") == [
        "orders:null_count",
        "orders:row_count",
    ]
    failed = {(f.sink, f.key): f.error for f in report.failed}
    assert set(failed) == {
        ("silent", "orders:row_count"),
        ("silent", "orders:null_count"),
        ("dead", "orders:row_count"),
        ("dead", "orders:null_count"),
    }
    assert failed["silent", "orders:row_count"].startswith("no answer within 0.4 s")
    assert "limit ran out" in failed["silent", "orders:null_count"]
    assert failed["dead", "orders:row_count"].startswith("ConnectError: ")
    assert "(3 attempts" in failed["dead", "orders:row_count"]
    assert report.summary().startswith("alerts: 2 delivered, 0 suppressed, 4 failed (")


def test_alerts_error_page_echoing_the_secret_path_is_scrubbed(httpserver: HTTPServer) -> None:
    """A receiver's 500 page that echoes the request path never prints the webhook's secret."""
    secret_path = "/services/T0A1B2C3/B0D4E5F6/abcdefSECRETtoken"
    httpserver.expect_request(secret_path).respond_with_data(
        f"<h1>500</h1><p>upstream failed for POST {secret_path} "
        f"({httpserver.url_for(secret_path)}) token abcdefSECRETtoken</p>",
        status=500,
    )
    url = httpserver.url_for(secret_path)
    report = AlertDispatcher([SlackSink(webhook_url=url, retries=1)], backoff=0.01).dispatch(
        [failing()]
    )
    (failure,) = report.failed
    assert failure.error.startswith("Slack answered HTTP 500: <h1>500</h1><p>upstream failed")
    assert "SECRET" not in failure.error and "SECRET" not in report.summary()
    assert "T0A1B2C3" not in failure.error and "B0D4E5F6" not in failure.error
    assert f"http://{httpserver.host}:{httpserver.port}/…" in failure.error  # scheme://host/…
    assert len(httpserver.log) == 2  # the 500 was retried


def test_alerts_retry_after_is_honoured(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    sink = WebhookSink(url=httpserver.url_for("/hook"), retries=3)
    started = time.monotonic()
    report = AlertDispatcher([sink], backoff=0.01, max_backoff=0.02, seed=1).dispatch([failing()])
    assert report.ok and report.delivered[0].attempts == 2
    assert time.monotonic() - started >= 1.0  # the backoff alone is 0.02 s at most
    assert [r.status_code for _, r in httpserver.log] == [429, 200]


def test_alerts_retry_after_beyond_the_time_limit_gives_up_at_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data(
        "maintenance", status=503, headers={"Retry-After": "120"}
    )
    sink = WebhookSink(url=httpserver.url_for("/hook"), retries=5)
    started = time.monotonic()
    report = AlertDispatcher([sink], backoff=0.01, time_limit=5).dispatch([failing()])
    spent = time.monotonic() - started
    (failure,) = report.failed
    assert "asked to retry after 120 s" in failure.error
    assert "gave up as the 5 s limit ran out" in failure.error
    assert len(httpserver.log) == 1 and spent < 4  # no pointless retries before the wait

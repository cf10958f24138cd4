"""Numbers a person reads: durations, ids, the first run's schema sentence."""

from __future__ import annotations

from datacanary.alerts import Alert
from datacanary.results import Verdict, format_duration


def test_freshness_reads_as_a_duration_in_the_verdict_sentence() -> None:
    verdict = Verdict.judge(
        "freshness_seconds", 1_417_723_981, 3600, 4 * 3600, score=9.0, detector="mad",
        history_size=14, column="created_at",
    )  # fmt: skip
    assert verdict.message == (
        "freshness_seconds of created_at 44.9 years is above the expected 1 h–4 h "
        "from the last 14 runs"
    )
    assert "1,417,723,981" not in verdict.message
    assert [format_duration(s) for s in (11_520, 2.4 * 86_400, 59, 3600)] == [
        "3 h 12 min",
        "2.4 days",
        "59 s",
        "1 h",
    ]


def test_alert_rows_list_ids_plainly_and_fields_in_one_order() -> None:
    rows = [
        ({"id": 2183, "amount": 950.5, "country": "NZ"}, "country (rare: 0.1%)"),
        ({"id": 2184, "amount": 12_000.0, "country": "DE"}, "amount (+12σ)"),
    ]
    sentences = [Alert.from_row("orders", r, 0.9, why).sentence for r, why in rows]
    assert sentences[0].startswith("orders row {id=2183, amount=950.5, country=NZ}")
    assert sentences[1].startswith("orders row {id=2184, amount=12,000, country=DE}")


def test_the_first_schema_verdict_says_there_is_nothing_to_compare_yet() -> None:
    verdict = Verdict.insufficient("schema", None, detector="schema", history_size=0,
                                   min_history=1)  # fmt: skip
    assert verdict.message == "schema: first run, nothing to compare yet"

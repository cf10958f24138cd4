"""Reports of real tables: an ODDS set, a mixed-type table, a one-column table, a sampled
time series, a table with a metric history; each checked on its numbers and its page."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datacanary.errors import ColumnNotFoundError, ConfigError, InputError, SourceNotFoundError
from datacanary.report import Report, build_report, write_report

DATASETS = Path(
    os.environ.get("DATACANARY_DATASETS")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
)


def _dataset(relative: str) -> Path:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"{path} is missing; set DATACANARY_DATASETS to the shared datasets folder")
    return path


def _odds_parquet(name: str, folder: Path) -> Path:
    data = np.load(_dataset(f"odds/{name}.npz"))
    frame = pd.DataFrame(data["X"], columns=[f"x{i}" for i in range(data["X"].shape[1])])
    frame["y"] = data["y"]
    path = folder / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    return path


def _self_contained(html: str) -> None:
    """Every image inline, nothing fetched from anywhere."""
    sources = re.findall(r'<img [^>]*src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html


def test_report_of_an_odds_set_measures_detection_against_its_labels(tmp_path: Path) -> None:
    path = _odds_parquet("glass", tmp_path)
    report = build_report(path, label_column="y")

    o = report.overview
    assert (o.rows, o.columns, o.sample_rows, o.sampled) == (214, 8, 214, False)
    assert set(o.types.values()) == {"numeric"} and o.missing_cells == 0
    assert o.duplicate_rows == 1  # the dataset's README: glass holds one exact duplicate row
    assert o.identifier_columns == []
    x0 = report.columns[0]
    assert x0.name == "x0" and x0.image is not None
    assert x0.stats["mean"] == pytest.approx(pd.read_parquet(path)["x0"].mean())

    d = report.detection
    assert d is not None and d.scored_rows == 214 and d.label_column == "y"
    assert "y" not in d.features  # the labels are not a feature
    assert d.evaluation is not None and d.evaluation["roc_auc"] > 0.6
    assert d.roc is not None and d.pr is not None
    scores = [r["anomaly_score"] for r in d.top_rows]
    assert len(scores) == 20 and scores == sorted(scores, reverse=True)
    assert report.correlations is not None and report.trends == []

    html = report.to_html()
    _self_contained(html)
    assert "Against the labels in <code>y</code>" in html
    assert "ROC-AUC" in html and "The 20 most anomalous rows" in html
    assert len(html) < 1_500_000


def _mixed_frame(n: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    created = pd.Timestamp("2024-02-01") + pd.to_timedelta(np.sort(rng.uniform(0, 20, n)), "D")
    created = pd.Series(created)
    created[rng.random(n) < 0.03] = pd.NaT
    amount = np.round(np.exp(rng.normal(3.0, 0.4, n)), 2)
    amount[[5, n // 2, n - 3]] = [4000.0, 5200.0, -900.0]
    amount[rng.random(n) < 0.05] = np.nan
    country = rng.choice(["DE", "FR", "NL", "<b>ES</b>"], n).astype(object)
    country[rng.random(n) < 0.1] = None
    note = np.array([f"note {i % 400} " * (1 + i % 400 % 3) for i in range(n)], dtype=object)
    note[rng.random(n) < 0.2] = None
    return pd.DataFrame(
        {
            "order_id": np.arange(10_000, 10_000 + n),
            "created_at": created,
            "amount": amount,
            "quantity": rng.integers(1, 6, n),
            "country": country,
            "is_gift": rng.random(n) < 0.1,
            "note": note,
        }
    )


def test_report_of_a_mixed_table_with_missing_values_and_timestamps(tmp_path: Path) -> None:
    frame = _mixed_frame()
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path, index=False)
    report = build_report(path)

    o = report.overview
    assert o.rows == len(frame) and o.columns == 7
    assert dict(o.types) == {
        "order_id": "numeric",
        "created_at": "datetime",
        "amount": "numeric",
        "quantity": "numeric",
        "country": "categorical",
        "is_gift": "boolean",
        "note": "text",
    }
    assert o.missing_cells == int(frame.isna().sum().sum())
    assert o.identifier_columns == ["order_id"]
    assert o.duplicate_rows == 0

    by_name = {c.name: c for c in report.columns}
    amount = by_name["amount"]
    assert amount.stats["null_count"] == int(frame["amount"].isna().sum())
    d = report.detection
    assert d is not None
    # one notion of an outlier: a column counts the flagged rows whose explanation names it
    named = sum(1 for row in d.top_rows if row["is_anomaly"] and "amount" in row["explanation"])
    assert amount.flagged_rows == d.flagged_by_column.get("amount", 0) >= named
    assert sum(c.flagged_rows or 0 for c in report.columns) >= d.n_anomalies > 0
    assert by_name["country"].top_values[0][1] == int(frame["country"].value_counts().iloc[0])
    earliest = pd.Timestamp(by_name["created_at"].stats["min"])
    assert abs(earliest - frame["created_at"].min().tz_localize("UTC")) < pd.Timedelta("1ms")
    # an identifier gets no histogram (its ticks all read "70M"); every other column a plot
    assert by_name["order_id"].image is None
    assert all(c.image is not None for c in report.columns if c.name != "order_id")

    assert report.timestamp_column == "created_at"
    assert [i.alt for i in report.trends] == [
        "Rows per day by created_at",
        "amount over created_at",
    ]
    assert report.correlations is not None  # amount and quantity; the identifier left out
    assert report.detection is not None and report.detection.scored_rows == len(frame)

    html = report.to_html()
    _self_contained(html)
    assert "&lt;b&gt;ES&lt;/b&gt;" in html and "<b>ES</b>" not in html  # data is escaped
    assert 'id="trends"' in html and "identifier-like" in html
    assert "outliers" not in html  # no per-column badge beside the flagged rows
    assert f"{amount.flagged_rows:,} flagged row" in html and "one notion of an outlier" in html
    ids = [row["values"]["order_id"] for row in d.top_rows if row["values"].get("order_id")]
    assert any(i >= 1000 for i in ids)
    assert all(f">{i}<" in html for i in ids if i >= 1000)  # ids without thousands separators


def test_report_of_a_one_column_table(tmp_path: Path) -> None:
    values = pd.read_csv(_dataset("nab/data/realKnownCause/ambient_temperature_system_failure.csv"))
    path = tmp_path / "temperature.csv"
    values[["value"]].to_csv(path, index=False)
    report = build_report(path)

    assert (report.overview.rows, report.overview.columns) == (len(values), 1)
    (column,) = report.columns
    assert column.kind == "numeric" and column.stats["max"] == pytest.approx(values.value.max())
    assert report.correlations is None and report.trends == []
    d = report.detection
    assert d is not None and d.scored_rows == len(values)
    html = report.to_html()
    _self_contained(html)
    assert 'id="correlations"' not in html and 'id="trends"' not in html
    assert 'id="detection"' in html


def test_a_large_table_is_sampled_for_pictures_and_counted_in_full(tmp_path: Path) -> None:
    series = pd.read_csv(
        _dataset("nab/data/realKnownCause/nyc_taxi.csv"), parse_dates=["timestamp"]
    )
    path = tmp_path / "nyc_taxi.parquet"
    series.to_parquet(path, index=False)
    report = build_report(path, sample_rows=2000, seed=3)

    o = report.overview
    assert (o.rows, o.sample_rows, o.sampled, o.memory_estimated) == (len(series), 2000, True, True)
    assert o.duplicate_rows == int(series.duplicated().sum())  # counted in the engine, all rows
    assert any("sample of 2,000 of its 10,320 rows" in n for n in report.notes)
    value = next(c for c in report.columns if c.name == "value")
    assert value.stats["mean"] == pytest.approx(series.value.mean())
    assert report.detection is not None and report.detection.scored_rows == 2000
    assert report.detection.top_rows[0]["row"] is None  # sample positions mean nothing
    html = report.to_html()
    assert "a uniform random sample of 2,000 of its 10,320 rows" in html
    assert "≈ " in html  # estimated memory, approximate distinct counts


def _record_history(store: Path, dataset: str) -> None:
    from datacanary.store import open_store

    rng = np.random.default_rng(5)
    start = datetime(2026, 10, 1, 6, tzinfo=timezone.utc)
    with open_store(store) as history:
        for day in range(20):
            rows = 1200 + rng.normal(0, 20) if day != 17 else 300.0
            history.record_run(
                dataset,
                [
                    ("row_count", None, float(rows)),
                    ("null_fraction", "amount", float(0.05 + rng.normal(0, 0.003))),
                ],
                observed_at=start + timedelta(days=day),
            )


def test_report_draws_the_metric_history_of_the_dataset(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pd.DataFrame({"amount": np.arange(30.0)}).to_parquet(path, index=False)
    store = tmp_path / "history.duckdb"
    _record_history(store, "orders")
    report = build_report(path, store=str(store))  # the dataset is found by the file's name

    h = report.history
    assert h is not None and h.dataset == "orders" and h.message == ""
    by_subject = {m.subject: m for m in h.metrics}
    assert set(by_subject) == {"row_count", "null_fraction of amount"}
    rows = by_subject["row_count"]
    assert rows.runs == 20 and rows.flagged >= 1
    assert any("2026-10-18" in r and "below the expected" in r for r in rows.flagged_runs)
    assert h.metrics[0].subject == "row_count"  # flagged series first
    html = report.to_html()
    assert 'id="history"' in html and "row_count 300 is below the expected" in html


def test_history_section_explains_a_missing_store_or_dataset(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pd.DataFrame({"amount": np.arange(30.0)}).to_parquet(path, index=False)
    missing = tmp_path / "nowhere.duckdb"
    report = build_report(path, store=str(missing))
    assert report.history is not None and not report.history.metrics
    assert "No history store at" in report.history.message
    assert not missing.exists()  # a report never creates a store

    store = tmp_path / "history.duckdb"
    _record_history(store, "payments")
    _record_history(store, "refunds")
    other = build_report(path, store=str(store), dataset="shipments")
    assert other.history is not None and not other.history.metrics
    assert "no history of 'shipments' (datasets: payments, refunds)" in other.history.message
    chosen = build_report(path, store=str(store), dataset="refunds")
    assert chosen.history is not None and len(chosen.history.metrics) == 2


def test_labels_may_be_words_and_bad_labels_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame.loc[:4, ["a", "b"]] = 9.0
    frame["truth"] = np.where(frame.index < 5, "outlier", "normal")
    report = build_report(frame, label_column="truth")
    assert report.detection is not None and report.detection.evaluation is not None
    assert report.detection.evaluation["roc_auc"] > 0.9
    frame["truth"] = "maybe"
    with pytest.raises(InputError, match="label column 'truth' has values that are not labels"):
        build_report(frame, label_column="truth")


def test_bad_arguments_name_the_value_and_the_fix(tmp_path: Path) -> None:
    frame = pd.DataFrame({"amount": [1.0, 2.0, 3.0]})
    with pytest.raises(ColumnNotFoundError, match="'amuont' not found; did you mean 'amount'"):
        build_report(frame, label_column="amuont")
    with pytest.raises(ConfigError, match="sample_rows must be an integer of at least 10"):
        build_report(frame, sample_rows=5)
    with pytest.raises(SourceNotFoundError):
        build_report(tmp_path / "missing.parquet")
    report = build_report(frame)
    with pytest.raises(ConfigError, match="apply when building a report"):
        write_report(report, tmp_path / "r.html", method="lof")


def test_write_report_writes_one_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.r_[np.random.default_rng(0).normal(size=100), [25.0]]})
    report = build_report(frame, title="Sensor <x>")
    assert isinstance(report, Report)
    out = write_report(report, tmp_path / "deep" / "report.html")
    assert out == tmp_path / "deep" / "report.html"
    html = out.read_text(encoding="utf-8")
    assert html == report.to_html()
    assert html.startswith("<!DOCTYPE html>") and "<title>Sensor &lt;x&gt;</title>" in html
    _self_contained(html)


def test_report_of_a_postgres_table_counts_in_postgres(fresh_postgres_url: str) -> None:
    import psycopg

    rng = np.random.default_rng(8)
    amounts = np.round(rng.normal(50, 5, 300), 2).tolist()
    amounts[:3] = [900.0, -400.0, float("nan")]  # two outliers; NaN is missing, not an outlier
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    rows = [
        (i, amounts[i], ["DE", "FR", None][i % 3], start + timedelta(hours=i), i % 7 == 0)
        for i in range(300)
    ]
    rows += rows[10:12]  # two exact duplicates
    with psycopg.connect(fresh_postgres_url, autocommit=True) as con:
        con.execute(
            "CREATE TABLE orders (id bigint, amount double precision, country text, "
            "created timestamptz, paid boolean)"
        )
        with con.cursor().copy("COPY orders FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    report = build_report(f"{fresh_postgres_url}::public.orders")

    o = report.overview
    assert (o.rows, o.columns, o.duplicate_rows) == (302, 5, 2)
    assert o.types["created"] == "datetime" and o.types["paid"] == "boolean"
    assert o.missing_cells == 1 + 101  # the NaN amount, every third country (one duplicated)
    amount = next(c for c in report.columns if c.name == "amount")
    assert amount.stats["null_count"] == 1 and amount.flagged_rows is not None
    assert report.detection is not None and report.trends
    assert report.title == "Data report: public.orders"


MONITOR = """\
store: history.duckdb
datasets:
  - name: orders
    source: data/orders.parquet
    metrics:
      - row_count
      - null_fraction: {columns: [amount, country]}
      - schema
    detector: {name: mad, min_history: 3}
"""


def test_report_shows_every_verdict_the_check_printed(tmp_path: Path) -> None:
    """Schema changes and "cannot be computed" errors included, the monitor's metrics only."""
    from datacanary.checks import load_monitor, run_monitor

    (tmp_path / "data").mkdir()
    config_file = tmp_path / "monitor.yml"
    config_file.write_text(MONITOR, encoding="utf-8")
    config = load_monitor(config_file)
    rng = np.random.default_rng(2)
    printed: dict[datetime, list[str]] = {}
    start = datetime(2026, 10, 1, 6, tzinfo=timezone.utc)
    for day in range(8):
        frame = pd.DataFrame(
            {
                "amount": rng.normal(50, 5, 200),
                "country": rng.choice(["DE", "FR"], 200),
            }
        )
        if day == 6:  # renamed upstream for one load
            frame = frame.rename(columns={"amount": "amount_eur"})
        frame.to_parquet(tmp_path / "data" / "orders.parquet", index=False)
        at = start + timedelta(days=day)
        results, _ = run_monitor(config, at=at, store=tmp_path / "history.duckdb")
        printed[at] = [v.message for r in results for v in r.verdicts]

    import contextlib

    with contextlib.chdir(tmp_path):
        report = build_report(tmp_path / "data" / "orders.parquet", store="history.duckdb")
    h = report.history
    assert h is not None and h.checks
    newest = h.checks[0]
    assert newest.latest and newest.observed_at == max(printed)
    assert sorted(text for _, text in newest.verdicts) == sorted(printed[max(printed)])
    renamed = next(c for c in h.checks if c.observed_at == start + timedelta(days=6))
    said = [text for _, text in renamed.verdicts]
    failing_then = [
        m for m in printed[renamed.observed_at] if "cannot be computed" in m or "changed" in m
    ]
    assert failing_then and all(m in said for m in failing_then)
    assert any("column 'amount_eur' (DOUBLE) was added" in m for m in said)
    assert [s for s in said if "cannot be computed" in s] == [
        "null_fraction of amount cannot be computed: orders has no column 'amount' any more "
        "(renamed or dropped upstream?)"
    ]
    assert "schema: first run, nothing to compare yet" in printed[start]  # not "schema none"
    # only the monitor's own metrics: no column_count/schema_hash series, no extra metric
    subjects = {m.subject for m in h.metrics}
    assert subjects == {"row_count", "null_fraction of amount", "null_fraction of country"}
    html = report.to_html()
    assert 'id="checks"' in html and "was added" in html and "cannot be computed" in html

"""Plots: what each figure draws, checked on the figure's own artists and on saved files."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from datacanary.errors import InputError
from datacanary.report import plots
from datacanary.results import Verdict


def _orders(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Orders where row 7's amount and row 9's country stand out; scores to match."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(50, 5, n),
            "items": rng.integers(1, 5, n),
            "country": rng.choice(["DE", "FR"], n),
        }
    )
    frame.loc[7, "amount"] = 900.0
    frame.loc[9, "country"] = "NZ"
    scores = rng.uniform(0, 1, n)
    scores[7], scores[9] = 640.0, 12.0  # the real range reaches far above the rest
    why = [""] * n
    why[7] = "amount (+170σ)"
    why[9] = "country (rare: 0.3%), amount (+0.2σ)"
    return frame, scores, why


def test_top_rows_figure_ranks_rows_and_marks_their_values_per_column() -> None:
    frame, scores, why = _orders()
    fig = plots.top_rows_figure(frame, scores, scores > 5, why, threshold=5.0, top=5)
    bars, *panels = fig.axes
    labels = [t.get_text() for t in bars.get_yticklabels()]
    assert labels[:2] == ["#1  row 7", "#2  row 9"]
    # every bar's length is the row's own score: no colour bar or axis clipped near 10
    assert max(p.get_width() for p in bars.patches) == 640.0
    assert bars.get_xscale() == "log"  # 640 over scores below 1
    written = " ".join(t.get_text() for t in bars.texts)
    assert "amount (+170σ)" in written and "country (rare: 0.3%)" in written
    # one panel per explained column, amount first (named by the top row)
    assert [ax.get_title() for ax in panels] == ["amount", "country"]
    marks = [line.get_xdata()[0] for line in panels[0].get_lines()]
    assert frame.loc[7, "amount"] in marks  # where row 7 sits in amount's distribution
    red = [p for p in panels[1].patches if to_hex(p.get_facecolor()) == plots.FLAG_COLOR]
    assert len(red) >= 1  # NZ, the top row's rare country, in red
    assert all(ax.get_ylabel() or i for i, ax in enumerate(panels))


def test_top_rows_figure_saves_and_rejects_mismatched_inputs(tmp_path: Path) -> None:
    frame, scores, why = _orders(60)
    plots.top_rows_figure(frame, scores, scores > 5, why, tmp_path / "top.png")
    with Image.open(tmp_path / "top.png") as img:
        assert img.format == "PNG" and img.size[0] > 600
    with pytest.raises(InputError, match="scores has 2 values but frame has 60 rows"):
        plots.top_rows_figure(frame, [1.0, 2.0], scores > 5, why)
    with pytest.raises(InputError, match="explanations has 1 items"):
        plots.top_rows_figure(frame, scores, scores > 5, ["x"])
    with pytest.raises(InputError, match="frame has no rows"):
        plots.top_rows_figure(frame.iloc[:0], [], [], [])


def test_explained_columns_split_at_the_top_level_only() -> None:
    text = "amount (1,131 is not quantity × unit_price: 1 × 14.49; equal on 69%), qty (+3σ)"
    assert plots.explained_columns(text) == ["amount", "qty"]
    assert plots.explained_columns("") == []


def test_tick_labels_differ_on_a_narrow_range_of_large_numbers() -> None:
    ids = 70_000_000 + np.arange(2000.0)  # an order_id-like column: every tick read "70M"
    fig = plots.histogram_plot(ids, title="order_id")
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert len(labels) >= 3 and len(set(labels)) == len(labels)


def test_series_plot_draws_band_values_and_flagged_runs(tmp_path: Path) -> None:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    times = [start + timedelta(days=i) for i in range(10)]
    values = [100.0, 101, 99, 100, 102, 98, 100, 101, 100, 40]
    low = [None, None, None] + [95.0] * 7
    high = [None, None, None] + [105.0] * 7
    flagged = [False] * 9 + [True]
    fig = plots.series_plot(
        times, values, low, high, flagged, title="row_count", out=tmp_path / "s.png"
    )
    ax = fig.axes[0]
    assert ax.get_title() == "row_count"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["expected band", "value", "flagged (1 of 10)"]
    line = ax.get_lines()[0]
    assert list(line.get_ydata()) == values
    flagged_points = ax.collections[-1].get_offsets()
    assert flagged_points.shape == (1, 2) and flagged_points[0, 1] == 40.0
    assert to_hex(ax.collections[-1].get_facecolor()[0]) == plots.FLAG_COLOR
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_series_plot_without_band_and_out_of_order_runs() -> None:
    fig = plots.series_plot([3, 1, 2], [30.0, 10.0, 20.0], None, None, [0, 0, 0], title="m")
    ax = fig.axes[0]
    assert list(ax.get_lines()[0].get_ydata()) == [10.0, 20.0, 30.0]  # sorted by time
    assert "expected band" not in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(InputError, match="times has 2 values but values has 3"):
        plots.series_plot([1, 2], [1.0, 2.0, 3.0], None, None, [0, 0, 0], title="m")


def test_history_figure_draws_one_panel_per_replayed_metric() -> None:
    day = datetime(2024, 5, 1, tzinfo=timezone.utc)
    rows = [
        Verdict.judge(
            "row_count",
            v,
            90.0,
            110.0,
            score=0.0,
            detector="mad",
            history_size=i,
            observed_at=day + timedelta(days=i),
        )
        for i, v in enumerate([100.0, 104.0, 30.0])
    ]
    nulls = [
        Verdict.insufficient(
            "null_fraction",
            0.01,
            detector="mad",
            history_size=0,
            min_history=3,
            column="email",
            observed_at=day,
        )
    ]
    fig = plots.history_figure(
        {("row_count", None): rows, ("null_fraction", "email"): nulls}, title="orders"
    )
    assert [ax.get_title() for ax in fig.axes] == ["row_count", "null_fraction of email"]
    assert fig.get_suptitle() == "orders"
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[-1] == "flagged (1 of 3)"
    with pytest.raises(InputError, match="no runs to draw"):
        plots.history_figure({("row_count", None): []})


def test_histogram_marks_the_flagged_rows_values() -> None:
    values = np.r_[np.random.default_rng(1).normal(size=400), [15.0, 16.0, np.nan]]
    fig = plots.histogram_plot(values, title="amount", marked=[15.0, 16.0])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "2 flagged rows stand out here (red)"
    (ticks,) = ax.get_lines()
    assert list(ticks.get_xdata()) == [15.0, 16.0] and ticks.get_color() == plots.FLAG_COLOR
    assert ax.get_ylabel().startswith("rows")
    empty = plots.histogram_plot([np.nan, np.nan], title="all missing")
    assert empty.axes[0].texts[0].get_text() == "no values"


def _fraction_runs(values: list[float], column: str) -> list[Verdict]:
    day = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return [
        Verdict.judge("null_fraction", v, 0.0, 0.005 if i else 0.0, score=0.0, detector="mad",
                      history_size=i, column=column, observed_at=day + timedelta(days=i))
        for i, v in enumerate(values)
    ]  # fmt: skip


def test_history_figure_keeps_fractions_in_range_and_collapses_flat_series() -> None:
    moving = _fraction_runs([0.02, 0.03, 0.02, 0.4], "email")
    flat = _fraction_runs([0.0] * 6, "country")
    fig = plots.history_figure(
        {("null_fraction", "email"): moving, ("null_fraction", "country"): flat},
        title="orders: every stored metric",
    )
    (panel,) = fig.axes  # the flat series is a line of text, not an empty panel
    low, high = panel.get_ylim()
    assert 0.0 <= low < high <= 1.0  # a share of rows never reads below 0 or above 1
    assert panel.get_ylabel() == "share of rows"
    assert "null_fraction of country 0 in all 6 runs" in fig._supxlabel.get_text()
    # the title does not overlap the first panel's title
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    title_box = fig._suptitle.get_window_extent(renderer)
    panel_box = panel.get_tightbbox(renderer)
    assert title_box.y0 >= panel_box.y1 - 0.5


def test_score_histogram_threshold_and_curves() -> None:
    scores = np.r_[np.linspace(0, 1, 95), [3, 3.5, 4, 4.5, 5]]
    fig = plots.score_histogram(scores, threshold=2.0)
    ax = fig.axes[0]
    assert ax.get_legend().get_texts()[0].get_text() == "threshold 2: 5 of 100 flagged"
    assert ax.get_lines()[0].get_xdata()[0] == 2.0

    roc = plots.curve_plot([0.0, 0.2, 1.0], [0.0, 0.9, 1.0], kind="roc", area=0.87)
    assert roc.axes[0].get_legend().get_texts()[0].get_text() == "ROC-AUC 0.870"
    pr = plots.curve_plot([0.0, 1.0], [1.0, 0.1], kind="pr", baseline=0.1)
    assert pr.axes[0].get_xlabel() == "recall"
    with pytest.raises(InputError, match="kind must be 'roc' or 'pr'"):
        plots.curve_plot([0], [0], kind="lift")


def test_figure_bytes_are_small_palette_pngs() -> None:
    frame, scores, why = _orders(2000)
    data = plots.figure_bytes(plots.top_rows_figure(frame, scores, scores > 5, why))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 120_000
    import io

    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "P"  # palette: a third of the RGBA size
    with pytest.raises(InputError, match="fmt must be 'png' or 'svg'"):
        plots.figure_bytes(plots.bar_plot(["a"], [1]), "jpeg")


def test_correlation_heatmap_and_trend_plot() -> None:
    matrix = np.array([[1.0, 0.8, np.nan], [0.8, 1.0, -0.2], [np.nan, -0.2, 1.0]])
    fig = plots.correlation_heatmap(matrix, ["a", "b", "c"])
    written = [t.get_text() for t in fig.axes[0].texts]
    assert written == ["1.00", "0.80", "0.80", "1.00", "-0.20", "-0.20", "1.00"]
    with pytest.raises(InputError, match="matrix must be 2×2"):
        plots.correlation_heatmap(matrix, ["a", "b"])
    days = np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]")
    line = plots.trend_plot(days, np.arange(10.0), title="t", low=np.zeros(10), high=np.ones(10))
    assert list(line.axes[0].get_lines()[0].get_ydata()) == list(np.arange(10.0))
    with pytest.raises(InputError, match="kind must be 'line' or 'bar'"):
        plots.trend_plot(days, np.arange(10.0), title="t", kind="pie")

"""Plots: what each figure draws, checked on the figure's own artists and on saved files."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from datacanary.errors import InputError
from datacanary.report import plots
from datacanary.results import Verdict


def _blobs(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:5] += 8.0  # five far-away rows
    scores = np.linalg.norm(X, axis=1)
    return X, scores, scores > np.sort(scores)[-6]


def test_score_scatter_projects_many_features_on_principal_components() -> None:
    X, scores, flagged = _blobs(300, 6)
    fig = plots.score_scatter(X, scores, flagged, title="blobs")
    ax = fig.axes[0]
    assert ax.get_title() == "blobs"
    assert ax.get_xlabel().startswith("PC1 (") and ax.get_ylabel().startswith("PC2 (")
    points, rings = ax.collections[:2]
    assert len(points.get_offsets()) == 300
    assert len(rings.get_offsets()) == int(flagged.sum()) == 5
    # drawn in score order: the most anomalous on top, coloured at the top of the colour bar
    assert np.allclose(np.sort(points.get_array()), points.get_array())
    assert fig.axes[1].get_ylabel() == "anomaly score (higher = more anomalous)"


def test_score_scatter_draws_one_or_two_features_as_they_are() -> None:
    X, scores, flagged = _blobs(50, 2)
    fig = plots.score_scatter(X, scores, flagged, feature_names=["amount", "items"])
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("amount", "items")
    order = np.argsort(scores, kind="stable")
    assert np.allclose(ax.collections[0].get_offsets(), X[order])

    one = plots.score_scatter(X[:, :1], scores, flagged, feature_names=["amount"])
    assert (one.axes[0].get_xlabel(), one.axes[0].get_ylabel()) == ("row", "amount")


def test_score_scatter_saves_png_and_svg_and_tolerates_missing_values(tmp_path: Path) -> None:
    X, scores, flagged = _blobs(80, 3)
    X[3, 1] = np.nan
    plots.score_scatter(X, scores, flagged, tmp_path / "scores.png")
    plots.score_scatter(X, scores, flagged, tmp_path / "nested" / "scores.svg")
    with Image.open(tmp_path / "scores.png") as img:
        assert img.format == "PNG" and img.size[0] > 400
    assert (tmp_path / "nested" / "scores.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("X", "scores", "flags", "message"),
    [
        (np.zeros((3, 2)), [1.0, 2.0], [0, 0, 1], "scores has 2 values but X has 3 rows"),
        (np.zeros((3, 2)), [1.0, 2.0, 3.0], [0, 1], "is_anomaly has 2 values"),
        (np.zeros((0, 2)), [], [], "X has no rows"),
        ([["a", "b"]], [1.0], [0], "X must be numbers"),
    ],
)
def test_score_scatter_rejects_mismatched_inputs(
    X: object, scores: object, flags: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        plots.score_scatter(X, scores, flags)


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


def test_histogram_marks_values_outside_the_fences() -> None:
    values = np.r_[np.random.default_rng(1).normal(size=400), [15.0, 16.0, np.nan]]
    fig = plots.histogram_plot(values, title="amount", fences=(-4.0, 4.0))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "2 values outside the robust fences (red)"
    red = [p for p in ax.patches if to_hex(p.get_facecolor()) == plots.FLAG_COLOR]
    assert sum(p.get_height() for p in red) == 2
    empty = plots.histogram_plot([np.nan, np.nan], title="all missing")
    assert empty.axes[0].texts[0].get_text() == "no values"


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
    X, scores, flagged = _blobs(2000, 4)
    data = plots.figure_bytes(plots.score_scatter(X, scores, flagged))
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

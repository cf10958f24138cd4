"""Plots of anomalies: matplotlib figures drawn with the Agg backend, never a display.

Every function takes plain inputs (numpy arrays, sequences), returns a
:class:`matplotlib.figure.Figure` and, given ``out``, also saves it there (the format
follows the suffix: ``.png``, ``.svg``, ``.pdf``). Figures are built without pyplot, so
nothing is registered globally and no window ever opens.

One palette everywhere: :data:`SCORE_CMAP` colours anomaly scores (pale = ordinary,
dark red = most anomalous), :data:`FLAG_COLOR` marks flagged rows and runs, and
:data:`MAIN_COLOR` draws plain distributions.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3))
>>> scores = np.abs(X).sum(axis=1)
>>> fig = score_scatter(X, scores, scores > np.quantile(scores, 0.95))
>>> [ax.get_xlabel() for ax in fig.axes][0]
'PC1 (37% of variance)'
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from datacanary.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

    from datacanary.results import Verdict

__all__ = [
    "FLAG_COLOR",
    "MAIN_COLOR",
    "SCORE_CMAP",
    "bar_plot",
    "correlation_heatmap",
    "curve_plot",
    "figure_bytes",
    "histogram_plot",
    "history_figure",
    "score_histogram",
    "score_scatter",
    "series_plot",
    "trend_plot",
]

SCORE_CMAP = "YlOrRd"
"""The colour map of anomaly scores in every plot (low = pale yellow, high = dark red)."""
MAIN_COLOR = "#3b6ea5"
"""Bars, lines and histograms that carry no anomaly score."""
FLAG_COLOR = "#b10026"
"""Flagged rows, flagged runs and thresholds (the dark end of :data:`SCORE_CMAP`)."""
BAND_COLOR = "#9ecae1"
"""The expected band of a metric."""
_DPI = 90


def _new_figure(
    width: float,
    height: float,
    *,
    left: float = 0.7,
    right: float = 0.2,
    bottom: float = 0.5,
    top: float = 0.35,
) -> Figure:
    """A figure on an Agg canvas: no pyplot, no global state, no display.

    Margins are fixed, in inches, rather than left to a layout engine: a layout engine draws
    every figure twice, and a report draws dozens.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
    )
    return fig


def _style(ax: Axes, *, grid_axis: Literal["both", "x", "y"] = "both") -> None:
    ax.set_axisbelow(True)
    ax.grid(True, axis=grid_axis, color="#e3e3e3", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.tick_params(colors="#444444", labelsize=8)
    ax.title.set_fontsize(10)
    ax.xaxis.label.set_fontsize(9)
    ax.yaxis.label.set_fontsize(9)


def _compact(value: float, _pos: object = None) -> str:
    """Tick labels that stay short: 250k, 1.5M, 0.05.

    >>> [_compact(x) for x in (0.05, 12, 2500, 25_000, 1_500_000, -3e9)]
    ['0.05', '12', '2,500', '25k', '1.5M', '-3B']
    """
    size = abs(value)
    for limit, unit, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if size >= limit:
            return f"{value / unit:.3g}{suffix}"
    if size >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _compact_axis(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(_compact))


def _colorbar(
    fig: Figure, mappable: Any, ax: Axes, *, label: str | None = None, extend: str = "neither"
) -> None:
    """A colour bar in the right margin, beside ``ax`` (placed by hand: no layout engine)."""
    width, _ = fig.get_size_inches()
    box = ax.get_position()
    cax = fig.add_axes((box.x1 + 0.12 / width, box.y0, 0.14 / width, box.height))
    bar = fig.colorbar(mappable, cax=cax, extend=extend)
    bar.ax.tick_params(labelsize=7)
    bar.outline.set_visible(False)
    if label:
        bar.set_label(label, fontsize=8)


def _score_cmap() -> Colormap:
    """:data:`SCORE_CMAP` without its palest eighth, so ordinary points stay visible on white."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    base = matplotlib.colormaps[SCORE_CMAP]
    return ListedColormap(base(np.linspace(0.18, 1.0, 256)), name=f"{SCORE_CMAP}_trimmed")


def _save(fig: Figure, out: Path | str | None) -> Figure:
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=fig.dpi, facecolor="white")
    return fig


def figure_bytes(fig: Figure, fmt: str = "png", *, dpi: float | None = None) -> bytes:
    """Render ``fig`` to PNG or SVG bytes, small enough to inline in an HTML page.

    PNGs are reduced to a 256-colour palette, which keeps them sharp and about a third
    of the size.

    >>> fig = bar_plot(["a", "b"], [3, 1], title="letters")
    >>> figure_bytes(fig)[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    >>> figure_bytes(fig, "svg")[:5]
    b'<?xml'
    """
    if fmt not in ("png", "svg"):
        raise InputError(f"fmt must be 'png' or 'svg'; got {fmt!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi or fig.dpi, facecolor="white")
    data = buf.getvalue()
    if fmt == "svg":
        return data
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        small = img.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        out = io.BytesIO()
        small.save(out, format="PNG", compress_level=7)
    return out.getvalue() if out.tell() < len(data) else data


def _as_float(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numbers; got {type(values).__name__}: {exc}") from None
    return arr


def _as_bool(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=bool).reshape(-1)
    if arr.shape[0] != n:
        raise InputError(
            f"{name} has {arr.shape[0]} values but there are {n} points; pass one per point"
        )
    return arr


def _project_2d(X: np.ndarray, feature_names: Sequence[str] | None) -> tuple[np.ndarray, str, str]:
    """Two columns to draw: the features themselves, or the first two principal components."""
    n, d = X.shape
    if d == 1:
        name = feature_names[0] if feature_names else "feature"
        return np.column_stack([np.arange(n), X[:, 0]]), "row", str(name)
    if d == 2:
        names = list(feature_names) if feature_names else ["feature 1", "feature 2"]
        return X, str(names[0]), str(names[1])
    centred = X - X.mean(axis=0)
    scale = centred.std(axis=0)
    scale[scale == 0] = 1.0
    standard = centred / scale
    # principal axes from a bounded subsample: the same directions, a fraction of the cost
    fit_rows = standard
    if n > 20_000:
        fit_rows = standard[np.random.default_rng(0).choice(n, 20_000, replace=False)]
    _, sing, vt = np.linalg.svd(fit_rows, full_matrices=False)
    var = sing**2
    share = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    components = standard @ vt[:2].T
    if components.shape[1] < 2:  # every column constant but one
        components = np.column_stack([components, np.zeros(n)])
        share = np.append(share, 0.0)
    return (
        components,
        f"PC1 ({share[0]:.0%} of variance)",
        f"PC2 ({share[1]:.0%} of variance)",
    )


def score_scatter(
    X: Any,
    scores: Any,
    is_anomaly: Any,
    out: Path | str | None = None,
    *,
    title: str = "Rows by anomaly score",
    feature_names: Sequence[str] | None = None,
) -> Figure:
    """Points coloured by anomaly score, flagged points ringed.

    With one feature the points are drawn against their row position, with two against
    each other, and with more on their first two principal components (standardised
    features), the axis labels saying how much variance each keeps.

    Parameters
    ----------
    X
        Numeric features, shape (rows, features): the encoded matrix a detector scored.
        Missing values are drawn at the column median.
    scores
        One anomaly score per row, higher = more anomalous.
    is_anomaly
        One flag per row; flagged rows get a ring.
    out
        Also save the figure there (format from the suffix).
    title
        The figure title.
    feature_names
        Axis labels when there are one or two features.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.1], [0.1, 0.0], [0.05, 0.05], [3.0, 3.0]])
    >>> fig = score_scatter(X, [0.1, 0.1, 0.0, 0.9], [False, False, False, True],
    ...                     feature_names=["amount", "items"])
    >>> ax = fig.axes[0]
    >>> ax.get_xlabel(), ax.get_ylabel(), ax.get_legend().get_texts()[0].get_text()
    ('amount', 'items', 'flagged (1 of 4)')
    """
    matrix = _as_float(X, "X")
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InputError(
            f"X must be a 2-D matrix with at least one column; got shape {matrix.shape}"
        )
    n = matrix.shape[0]
    if n == 0:
        raise InputError("X has no rows; score at least one row before plotting")
    score = _as_float(scores, "scores").reshape(-1)
    if score.shape[0] != n:
        raise InputError(f"scores has {score.shape[0]} values but X has {n} rows; pass one per row")
    flagged = _as_bool(is_anomaly, n, "is_anomaly")
    if np.isnan(matrix).any():
        medians = np.nanmedian(np.where(np.isfinite(matrix), matrix, np.nan), axis=0)
        medians = np.nan_to_num(medians)
        matrix = np.where(np.isnan(matrix), medians, matrix)
    matrix = np.nan_to_num(matrix, posinf=np.nan, neginf=np.nan)
    if np.isnan(matrix).any():  # infinities: clip to the finite range of their column
        finite_max = np.nanmax(np.where(np.isfinite(matrix), matrix, np.nan), axis=0)
        matrix = np.where(np.isnan(matrix), np.nan_to_num(finite_max), matrix)
    xy, xlabel, ylabel = _project_2d(matrix, feature_names)
    finite_scores = score[np.isfinite(score)]
    low, high, top = 0.0, 1.0, 1.0
    if finite_scores.size:
        # the colour scale spans the 1st-99th percentiles, so a few extreme scores do not
        # wash every other point out; the bar's arrow says the top is clipped
        low, high = (float(q) for q in np.quantile(finite_scores, [0.01, 0.99]))
        top = float(finite_scores.max())
        if high <= low:
            low, high = float(finite_scores.min()), top
    if high <= low:
        high = low + 1.0
    score = np.where(np.isfinite(score), score, low)
    order = np.argsort(score, kind="stable")  # most anomalous drawn last, on top

    fig = _new_figure(6.4, 4.6, left=0.65, right=1.05)
    ax = fig.add_subplot()
    size = float(np.clip(3000 / math.sqrt(n), 4, 36))
    points = ax.scatter(
        xy[order, 0],
        xy[order, 1],
        c=score[order],
        cmap=_score_cmap(),
        vmin=low,
        vmax=high,
        s=size,
        linewidths=0,
        alpha=0.85,
        rasterized=True,
    )
    n_flagged = int(flagged.sum())
    ax.scatter(
        xy[flagged, 0],
        xy[flagged, 1],
        s=size * 3.2 + 14,
        facecolors="none",
        edgecolors="#222222",
        linewidths=0.9,
        label=f"flagged ({n_flagged:,} of {n:,})",
    )
    _colorbar(
        fig,
        points,
        ax,
        label="anomaly score (higher = more anomalous)",
        extend="max" if top > high else "neither",
    )
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=0.85)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _style(ax)
    return _save(fig, out)


def _times_for_axis(times: Any) -> np.ndarray:
    """Times as something matplotlib draws: datetime64 (UTC, naive) or floats."""
    if hasattr(times, "dt") and getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    if hasattr(times, "tz") and getattr(times, "tz", None) is not None:  # DatetimeIndex
        times = times.tz_convert("UTC").tz_localize(None)
    arr = np.asarray(times)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr
    if arr.dtype == object and len(arr) and isinstance(arr.flat[0], (datetime, date)):
        converted = []
        for t in arr:
            if isinstance(t, datetime) and t.tzinfo is not None:
                t = t.astimezone(timezone.utc).replace(tzinfo=None)
            converted.append(np.datetime64(t, "us"))
        return np.array(converted, dtype="datetime64[us]")
    return _as_float(arr, "times")


def _date_axis(ax: Axes, times: np.ndarray) -> None:
    if np.issubdtype(times.dtype, np.datetime64):
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
        # spans between the built-in steps (e.g. 4 days: too few days, too many 12-hour
        # steps) would otherwise fall back with a warning
        locator.intervald[mdates.HOURLY] = [1, 2, 3, 4, 6, 12, 24]
        locator.intervald[mdates.MINUTELY] = [1, 5, 10, 15, 30, 60]
        locator.intervald[mdates.SECONDLY] = [1, 5, 10, 15, 30, 60]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _optional_floats(values: Any, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    if arr.shape[0] != n:
        raise InputError(
            f"{name} has {arr.shape[0]} values but there are {n} runs; pass one per run"
        )
    return arr


def series_plot(
    times: Any,
    values: Any,
    expected_low: Any,
    expected_high: Any,
    flagged: Any,
    *,
    title: str,
    out: Path | str | None = None,
    ylabel: str | None = None,
    width: float = 7.2,
) -> Figure:
    """One metric's history: its values, the expected band at each run, the flagged runs.

    Parameters
    ----------
    times
        When each run was observed (datetimes, or numbers such as run positions).
    values
        The metric value of each run.
    expected_low, expected_high
        The band each value was judged against; ``None``/NaN where there was none yet
        (too little history). Pass ``None`` for no band at all.
    flagged
        One flag per run: True where the value was judged anomalous.
    title
        The figure title, e.g. ``"null_fraction of email"``.
    out
        Also save the figure there (format from the suffix).
    ylabel
        Label of the value axis (defaults to none).
    width
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = series_plot([1, 2, 3, 4], [10.0, 11.0, 10.5, 30.0], [None, 9.0, 9.5, 9.6],
    ...                   [None, 12.0, 12.0, 12.1], [False, False, False, True],
    ...                   title="row_count")
    >>> fig.axes[0].get_title(), fig.axes[0].get_legend().get_texts()[-1].get_text()
    ('row_count', 'flagged (1 of 4)')
    """
    fig = _new_figure(width, 3.0)
    _draw_series(
        fig.add_subplot(), times, values, expected_low, expected_high, flagged, title, ylabel
    )
    return _save(fig, out)


def _draw_series(
    ax: Axes,
    times: Any,
    values: Any,
    expected_low: Any,
    expected_high: Any,
    flagged: Any,
    title: str,
    ylabel: str | None = None,
) -> None:
    t = _times_for_axis(times)
    v = _as_float(values, "values").reshape(-1)
    n = v.shape[0]
    if t.shape[0] != n:
        raise InputError(f"times has {t.shape[0]} values but values has {n}; pass one time per run")
    low = _optional_floats(expected_low, n, "expected_low")
    high = _optional_floats(expected_high, n, "expected_high")
    flags = _as_bool(flagged, n, "flagged")
    order = np.argsort(t, kind="stable")
    t, v, low, high, flags = t[order], v[order], low[order], high[order], flags[order]
    band = np.isfinite(low) | np.isfinite(high)
    if band.any():
        finite = v[np.isfinite(v)]
        floor = float(finite.min()) if finite.size else 0.0
        ceiling = float(finite.max()) if finite.size else 1.0
        ax.fill_between(
            t,
            np.where(np.isfinite(low), low, min(floor, np.nanmin(np.r_[high, floor]))),
            np.where(np.isfinite(high), high, max(ceiling, np.nanmax(np.r_[low, ceiling]))),
            where=band,
            color=BAND_COLOR,
            alpha=0.45,
            linewidth=0,
            label="expected band",
        )
    ax.plot(t, v, color=MAIN_COLOR, linewidth=1.3, marker="o", markersize=3, label="value")
    ax.scatter(
        t[flags],
        v[flags],
        s=46,
        color=FLAG_COLOR,
        zorder=3,
        edgecolors="white",
        linewidths=0.6,
        label=f"flagged ({int(flags.sum()):,} of {n:,})",
    )
    ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    if n and np.issubdtype(t.dtype, np.datetime64) and t.min() == t.max():  # one run
        day = np.timedelta64(1, "D")
        ax.set_xlim(t.min() - day, t.max() + day)
    _date_axis(ax, t)
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=0.85)
    _style(ax)


def history_figure(
    series: Mapping[tuple[str, str | None], Sequence[Verdict]] | Sequence[Verdict],
    out: Path | str | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Replayed histories, one panel per metric: what ``datacanary history --plot`` draws.

    Parameters
    ----------
    series
        ``{(metric, column): [Verdict, ...]}`` as :func:`datacanary.checks.replay_history`
        returns it, or one list of verdicts: each verdict gives a run's time, value, the
        band it was judged against and whether it was flagged.
    out
        Also save the figure there (format from the suffix).
    title
        The figure title; each panel is titled with its metric.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from datacanary.results import Verdict
    >>> day = datetime(2024, 1, 1)
    >>> runs = [Verdict.insufficient("row_count", 100, detector="mad", history_size=0,
    ...                              min_history=1, observed_at=day)]
    >>> runs += [Verdict.judge("row_count", v, 95, 105, score=0.0, detector="mad",
    ...                        history_size=i + 1, observed_at=day + timedelta(days=i + 1))
    ...          for i, v in enumerate([101, 99, 40])]
    >>> fig = history_figure({("row_count", None): runs}, title="orders")
    >>> [ax.get_title() for ax in fig.axes], fig.get_suptitle()
    (['row_count'], 'orders')
    """
    from datacanary.results import Status

    groups: list[tuple[str, Sequence[Verdict]]]
    runs: Sequence[Verdict]
    if isinstance(series, Mapping):
        groups = [(_subject(m, c), v) for (m, c), v in series.items()]
    else:
        runs = list(series)
        name = _subject(runs[0].metric, runs[0].column) if runs else "metric"
        groups = [(name, runs)]
    groups = [(name, runs) for name, runs in groups if len(runs)]
    if not groups:
        raise InputError("series has no runs to draw; record runs with `datacanary check` first")
    fig = _new_figure(7.2, 0.4 + 2.6 * len(groups), top=0.35 + (0.3 if title else 0.0))
    axes = fig.subplots(len(groups), 1, squeeze=False, gridspec_kw={"hspace": 0.5})[:, 0]
    for ax, (name, runs) in zip(axes, groups, strict=True):
        usable = [r for r in runs if r.value is not None]
        use_times = all(r.observed_at is not None for r in usable)
        _draw_series(
            ax,
            [r.observed_at for r in usable] if use_times else np.arange(len(usable)),
            [r.value for r in usable],
            [r.expected_low for r in usable],
            [r.expected_high for r in usable],
            [r.status is Status.ANOMALY for r in usable],
            name,
        )
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, out)


def _subject(metric: str, column: str | None) -> str:
    return f"{metric} of {column}" if column else metric


def histogram_plot(
    values: Any,
    *,
    title: str = "",
    fences: tuple[float | None, float | None] | None = None,
    out: Path | str | None = None,
) -> Figure:
    """The distribution of one numeric column, the robust outlier fences drawn as lines.

    NaN values are left out. Values outside ``fences`` are drawn in :data:`FLAG_COLOR`.

    >>> import numpy as np
    >>> v = np.r_[np.random.default_rng(0).normal(size=500), [9.0]]
    >>> fig = histogram_plot(v, title="amount", fences=(-4.0, 4.0))
    >>> fig.axes[0].get_xlabel()
    '1 value outside the robust fences (red)'
    """
    v = _as_float(values, "values").reshape(-1)
    v = v[np.isfinite(v)]
    fig = _new_figure(3.8, 2.6, left=0.8, bottom=0.6)
    ax = fig.add_subplot()
    if v.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        return _save(fig, out)
    distinct = np.unique(v[: min(v.size, 50_000)])
    if distinct.size <= 30 and np.allclose(distinct, np.round(distinct)):
        # a few integer values: one bar each reads better than bins
        edges = np.r_[distinct - 0.5, distinct[-1] + 0.5]
        edges = np.unique(edges)
    else:
        lo, hi = np.quantile(v, [0.0, 1.0])
        edges = np.histogram_bin_edges(
            v, bins=min(60, max(10, int(np.sqrt(v.size)))), range=(lo, hi)
        )
    counts, edges = np.histogram(v, bins=edges)
    inside = np.ones_like(counts, dtype=bool)
    low_f, high_f = fences if fences is not None else (None, None)
    centres = (edges[:-1] + edges[1:]) / 2
    if low_f is not None:
        inside &= centres >= low_f
    if high_f is not None:
        inside &= centres <= high_f
    widths = np.diff(edges)
    ax.bar(edges[:-1][inside], counts[inside], width=widths[inside], align="edge", color=MAIN_COLOR)
    n_out = int(((v < low_f) if low_f is not None else np.zeros(v.size, bool)).sum()) + int(
        ((v > high_f) if high_f is not None else np.zeros(v.size, bool)).sum()
    )
    if fences is not None:
        ax.bar(
            edges[:-1][~inside],
            counts[~inside],
            width=widths[~inside],
            align="edge",
            color=FLAG_COLOR,
        )
        for f in (low_f, high_f):
            if f is not None and edges[0] <= f <= edges[-1]:
                ax.axvline(f, color=FLAG_COLOR, linestyle="--", linewidth=0.9)
        noun = "value" if n_out == 1 else "values"
        ax.set_xlabel(f"{n_out:,} {noun} outside the robust fences (red)")
    if counts.max() > 0 and counts[counts > 0].min() * 200 < counts.max():
        ax.set_yscale("symlog", linthresh=1)  # heavy tails: keep the rare bins visible
        ax.set_ylabel("rows (log scale)")
    else:
        ax.set_ylabel("rows")
    ax.set_title(title)
    _style(ax, grid_axis="y")
    _compact_axis(ax.xaxis)
    if ax.get_yscale() == "linear":
        _compact_axis(ax.yaxis)
    return _save(fig, out)


def bar_plot(
    labels: Sequence[Any],
    counts: Sequence[float],
    *,
    title: str = "",
    xlabel: str = "rows",
    out: Path | str | None = None,
) -> Figure:
    """Horizontal bars, largest on top: the most frequent values of a column.

    >>> fig = bar_plot(["DE", "FR", "NL"], [120, 40, 3], title="country")
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['DE', 'FR', 'NL']
    """
    if len(labels) != len(counts):
        raise InputError(
            f"labels has {len(labels)} items but counts has {len(counts)}; pass one count per label"
        )
    names = [_short(str(x), 22) for x in labels]
    fig = _new_figure(
        3.8,
        max(1.4, 0.8 + 0.22 * len(names)),
        left=0.2 + 0.075 * max((len(n) for n in names), default=1),
    )
    ax = fig.add_subplot()
    y = np.arange(len(names))[::-1]
    ax.barh(y, np.asarray(counts, dtype=float), color=MAIN_COLOR, height=0.7)
    ax.set_yticks(y, names)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    _style(ax, grid_axis="x")
    _compact_axis(ax.xaxis)
    return _save(fig, out)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def correlation_heatmap(
    matrix: Any,
    names: Sequence[str],
    *,
    title: str = "Correlation between numeric columns",
    out: Path | str | None = None,
) -> Figure:
    """A square heat map of correlations in [-1, 1], values written in when it is small.

    >>> import numpy as np
    >>> fig = correlation_heatmap(np.array([[1.0, -0.5], [-0.5, 1.0]]), ["a", "b"])
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['1.00', '-0.50', '-0.50', '1.00']
    """
    m = _as_float(matrix, "matrix")
    k = len(names)
    if m.shape != (k, k):
        raise InputError(f"matrix must be {k}×{k} for {k} names; got shape {m.shape}")
    labels = [_short(str(n), 18) for n in names]
    fontsize = 8 if k <= 20 else 6
    pad = 0.25 + 0.062 * (fontsize / 8) * max((len(x) for x in labels), default=1)
    side = float(np.clip(0.5 + 0.3 * k, 2.6, 8.0))
    fig = _new_figure(
        side + pad + 0.95, side + pad * 0.9 + 0.4, left=pad, bottom=pad * 0.9, right=0.95, top=0.4
    )
    ax = fig.add_subplot()
    image = ax.imshow(
        np.ma.masked_invalid(m),
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        interpolation="nearest",
        aspect="auto",
    )
    ax.set_xticks(np.arange(k), labels, rotation=60, ha="right", fontsize=fontsize)
    ax.set_yticks(np.arange(k), labels, fontsize=fontsize)
    if k <= 12:
        for i in range(k):
            for j in range(k):
                if np.isfinite(m[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{m[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if abs(m[i, j]) > 0.6 else "#222222",
                    )
    for side_name in ("top", "right", "left", "bottom"):
        ax.spines[side_name].set_visible(False)
    _colorbar(fig, image, ax)
    ax.set_title(title, fontsize=10)
    return _save(fig, out)


def trend_plot(
    times: Any,
    values: Any,
    *,
    title: str,
    ylabel: str = "",
    kind: str = "line",
    low: Any = None,
    high: Any = None,
    width: float = 7.2,
    out: Path | str | None = None,
) -> Figure:
    """A quantity over time: ``kind="bar"`` for counts per period, ``"line"`` for a value.

    ``low``/``high`` draw a shaded range around the line (e.g. the 5th–95th percentiles
    of each period; say so in the title). ``width`` is in inches.

    >>> import numpy as np
    >>> days = np.arange("2024-01-01", "2024-01-08", dtype="datetime64[D]")
    >>> fig = trend_plot(days, [5, 7, 6, 8, 5, 0, 6], title="rows per day", kind="bar")
    >>> fig.axes[0].get_title()
    'rows per day'
    """
    if kind not in ("line", "bar"):
        raise InputError(f"kind must be 'line' or 'bar'; got {kind!r}")
    t = _times_for_axis(times)
    v = _as_float(values, "values").reshape(-1)
    if t.shape[0] != v.shape[0]:
        raise InputError(
            f"times has {t.shape[0]} values but values has {v.shape[0]}; pass one per time"
        )
    fig = _new_figure(width, 2.8)
    ax = fig.add_subplot()
    if kind == "bar":
        if t.shape[0] > 1 and np.issubdtype(t.dtype, np.datetime64):
            step = np.median(np.diff(t.astype("datetime64[s]").astype(np.int64))) / 86_400
            width = max(float(step) * 0.85, 1e-4)
        else:
            width = 0.8
        ax.bar(t, v, width=width, color=MAIN_COLOR, align="center")
    else:
        if low is not None and high is not None:
            ax.fill_between(
                t,
                _as_float(low, "low").reshape(-1),
                _as_float(high, "high").reshape(-1),
                color=BAND_COLOR,
                alpha=0.45,
                linewidth=0,
            )
        marker = "o" if v.size <= 60 else None
        ax.plot(t, v, color=MAIN_COLOR, linewidth=1.1, marker=marker, markersize=3)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    _date_axis(ax, t)
    _style(ax, grid_axis="y")
    _compact_axis(ax.yaxis)
    return _save(fig, out)


def score_histogram(
    scores: Any,
    threshold: float,
    *,
    title: str = "Anomaly scores",
    out: Path | str | None = None,
) -> Figure:
    """How the anomaly scores spread, the threshold as a line and flagged rows in red.

    >>> fig = score_histogram([0.1, 0.2, 0.2, 0.3, 0.9], threshold=0.5)
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'threshold 0.5: 1 of 5 flagged'
    """
    s = _as_float(scores, "scores").reshape(-1)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise InputError("scores has no finite values; score at least one row before plotting")
    fig = _new_figure(6.0, 2.8, left=0.8)
    ax = fig.add_subplot()
    lo, hi = float(s.min()), float(s.max())
    if np.isfinite(threshold):
        lo, hi = min(lo, threshold), max(hi, threshold)
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, 61)
    counts, edges = np.histogram(s, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    cmap = _score_cmap()
    colours = cmap((centres - lo) / (hi - lo))
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=colours, linewidth=0)
    n_flagged = int((s > threshold).sum())
    ax.axvline(
        threshold,
        color=FLAG_COLOR,
        linestyle="--",
        linewidth=1.2,
        label=f"threshold {_fmt(threshold)}: {n_flagged:,} of {s.size:,} flagged",
    )
    if counts.max() > 0 and counts[counts > 0].min() * 200 < counts.max():
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylabel("rows (log scale)")
    else:
        ax.set_ylabel("rows")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    _style(ax, grid_axis="y")
    return _save(fig, out)


def _fmt(x: float) -> str:
    from datacanary.results import format_number

    return format_number(x)


def curve_plot(
    x: Any,
    y: Any,
    *,
    kind: str,
    area: float | None = None,
    baseline: float | None = None,
    out: Path | str | None = None,
) -> Figure:
    """A ROC curve (``kind="roc"``: false vs true positive rate) or a precision–recall curve
    (``kind="pr"``: recall vs precision), with the chance level dashed.

    ``baseline`` is the chance precision of a PR curve (the share of true anomalies).

    >>> fig = curve_plot([0, 0, 1], [0, 1, 1], kind="roc", area=1.0)
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'ROC-AUC 1.000'
    """
    if kind not in ("roc", "pr"):
        raise InputError(f"kind must be 'roc' or 'pr'; got {kind!r}")
    xs, ys = _as_float(x, "x").reshape(-1), _as_float(y, "y").reshape(-1)
    if xs.shape != ys.shape:
        raise InputError(f"x has {xs.size} points but y has {ys.size}; pass one y per x")
    fig = _new_figure(3.6, 3.3, left=0.65)
    ax = fig.add_subplot()
    name = "ROC-AUC" if kind == "roc" else "PR-AUC"
    label = f"{name} {area:.3f}" if area is not None and math.isfinite(area) else name
    ax.plot(
        xs,
        ys,
        color=FLAG_COLOR,
        linewidth=1.6,
        label=label,
        drawstyle="default" if kind == "roc" else "steps-post",
    )
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=0.8)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title("ROC curve")
    else:
        if baseline is not None:
            ax.axhline(baseline, color="#999999", linestyle="--", linewidth=0.8)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title("Precision–recall curve")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.legend(loc="lower right" if kind == "roc" else "upper right", fontsize=8, frameon=False)
    _style(ax)
    return _save(fig, out)

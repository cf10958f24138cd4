"""Plots of anomalies: matplotlib figures drawn with the Agg backend, never a display.

Every function takes plain inputs (numpy arrays, sequences), returns a
:class:`matplotlib.figure.Figure` and, given ``out``, also saves it there (the format
follows the suffix: ``.png``, ``.svg``, ``.pdf``). Figures are built without pyplot, so
nothing is registered globally and no window ever opens.

One palette everywhere: :data:`SCORE_CMAP` colours anomaly scores (pale = ordinary,
dark red = most anomalous), :data:`FLAG_COLOR` marks flagged rows and runs, and
:data:`MAIN_COLOR` draws plain distributions.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"amount": rng.normal(50, 5, 200), "items": rng.integers(1, 5, 200)})
>>> frame.loc[7, "amount"] = 400.0
>>> scores = np.abs(frame["amount"] - 50) / 5
>>> why = ["amount (+70σ)" if i == 7 else "" for i in range(200)]
>>> fig = top_rows_figure(frame, scores, scores > 6, why, threshold=6)
>>> [ax.get_title() for ax in fig.axes][1:]
['amount']
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
    "series_plot",
    "top_rows_figure",
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


def _distinct_labels(values: Sequence[float]) -> list[str]:
    """Tick labels short like :func:`_compact` but never equal for different ticks: digits
    are added until they differ, and beyond six digits the ticks share an offset.

    >>> _distinct_labels([70_000_000, 70_000_500, 70_001_000])
    ['70,000,000', '70,000,500', '70,001,000']
    >>> _distinct_labels([0, 250_000, 500_000])
    ['0', '250k', '500k']
    """
    ticks = [float(v) for v in values]
    for digits in (3, 4, 5, 6, 7, 8, 9, 10):
        labels = [_compact_digits(v, digits) for v in ticks]
        if len(set(labels)) == len(set(ticks)):
            return labels
    return [f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.6g}" for v in ticks]


def _compact_digits(value: float, digits: int) -> str:
    size = abs(value)
    if digits <= 3:
        return _compact(value)
    if size >= 1e4 and value == int(value):
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def _compact_axis(axis: Any) -> None:
    """Short tick labels (250k, 1.5M) that always tell the ticks apart."""
    from matplotlib.ticker import Formatter

    class _Distinct(Formatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return _compact(x)

        def format_ticks(self, values: Sequence[float]) -> list[str]:
            return _distinct_labels(values)

    axis.set_major_formatter(_Distinct())


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


def explained_columns(explanation: str) -> list[str]:
    """The column names an explanation names, in order, without what is in brackets.

    >>> explained_columns("amount (1,131 is not quantity × unit_price: 1 × 14.49; equal on "
    ...                   "69% of rows), unit_price (+3.1σ)")
    ['amount', 'unit_price']
    """
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in explanation + ",":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch in ",;" and depth == 0:
            name = "".join(current).strip()
            if name and name not in names:
                names.append(name)
            current = []
        elif depth == 0:
            current.append(ch)
    return names


def _top_order(score: np.ndarray, top: int) -> np.ndarray:
    finite = np.where(np.isfinite(score), score, -np.inf)
    return np.argsort(-finite, kind="stable")[: max(0, top)]


def _ranked_columns(
    explanations: Sequence[str], order: np.ndarray, available: Sequence[str], limit: int
) -> list[str]:
    """The columns the top rows' explanations name most (earlier ranks weigh more)."""
    weight: dict[str, float] = {}
    for rank, i in enumerate(order):
        text = explanations[int(i)] if int(i) < len(explanations) else ""
        for name in explained_columns(text):
            if name in available:
                weight[name] = weight.get(name, 0.0) + 1.0 / (1 + rank)
    return sorted(weight, key=lambda c: -weight[c])[:limit]


def top_rows_figure(
    frame: Any,
    scores: Any,
    is_anomaly: Any,
    explanations: Sequence[str],
    out: Path | str | None = None,
    *,
    threshold: float | None = None,
    title: str = "The most anomalous rows and why",
    top: int = 10,
    max_columns: int = 4,
    row_labels: Sequence[Any] | None = None,
) -> Figure:
    """What made the top rows unusual: their scores ranked, and where their values sit.

    The upper panel ranks the ``top`` rows by anomaly score (flagged rows in
    :data:`FLAG_COLOR`, the threshold dashed; a log axis when the scores span more than
    two orders of magnitude) and prints each row's explanation beside its bar. Below, one
    small panel per column the explanations name most (at most ``max_columns``): that
    column's distribution over every row given, each top row's value marked with its rank.

    Parameters
    ----------
    frame
        The scored rows (a pandas DataFrame, or anything ``pandas.DataFrame`` accepts).
    scores
        One anomaly score per row, higher = more anomalous.
    is_anomaly
        One flag per row.
    explanations
        The columns that made each row stand out, as the row detectors write them
        (``"amount (+12σ), country (rare: 0.1%)"``); ``""`` for a row with none.
    out
        Also save the figure there (format from the suffix).
    threshold
        The score above which a row is flagged, drawn as a dashed line.
    title
        The figure title.
    top
        How many rows to rank.
    max_columns
        How many columns to draw below.
    row_labels
        What to call each row (default: its position, ``row 1587``; ``""`` for none).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import pandas as pd

    table = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    n = len(table)
    if n == 0:
        raise InputError("frame has no rows; score at least one row before plotting")
    score = _as_float(scores, "scores").reshape(-1)
    if score.shape[0] != n:
        raise InputError(
            f"scores has {score.shape[0]} values but frame has {n} rows; pass one per row"
        )
    flagged = _as_bool(is_anomaly, n, "is_anomaly")
    if len(explanations) != n:
        raise InputError(
            f"explanations has {len(explanations)} items but frame has {n} rows; pass one per row"
        )
    order = _top_order(score, top)
    columns = _ranked_columns(explanations, order, [str(c) for c in table.columns], max_columns)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = len(order)
    fig = Figure(
        figsize=(10.0, 1.3 + 0.28 * k + (2.5 if columns else 0.0)), dpi=_DPI, layout="constrained"
    )
    FigureCanvasAgg(fig)
    upper: Any = fig
    lower: Any = None
    if columns:
        parts: Any = fig.subfigures(2, 1, height_ratios=[0.6 + 0.28 * k, 2.5])
        upper, lower = parts[0], parts[1]
    ax = upper.add_subplot()
    names = [str(row_labels[int(i)]) if row_labels is not None else str(int(i)) for i in order]
    labels = [f"#{r + 1}" + (f"  row {name}" if name else "") for r, name in enumerate(names)]
    y = np.arange(k)[::-1]
    values = np.where(np.isfinite(score[order]), score[order], 0.0)
    colours = [FLAG_COLOR if flagged[int(i)] else "#9aa5b1" for i in order]
    ax.barh(y, values, color=colours, height=0.7)
    ax.set_yticks(y, labels)
    positive = values[values > 0]
    if positive.size and positive.min() > 0 and positive.max() / positive.min() > 100:
        ax.set_xscale("log")
    if (
        threshold is not None
        and math.isfinite(threshold)
        and (ax.get_xscale() == "linear" or threshold > 0)
    ):
        ax.axvline(threshold, color="#222222", linestyle="--", linewidth=0.9)
        ax.text(
            threshold,
            k - 0.35,
            f" threshold {_fmt(threshold)}",
            fontsize=7,
            va="bottom",
            color="#222222",
        )
    for yy, i, v in zip(y, order, values, strict=True):
        text = explanations[int(i)] or "(no single column stands out)"
        ax.text(
            1.01,
            yy,
            f"{_fmt(float(v))}  {_short(text, 95)}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=7.5,
            color="#333333",
        )
    ax.set_xlabel("anomaly score (higher = more anomalous); red = flagged")
    ax.set_title(title, loc="left")
    _style(ax, grid_axis="x")
    if lower is not None:
        axes = lower.subplots(1, len(columns), squeeze=False)[0]
        for j, (axis, column) in enumerate(zip(axes, columns, strict=True)):
            _mark_column(axis, table[column], order, column)
            axis.set_ylabel("rows" if j == 0 else "")
    return _save(fig, out)


def _mark_column(ax: Axes, values: Any, order: np.ndarray, column: str) -> None:
    """One column's distribution with the top rows' values marked by their rank."""
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    ax.set_title(column, pad=12)
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )
    is_time = pd.api.types.is_datetime64_any_dtype(series.dtype)
    if numeric or is_time:
        if is_time:
            times = pd.to_datetime(series, utc=True).dt.tz_localize(None)
            v = (times.astype("int64") / 86_400e9).where(times.notna()).to_numpy(dtype=float)
        else:
            v = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            return
        counts, edges = np.histogram(finite, bins=min(50, max(10, int(np.sqrt(finite.size)))))
        ax.bar(
            edges[:-1],
            counts,
            width=np.diff(edges),
            align="edge",
            color=MAIN_COLOR,
            alpha=0.85,
            linewidth=0,
        )
        if counts.max() > 0 and counts[counts > 0].min() * 100 < counts.max():
            ax.set_yscale("symlog", linthresh=1)
        span = float(edges[-1] - edges[0]) or 1.0
        groups: list[tuple[float, list[int]]] = []  # nearby marks share one label
        for rank, i in enumerate(order[:10]):
            x = float(v[int(i)])
            if not np.isfinite(x):
                continue
            ax.axvline(x, color=FLAG_COLOR, linewidth=1.0, alpha=0.8)
            near = next((g for g in groups if abs(g[0] - x) < 0.06 * span), None)
            if near is None:
                groups.append((x, [rank + 1]))
            else:
                near[1].append(rank + 1)
        for x, ranks in groups:
            label = ",".join(map(str, ranks[:3])) + ("…" if len(ranks) > 3 else "")
            ax.annotate(
                label,
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                color=FLAG_COLOR,
                ha="center",
                va="bottom",
            )
        ax.set_xlabel("red = top rows (by rank)")
        if is_time:  # days since 1970: matplotlib's own date numbers
            import matplotlib.dates as mdates

            locator = mdates.AutoDateLocator(minticks=2, maxticks=4)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
        else:
            _compact_axis(ax.xaxis)
        _style(ax, grid_axis="y")
        return
    text = series.astype("string").fillna("(missing)")
    counts_series = text.value_counts()
    marked = [str(text.iloc[int(i)]) for i in order[:10]]
    categories = list(counts_series.index[:6])
    categories += [m for m in dict.fromkeys(marked) if m not in categories][:4]
    heights = [int(counts_series.get(c, 0)) for c in categories]
    ranks_of = {c: [r + 1 for r, m in enumerate(marked) if m == c] for c in categories}
    yy = np.arange(len(categories))[::-1]
    colours = [FLAG_COLOR if ranks_of[c] else MAIN_COLOR for c in categories]
    ax.barh(yy, heights, color=colours, height=0.7)
    ax.set_yticks(yy, [_short(c, 14) for c in categories], fontsize=7)
    for yv, c, h in zip(yy, categories, heights, strict=True):
        if ranks_of[c]:
            ax.text(
                h,
                yv,
                " #" + ",".join(map(str, ranks_of[c][:4])),
                fontsize=7,
                color=FLAG_COLOR,
                va="center",
            )
    ax.set_xlabel("rows; red = values of top rows")
    _style(ax, grid_axis="x")
    _compact_axis(ax.xaxis)


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
    ax.set_ylabel(ylabel or value_label(title))
    if is_fraction(title):  # a share: the axis stays within [0, 1]
        from matplotlib.ticker import PercentFormatter

        shown = np.r_[v, low, high]
        shown = shown[np.isfinite(shown)]
        top = float(shown.max()) if shown.size else 1.0
        ax.set_ylim(0.0, min(1.0, max(top * 1.15, 0.01)))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
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
    flat = [(name, runs, _flat(runs)) for name, runs in groups]
    still = [
        f"{name} {_fmt(value)} in all {len(runs)} runs"
        for name, runs, value in flat
        if value is not None
    ]
    drawn = [(name, runs) for name, runs, value in flat if value is None]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # constrained layout keeps the title, the panels and the note apart
    fig = Figure(
        figsize=(7.2, 0.6 + 2.6 * len(drawn) + (0.3 + 0.16 * len(still) if still else 0)),
        dpi=_DPI,
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    if drawn:
        axes = fig.subplots(len(drawn), 1, squeeze=False)[:, 0]
        for ax, (name, runs) in zip(axes, drawn, strict=True):
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
    if still:  # series that never moved: one line of text each, not an empty panel
        fig.supxlabel(
            "Unchanged and never flagged: " + "; ".join(still),
            fontsize=8,
            color="#444444",
            wrap=True,
            ha="center",
        )
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, out)


def _subject(metric: str, column: str | None) -> str:
    return f"{metric} of {column}" if column else metric


_FRACTIONS = ("fraction", "share", "ratio_of_rows", "rate_of_rows")


def is_fraction(subject: str) -> bool:
    """Whether a metric (or a panel title such as ``null_fraction of email``) is a share of
    rows, whose values lie in [0, 1].

    >>> is_fraction("null_fraction of email"), is_fraction("row_count")
    (True, False)
    """
    metric = subject.split(" of ")[0]
    return any(word in metric for word in _FRACTIONS)


def value_label(subject: str) -> str:
    """The value axis's label for a metric: its unit when it has one.

    >>> value_label("null_fraction of email"), value_label("row_count")
    ('share of rows', 'rows')
    >>> value_label("mean of amount"), value_label("freshness_seconds of created_at")
    ('mean', 'seconds')
    """
    metric = subject.split(" of ")[0]
    if is_fraction(metric):
        return "share of rows"
    if metric.endswith("_count"):
        return "rows" if metric == "row_count" else metric.removesuffix("_count") + "s"
    if metric.endswith("_seconds"):
        return "seconds"
    return metric.replace("_", " ")


def _flat(runs: Sequence[Verdict]) -> float | None:
    """The one value of a series that never moved and was never flagged, else None."""
    from datacanary.results import Status

    values = {r.value for r in runs if r.value is not None}
    if len(runs) < 2 or len(values) != 1 or any(r.status is Status.ANOMALY for r in runs):
        return None
    (value,) = values
    return float(value) if value is not None and math.isfinite(value) else None


def histogram_plot(
    values: Any,
    *,
    title: str = "",
    marked: Any = None,
    out: Path | str | None = None,
) -> Figure:
    """The distribution of one numeric column; ``marked`` values (the flagged rows that
    stand out on this column) drawn as red ticks along the bottom.

    NaN values are left out. Tick labels always differ (digits are added as needed).

    >>> import numpy as np
    >>> v = np.r_[np.random.default_rng(0).normal(size=500), [9.0]]
    >>> fig = histogram_plot(v, title="amount", marked=[9.0])
    >>> fig.axes[0].get_xlabel()
    '1 flagged row stands out here (red)'
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
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=MAIN_COLOR)
    if marked is not None:
        m = _as_float(marked, "marked").reshape(-1)
        m = m[np.isfinite(m)]
        if m.size:
            ax.plot(
                m,
                np.zeros(m.size),
                "|",
                color=FLAG_COLOR,
                markersize=14,
                markeredgewidth=1.4,
                clip_on=False,
                zorder=4,
            )
        noun = "row stands" if m.size == 1 else "rows stand"
        ax.set_xlabel(f"{m.size:,} flagged {noun} out here (red)")
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
    wide = lo > 0 and hi / lo > 100  # e.g. 5 to 950: a log axis keeps both ends readable
    edges = np.geomspace(lo, hi, 61) if wide else np.linspace(lo, hi, 61)
    counts, edges = np.histogram(s, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    cmap = _score_cmap()
    if wide:  # the colour follows the axis, so it spans the real range of the scores
        colours = cmap((np.log(centres) - np.log(lo)) / (np.log(hi) - np.log(lo)))
        ax.set_xscale("log")
    else:
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
    ax.set_xlabel("anomaly score (higher = more anomalous)" + (", log scale" if wide else ""))
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

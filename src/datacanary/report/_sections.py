"""Sections of a report drawn from a sample of rows and the numbers a profile measured.

These functions take plain inputs (a pandas sample, a mapping of column statistics) and
return the dataclasses of :mod:`datacanary.report._model` with their figures rendered.
What they compute themselves is only what a picture needs from the rows it draws:
histogram bins, the most frequent values, per-period counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from datacanary.report import plots
from datacanary.report._model import ColumnSummary, Image

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "column_kind",
    "correlation_image",
    "is_identifier_like",
    "numeric_values",
    "period_counts",
    "render",
    "summarize_column",
    "trend_images",
]

MAX_TOP_VALUES = 10
MAX_CORRELATION_COLUMNS = 30


def render(fig: Figure, alt: str) -> Image:
    """A figure as an inline PNG (the figure is cleared afterwards to free its memory)."""
    data = plots.figure_bytes(fig)
    fig.clear()
    return Image(data=data, alt=alt)


def column_kind(values: pd.Series) -> str:
    """What a column holds, as the report draws it.

    One of ``numeric``, ``boolean``, ``datetime``, ``categorical`` (few distinct values)
    or ``text``.

    >>> import pandas as pd
    >>> [column_kind(pd.Series(v)) for v in ([1.5, 2.0], [True, False], ["a", "b", "a"])]
    ['numeric', 'boolean', 'categorical']
    >>> column_kind(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])))
    'datetime'
    """
    import pandas as pd

    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "boolean":
        return "boolean"
    if inferred in ("datetime", "datetime64", "date"):
        return "datetime"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    present = values.dropna()
    if present.empty:
        return "categorical"
    distinct = present.nunique()
    if distinct <= 50 or distinct <= 0.2 * len(present):
        return "categorical"
    return "text"


def is_identifier_like(values: pd.Series, kind: str) -> bool:
    """True for a column that names rows rather than describes them: integers or strings
    with a different value on every row (at least 20 rows, at most 1% repeats).

    >>> import pandas as pd
    >>> is_identifier_like(pd.Series([f"ord-{i}" for i in range(100)]), "text")
    True
    >>> is_identifier_like(pd.Series([1.5 * i for i in range(100)]), "numeric")
    False
    """
    import pandas as pd

    if kind not in ("numeric", "text", "categorical"):
        return False
    if kind == "numeric" and not pd.api.types.is_integer_dtype(values.dtype):
        return False
    present = values.dropna()
    if len(present) < 20:
        return False
    return int(present.nunique()) >= 0.99 * len(present)


def _sample_stats(values: pd.Series, kind: str) -> dict[str, Any]:
    """The statistics a profile gives, measured on ``values`` (used where none was given)."""
    present = values.dropna()
    stats: dict[str, Any] = {
        "rows": len(values),
        "null_count": int(len(values) - len(present)),
        "null_fraction": float(1 - len(present) / len(values)) if len(values) else 0.0,
        "distinct_count": int(present.nunique()),
    }
    if kind == "numeric" and len(present):
        numbers = present.astype(float)
        stats.update(
            min=float(numbers.min()),
            max=float(numbers.max()),
            mean=float(numbers.mean()),
            stddev=float(numbers.std()) if len(numbers) > 1 else None,
        )
    elif kind == "datetime" and len(present):
        stats.update(min=present.min(), max=present.max())
    elif kind in ("text", "categorical") and len(present):
        lengths = present.astype(str).str.len()
        stats.update(min_length=int(lengths.min()), max_length=int(lengths.max()))
    return stats


def numeric_values(values: pd.Series) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan))


def summarize_column(
    name: str,
    values: pd.Series,
    stats: Mapping[str, Any] | None,
    *,
    total_rows: int,
    draw: bool = True,
    marked: Any = None,
    flagged_rows: int | None = None,
    identifier: bool = False,
) -> ColumnSummary:
    """One column's numbers (``stats`` from the profile, else measured on ``values``) and
    its plot drawn from ``values``, the rows in the sample.

    ``marked`` are the values of the flagged rows that stand out on this column, drawn in
    red on its histogram; ``flagged_rows`` how many there are. An ``identifier`` column gets
    no histogram (its values name rows; their spread means nothing).

    >>> import pandas as pd
    >>> s = summarize_column("amount", pd.Series([10.0, 11, 9, 10, 12, 95, None]), None,
    ...                      total_rows=7, marked=[95.0], flagged_rows=1)
    >>> s.kind, s.flagged_rows, s.stats["null_count"]
    ('numeric', 1, 1)
    """
    kind = column_kind(values)
    measured = _sample_stats(values, kind)
    merged: dict[str, Any] = dict(measured)
    if stats:
        merged.update({k: v for k, v in stats.items() if v is not None})
    merged["rows"] = total_rows
    sampled = len(values) < total_rows
    where = f" in the sample of {len(values):,} rows" if sampled else ""
    image: Image | None = None
    top: list[tuple[str, int]] = []
    notes: list[str] = []
    present = values.dropna()
    if kind == "numeric":
        numbers = numeric_values(present)
        numbers = numbers[np.isfinite(numbers)]
        if numbers.size:
            merged.setdefault("median", float(np.median(numbers)))
            zero = float((numbers == 0).mean())
            if zero > 0:
                merged["zero_fraction"] = zero
        if identifier:
            notes.append("Identifier-like (a different value on every row): no histogram.")
        elif draw:
            fig = plots.histogram_plot(numbers, title="distribution", marked=marked)
            image = render(fig, f"Histogram of {name}{where}")
    elif kind == "datetime":
        if draw and len(present) > 0:
            starts, counts, unit = period_counts(present)
            scale = total_rows / len(values) if sampled and len(values) else 1.0
            fig = plots.trend_plot(
                starts,
                counts * scale,
                title=f"rows per {unit}" + (" (estimated)" if sampled else ""),
                kind="bar" if len(starts) <= 120 else "line",
                width=3.8,
            )
            image = render(fig, f"Rows per {unit} of {name}")
    else:
        counts_series = present.astype(str).value_counts()
        top = [
            (str(k) if str(k) != "" else "(empty string)", int(c))
            for k, c in counts_series.head(MAX_TOP_VALUES).items()
        ]
        if len(counts_series) > MAX_TOP_VALUES:
            rest = int(counts_series.iloc[MAX_TOP_VALUES:].sum())
            notes.append(
                f"{len(counts_series) - MAX_TOP_VALUES:,} other values in {rest:,} rows{where}."
            )
        if draw and top:
            fig = plots.bar_plot(
                [k for k, _ in top],
                [c for _, c in top],
                title="most frequent values",
                xlabel="rows in the sample" if sampled else "rows",
            )
            image = render(fig, f"Most frequent values of {name}{where}")
        top = top[:5]
    if len(present) == 0:
        notes.append("Every value is missing.")
    return ColumnSummary(
        name=name,
        kind=kind,
        dtype=str(values.dtype),
        stats=merged,
        image=image,
        flagged_rows=flagged_rows,
        top_values=top,
        notes=notes,
    )


def _naive_utc(times: pd.Series) -> pd.Series:
    import pandas as pd

    converted = pd.to_datetime(times, errors="coerce", utc=True)
    return converted.dt.tz_localize(None)


def period_counts(times: pd.Series) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows per hour, day, week or month (whichever gives a readable number of bars).

    >>> import pandas as pd
    >>> t = pd.Series(pd.date_range("2024-01-01", periods=72, freq="h"))
    >>> starts, counts, unit = period_counts(t)
    >>> unit, counts.tolist()
    ('day', [24.0, 24.0, 24.0])
    """
    t = _naive_utc(times).dropna()
    if t.empty:
        return np.array([], dtype="datetime64[ns]"), np.array([], dtype=float), "day"
    span_days = (t.max() - t.min()).total_seconds() / 86_400
    if span_days <= 2:
        unit, floored = "hour", t.dt.floor("h")
    elif span_days <= 400:
        unit, floored = "day", t.dt.floor("D")
    elif span_days <= 5 * 365:
        unit, floored = "week", t.dt.to_period("W").dt.start_time
    else:
        unit, floored = "month", t.dt.to_period("M").dt.start_time
    counts = floored.value_counts().sort_index()
    return counts.index.to_numpy(), counts.to_numpy(dtype=float), unit


def _period_floor(times: pd.Series, unit: str) -> pd.Series:
    if unit == "hour":
        return times.dt.floor("h")
    if unit == "day":
        return times.dt.floor("D")
    return times.dt.to_period("W" if unit == "week" else "M").dt.start_time


def trend_images(
    frame: pd.DataFrame,
    time_column: str,
    value_column: str | None,
    *,
    total_rows: int,
) -> list[Image]:
    """Rows per period over ``time_column`` and, given ``value_column``, that column's median
    per period within its 5th–95th percentiles (or every point when there are few)."""
    import pandas as pd

    times = _naive_utc(frame[time_column])
    sampled = len(frame) < total_rows
    suffix = " (estimated from the sample)" if sampled else ""
    starts, counts, unit = period_counts(times)
    if len(starts) == 0:
        return []
    scale = total_rows / len(frame) if sampled else 1.0
    images = [
        render(
            plots.trend_plot(
                starts,
                counts * scale,
                title=f"rows per {unit}{suffix}",
                ylabel="rows",
                kind="bar" if len(starts) <= 120 else "line",
            ),
            f"Rows per {unit} by {time_column}",
        )
    ]
    if value_column is not None:
        values = pd.Series(numeric_values(frame[value_column]), index=frame.index)
        pairs = pd.DataFrame({"t": times, "v": values}).dropna()
        pairs = pairs[np.isfinite(pairs["v"])]
        if len(pairs) >= 2:
            if len(pairs) <= 2_000 or len(starts) < 8:
                pairs = pairs.sort_values("t")
                fig = plots.trend_plot(
                    pairs["t"].to_numpy(),
                    pairs["v"].to_numpy(),
                    title=f"{value_column} over time",
                    ylabel=value_column,
                )
            else:
                groups = pairs.groupby(_period_floor(pairs["t"], unit))["v"]
                summary = groups.quantile([0.05, 0.5, 0.95]).unstack()
                fig = plots.trend_plot(
                    summary.index.to_numpy(),
                    summary[0.5].to_numpy(),
                    low=summary[0.05].to_numpy(),
                    high=summary[0.95].to_numpy(),
                    title=(
                        f"{value_column}: median per {unit}, shaded 5th–95th percentile"
                        + (" (sample)" if sampled else "")
                    ),
                    ylabel=value_column,
                )
            images.append(render(fig, f"{value_column} over {time_column}"))
    return images


def correlation_image(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[Image | None, str]:
    """A heat map of the Pearson correlations between numeric ``columns`` of ``frame``.

    Returns the image (``None`` with fewer than two varying columns) and a note when some
    columns were left out.
    """
    import pandas as pd

    numeric = pd.DataFrame({c: numeric_values(frame[c]) for c in columns}, index=frame.index)
    varying = [c for c in numeric.columns if numeric[c].nunique(dropna=True) > 1]
    note = ""
    if len(varying) > MAX_CORRELATION_COLUMNS:
        note = f"Showing the first {MAX_CORRELATION_COLUMNS} of {len(varying)} numeric columns."
        varying = varying[:MAX_CORRELATION_COLUMNS]
    if len(varying) < 2:
        return None, note
    matrix = numeric[varying].corr(method="pearson").to_numpy()
    fig = plots.correlation_heatmap(matrix, varying)
    return render(fig, "Correlation heat map of the numeric columns"), note

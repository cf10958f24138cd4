"""``build_outlier_check``: a row-level check on an asset's data, with the top rows and why."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from datacanary.errors import ConfigError, InputError
from datacanary.integrations.dagster._common import (
    AssetLike,
    check_int,
    one_asset_target,
    resolve_severity,
    with_runtime_hints,
)
from datacanary.results import format_number

Loader = Callable[[dg.AssetCheckExecutionContext], Any]
"""Returns the asset's data (a pandas, polars or pyarrow frame) for the check's run."""

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SHOWN_COLUMNS = 6  # columns of each top row shown in the metadata table


def build_outlier_check(
    *,
    asset: AssetLike,
    method: str = "auto",
    max_fraction: float = 0.1,
    columns: Sequence[str] | None = None,
    loader: Loader | None = None,
    top: int = 10,
    name: str = "row_outliers",
    severity: dg.AssetCheckSeverity | None = None,
    blocking: bool = False,
    detector_params: Mapping[str, Any] | None = None,
) -> dg.AssetChecksDefinition:
    """A check that scores every row of the asset's data and fails when too many stand out.

    The asset's data is loaded through its IO manager (the same partition as the run, for a
    partitioned check) or by ``loader``, scored by a :class:`datacanary.detectors.TableDetector`
    with its automatic threshold, and the check fails when the share of rows above the
    threshold exceeds ``max_fraction``. The result's metadata holds ``rows``, ``outliers``,
    ``outlier_fraction``, ``max_fraction``, ``threshold``, ``rule`` (the flagging rule in
    words: "flagged: 12 of 5,000 rows with p < 0.001 ..."), ``method``, ``features``,
    ``dropped_columns`` and ``top_rows``: a table of the ``top`` highest-scoring rows with
    their score, the columns that made each stand out and their first values. Data that
    cannot be scored (empty, no usable column, a named column missing) fails the check with
    the reason as its description.

    Parameters
    ----------
    asset
        The asset to check: a key or a definition (pass the definition of a partitioned
        asset so the check is partitioned and loads the run's partition).
    method
        The row detector (``"auto"``, ``"iforest"``, ``"lof"``, ``"robust"``, ...; see
        :class:`datacanary.detectors.TableDetector`).
    max_fraction
        The largest share of outlier rows that passes, in ``[0, 1)``. The automatic threshold
        flags a row whose p-value is below 0.001, about 0.1 % of clean rows (0.7 % on average
        over 20 clean public tables, ``bench/clean_rows.py``); measure a few good days and set
        it above them.
    columns
        Columns to score (default all usable ones).
    loader
        ``loader(context) -> frame`` instead of the IO manager, e.g. to read a table the
        asset wrote to a warehouse.
    top
        Rows shown in ``top_rows``.
    name
        The check's name.
    severity, blocking
        As in :func:`build_anomaly_checks`: a blocking check (severity ``ERROR``) stops
        downstream assets when it fails.
    detector_params
        Other ``TableDetector`` parameters, e.g. ``{"random_state": 0}``.

    Returns
    -------
    AssetChecksDefinition

    Raises
    ------
    ConfigError
        A bad definition, when the check is built.

    Examples
    --------
    >>> import dagster as dg
    >>> from datacanary.integrations.dagster import build_outlier_check
    >>> @dg.asset
    ... def orders():
    ...     ...
    >>> check = build_outlier_check(asset=orders, max_fraction=0.02)
    >>> [key.name for key in check.check_keys]
    ['row_outliers']
    >>> build_outlier_check(asset=orders, max_fraction=2)
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: max_fraction must be a share of rows in [0, 1); got 2
    """
    key, partitions_def = one_asset_target(asset)
    if (
        isinstance(max_fraction, bool)
        or not isinstance(max_fraction, (int, float))
        or not 0 <= max_fraction < 1
    ):
        raise ConfigError(f"max_fraction must be a share of rows in [0, 1); got {max_fraction!r}")
    top = check_int("top", top, low=0)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"name must be letters, digits and underscores; got {name!r}; e.g. 'row_outliers'"
        )
    if loader is not None and not callable(loader):
        raise ConfigError(f"loader must be a function of the check's context; got {loader!r}")
    if columns is not None and (
        isinstance(columns, str)
        or not isinstance(columns, Sequence)
        or not columns
        or not all(isinstance(c, str) for c in columns)
    ):
        raise ConfigError(
            f"columns must be a non-empty list of column names or None (all); got {columns!r}"
        )
    if detector_params is not None and not isinstance(detector_params, Mapping):
        raise ConfigError(
            f"detector_params must be a mapping of detector parameters; got {detector_params!r}"
        )
    resolved_severity = resolve_severity(severity, blocking)
    params = dict(detector_params or {})
    _validate_detector(method, list(columns) if columns is not None else None, params)
    scorer = _Scorer(
        method=method,
        params=params,
        max_fraction=float(max_fraction),
        columns=list(columns) if columns is not None else None,
        top=top,
        severity=resolved_severity,
    )
    description = (
        f"datacanary: fails when more than {max_fraction:.2%} of the rows are outliers "
        f"(method {method!r})."
    )
    hinted: Callable[..., dg.AssetCheckResult]
    decorate = dg.asset_check(
        asset=key,
        name=name,
        description=description,
        blocking=blocking,
        partitions_def=partitions_def,
    )
    if loader is None:

        def _check_loaded(context: dg.AssetCheckExecutionContext, data: Any) -> dg.AssetCheckResult:
            return scorer.result(context, key, name, data)

        hinted = with_runtime_hints(_check_loaded, context=dg.AssetCheckExecutionContext, data=Any)
    else:
        load = loader

        def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            return scorer.result(context, key, name, load(context))

        hinted = with_runtime_hints(_check, context=dg.AssetCheckExecutionContext)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks (1.13)
        return decorate(hinted)


def _validate_detector(method: str, columns: list[str] | None, params: Mapping[str, Any]) -> None:
    """Fail now, not in a run, for an unknown method or parameter."""
    from datacanary.detectors import TableDetector

    if "contamination" in params:
        raise ConfigError(
            "detector_params must not set contamination: a fixed fraction would flag that "
            "share of every table, so the check would never fail; the check uses the automatic "
            "threshold and max_fraction bounds the share of outliers"
        )
    if "columns" in params:
        raise ConfigError(
            "detector_params must not set columns; pass build_outlier_check(columns=...)"
        )
    TableDetector(method, columns=columns, **params)  # validates when constructed


class _Scorer:
    def __init__(
        self,
        *,
        method: str,
        params: Mapping[str, Any],
        max_fraction: float,
        columns: list[str] | None,
        top: int,
        severity: dg.AssetCheckSeverity,
    ) -> None:
        self.method = method
        self.params = params
        self.max_fraction = max_fraction
        self.columns = columns
        self.top = top
        self.severity = severity

    def result(
        self, context: dg.AssetCheckExecutionContext, key: dg.AssetKey, name: str, data: Any
    ) -> dg.AssetCheckResult:
        from datacanary.detectors import TableDetector

        where = key.to_user_string()
        if context.has_partition_key:
            where += f" [{context.partition_key}]"
        try:
            if data is None:
                raise InputError("the data is None; return a frame from the asset or the loader")
            if type(data).__module__.startswith("pyspark."):  # a Spark DataFrame, via Arrow
                from datacanary.sources import read_table

                data = read_table(data)
            scores = TableDetector(self.method, columns=self.columns, **self.params).fit_score(data)
        except InputError as error:
            message = f"the rows of {where} cannot be scored: {error}"
            return dg.AssetCheckResult(
                passed=False,
                asset_key=key,
                check_name=name,
                severity=self.severity,
                description=message,
                metadata={
                    "status": "error",
                    "message": message,
                    "max_fraction": self.max_fraction,
                    "method": self.method,
                },
            )
        rows = len(scores)
        outliers = scores.n_anomalies
        fraction = outliers / rows if rows else 0.0
        passed = fraction <= self.max_fraction
        message = (
            f"{format_number(outliers)} of {format_number(rows)} rows of {where} "
            f"({fraction:.2%}) are outliers, "
            + (
                f"within the allowed {self.max_fraction:.2%}"
                if passed
                else f"above the allowed {self.max_fraction:.2%}"
            )
        )
        order = sorted(range(rows), key=lambda i: -float(scores.scores[i]))
        flagged = [i for i in order if scores.is_anomaly[i]][: self.top]
        if flagged:
            first = flagged[0]
            why = scores.explanations[first]
            message += f"; the most anomalous is row {first} (score {_score(scores.scores[first])}"
            message += f", stands out on {why})" if why else ")"
        metadata: dict[str, Any] = {
            "status": "passed" if passed else "anomaly",
            "message": message,
            "rows": rows,
            "outliers": outliers,
            "outlier_fraction": float(fraction),
            "max_fraction": self.max_fraction,
            "threshold": float(scores.threshold),
            "rule": scores.rule,
            "method": scores.method,
            "features": dg.MetadataValue.json(list(scores.features)),
            "dropped_columns": dg.MetadataValue.json(dict(scores.dropped_columns)),
            "top_rows": dg.MetadataValue.md(_top_table(data, scores, flagged)),
        }
        if context.has_partition_key:
            metadata["partition"] = context.partition_key
        return dg.AssetCheckResult(
            passed=passed,
            asset_key=key,
            check_name=name,
            severity=self.severity,
            description=message,
            metadata=metadata,
        )


def _rows(frame: Any, indices: Sequence[int]) -> list[dict[str, Any]]:
    """The rows at ``indices`` as dicts (pandas, polars or pyarrow)."""
    if not indices:
        return []
    if hasattr(frame, "iloc"):
        return [dict(r) for r in frame.iloc[list(indices)].to_dict(orient="records")]
    if hasattr(frame, "take") and hasattr(frame, "to_pylist"):  # pyarrow
        return list(frame.take(list(indices)).to_pylist())
    if hasattr(frame, "row"):  # polars
        return [frame.row(i, named=True) for i in indices]
    return [{} for _ in indices]


def _top_table(frame: Any, scores: Any, flagged: Sequence[int]) -> str:
    if not flagged:
        return "No row is above the threshold."
    records = _rows(frame, flagged)
    available = list(records[0]) if records else []
    scored = [c for c in scores.features if c in available]  # the scored columns first
    shown = [*scored, *(c for c in available if c not in scored)][:_SHOWN_COLUMNS]
    head = ["row", "score", "p-value", "stands out on", *shown]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * len(head)) + "|",
    ]
    for i, record in zip(flagged, records, strict=False):
        p_value = f"{float(scores.p_values[i]):.2g}" if len(scores.p_values) > i else ""
        cells = [str(i), _score(scores.scores[i]), p_value, scores.explanations[i] or ""]
        cells += [_cell(record.get(c)) for c in shown]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _score(x: float) -> str:
    return f"{float(x):.3g}"


def _cell(value: Any) -> str:
    if isinstance(value, float) and not math.isnan(value):
        text = format_number(value)
    else:
        text = str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 40 else text[:39] + "…"

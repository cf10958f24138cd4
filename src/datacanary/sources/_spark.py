"""Apache Spark: ``spark::<table>`` and any pyspark DataFrame (classic or Spark Connect).

Every query runs inside Spark: a profile is one Spark SQL aggregate job whose single result row
is all that reaches the driver; a sample comes through Arrow; scoring rows
(:func:`score_spark`) runs on the executors with ``mapInPandas`` and the output is written by
Spark, the driver receiving only a summary.

The session: an active one is reused; otherwise ``SPARK_REMOTE`` (a Spark Connect URL such as
``sc://host:15002``, or ``local[2]`` for an in-process Connect server) or, for classic Spark,
``DATACANARY_SPARK_MASTER`` (default ``local[*]``), plus the ``spark.*`` settings given to
:func:`configure_spark` (a monitor file's ``spark: {conf: ...}``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from datacanary.errors import (
    ColumnNotFoundError,
    ConfigError,
    InputError,
    MissingDependencyError,
    SourceNotFoundError,
)
from datacanary.sources._base import Engine, Source, SourceConnection, _first_line

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SparkEngine", "SparkScores", "configure_spark", "score_spark", "spark_session"]

PREFIX = "spark::"
JAVA_NEEDED = 17
_CONF: dict[str, str] = {}
_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
_RUNTIME_DEFAULTS = {"spark.sql.execution.arrow.pyspark.enabled": "true"}
_NOT_FOUND = ("TABLE_OR_VIEW_NOT_FOUND", "PATH_NOT_FOUND", "SCHEMA_NOT_FOUND")


def configure_spark(conf: Mapping[str, Any]) -> None:
    """``spark.*`` settings for the session datacanary starts (an active session is kept).

    >>> configure_spark({"spark.sql.shuffle.partitions": 8})
    >>> configure_spark({"shuffle.partitions": 8})
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: Spark setting 'shuffle.partitions' must start with 'spark.'...
    """
    for key, value in conf.items():
        if not isinstance(key, str) or not key.startswith("spark."):
            raise ConfigError(
                f"Spark setting {key!r} must start with 'spark.' "
                "(e.g. spark.sql.shuffle.partitions)"
            )
        _CONF[key] = str(value).lower() if isinstance(value, bool) else str(value)


def _import_pyspark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise MissingDependencyError(
            "Spark sources need the 'spark' extra and Java 17 or newer: "
            "pip install 'datacanary[spark]'"
        ) from None
    return pyspark


def _check_java() -> None:
    """Spark 4 runs on Java 17+: say so in one line instead of a gateway traceback."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    fix = (
        f"Spark needs Java {JAVA_NEEDED} or newer; install it (Debian/Ubuntu: apt-get install "
        f"openjdk-{JAVA_NEEDED}-jre-headless) or set JAVA_HOME"
    )
    if not java or not os.path.exists(java):
        raise MissingDependencyError(f"{fix} (no java found on PATH or in JAVA_HOME)")
    try:
        shown = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingDependencyError(f"{fix} ({java} -version failed: {exc})") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    if found:
        major = int(found.group(1))
        if major == 1 and found.group(2):  # "1.8.0_392" is Java 8
            major = int(found.group(2))
        if major < JAVA_NEEDED:
            raise MissingDependencyError(f"{fix} (found Java {major} at {java})")


def spark_session() -> Any:
    """The Spark session datacanary uses: the active one, else one it starts.

    Raises
    ------
    MissingDependencyError
        pyspark or Java 17+ is missing.
    InputError
        The session cannot be started or reached.
    """
    _import_pyspark()
    _quiet_spark_logs()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    remote = os.environ.get("SPARK_REMOTE", "").strip()
    conf = dict(_RUNTIME_DEFAULTS)
    if remote:
        builder = SparkSession.builder.remote(remote)
        where = f"Spark Connect at {remote} (SPARK_REMOTE)"
        local = remote.startswith("local")
    else:
        master = os.environ.get("DATACANARY_SPARK_MASTER", "").strip() or "local[*]"
        builder = SparkSession.builder.master(master).appName("datacanary")
        where = f"Spark master {master} (DATACANARY_SPARK_MASTER)"
        local = master.startswith("local")
    if local:
        _check_java()
        # the executors' Python workers must import datacanary: run them with this interpreter
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        conf = {**_DEFAULTS, **conf}
    elif not remote:
        conf = {**_DEFAULTS, **conf}
    conf.update(_CONF)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j / grpc / PySpark errors alike: one line
        raise InputError(
            f"cannot start or reach {where}: {_first_line(exc)}; check the URL or master, "
            "and that Spark is running"
        ) from None


def _error_types() -> tuple[type[BaseException], ...]:
    from pyspark.errors import PySparkException

    types: list[type[BaseException]] = [PySparkException]
    try:
        from py4j.protocol import Py4JError

        types.append(Py4JError)
    except ImportError:  # pyspark-client (Connect only) has no py4j
        pass
    return tuple(types)


def _condition(exc: BaseException) -> str:
    getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    try:
        return str(getter() or "") if getter else ""
    except Exception:
        return ""


def _spark_message(exc: BaseException) -> str:
    """The first meaningful line of a Spark error, without the JVM stack."""
    text = str(exc).strip()
    # executor failures wrap the Python traceback: keep its last line (the actual error)
    if "PythonException" in type(exc).__name__ or "Traceback (most recent call last)" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ":" in ln]
        errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception):", ln)]
        if errors:
            return errors[-1]
    return _first_line(exc)


def _quiet_spark_logs() -> None:
    """pyspark logs each SQL error to stderr before raising it; the error we raise says it."""
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def _arrow() -> Iterator[None]:
    """toPandas without pyspark's warning about pandas versions it has not certified."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        yield


def _spark_error(source: Source, exc: BaseException) -> InputError:
    if _condition(exc).startswith(_NOT_FOUND) or any(c in str(exc) for c in _NOT_FOUND):
        first = re.match(r"^(\[[A-Z_]+\][^.]*\.)", _first_line(exc))
        return SourceNotFoundError(
            f"{source.name} not found: {first.group(1) if first else _first_line(exc)}; "
            "check the table name (catalog."
            "schema.table) or the path (parquet.`/data/orders/`)"
        )
    return InputError(f"cannot read {source.name} in Spark: {_spark_message(exc)}")


def _is_spark_frame(obj: Any) -> bool:
    module = type(obj).__module__
    return module.startswith("pyspark.") and type(obj).__name__ == "DataFrame"


class SparkEngine(Engine):
    """``spark::<table identifier>`` and pyspark DataFrames, read by Spark SQL."""

    kinds: ClassVar[tuple[str, ...]] = ("spark",)
    dialect: ClassVar[str] = "spark"

    def resolve(self, text: str) -> Source | None:
        if not text.lower().startswith(PREFIX):
            return None
        table = text[len(PREFIX) :].strip()
        if not table:
            raise InputError(
                f"{text}: no table named; write spark::schema.table or spark::parquet.`/path/`"
            )
        return Source(kind="spark", name=text, table=table)

    def from_object(self, obj: Any) -> Source | None:
        if not _is_spark_frame(obj):
            return None
        return Source(kind="spark", name="Spark DataFrame", frame=obj)

    def connect(self, source: Source) -> SourceConnection:
        return _SparkConnection(source)


class _SparkConnection(SourceConnection):
    columnar = True

    def __init__(self, source: Source) -> None:
        self.source = source
        self.dialect = "spark"
        self._view: str | None = None
        if source.frame is not None:
            _quiet_spark_logs()
            self._spark = source.frame.sparkSession
        else:
            self._spark = spark_session()
        self._errors = _error_types()
        try:
            for key, value in _RUNTIME_DEFAULTS.items():
                self._spark.conf.set(key, value)
            if source.frame is not None:
                self._view = f"datacanary_{uuid.uuid4().hex[:12]}"
                source.frame.createOrReplaceTempView(self._view)
                self.relation = f"`{self._view}`"
                self.frame = source.frame
            else:
                assert source.table is not None
                self.relation = source.table
                self.frame = self._spark.sql(f"SELECT * FROM {self.relation}")
            self._columns = [(f.name, f.dataType.simpleString()) for f in self.frame.schema.fields]
        except self._errors as exc:
            self.close()
            raise _spark_error(source, exc) from None

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return [tuple(row) for row in self._spark.sql(sql).collect()]
        except self._errors as exc:
            raise _spark_error(self.source, exc) from None

    def fetch_frame(self, sql: str) -> pd.DataFrame:
        try:
            with _arrow():
                return self._spark.sql(sql).toPandas()
        except self._errors as exc:
            raise _spark_error(self.source, exc) from None

    def schema(self) -> list[tuple[str, str]]:
        return list(self._columns)

    def sample(self, n: int, seed: int, total: int) -> pd.DataFrame:
        # Bernoulli sampling per partition, seeded; ask for a margin (mean + 6 sd) and cut to n
        fraction = min(1.0, (n + 6.0 * math.sqrt(n) + 10) / total)
        try:
            while True:
                frame = self.frame.sample(withReplacement=False, fraction=fraction, seed=seed)
                with _arrow():
                    frame = frame.toPandas()
                if len(frame) >= n or fraction >= 1.0:
                    break
                fraction = min(1.0, fraction * 2)
        except self._errors as exc:
            raise _spark_error(self.source, exc) from None
        if len(frame) > n:
            frame = frame.sample(n=n, random_state=seed).sort_index()
        return frame.reset_index(drop=True)

    def iter_batches(self, sql: str, rows: int = 65_536) -> Iterator[pd.DataFrame]:
        import pandas as pd

        try:
            result = self._spark.sql(sql)
            names = result.columns
            chunk: list[Any] = []
            for row in result.toLocalIterator(prefetchPartitions=True):
                chunk.append(tuple(row))
                if len(chunk) == rows:
                    yield pd.DataFrame.from_records(chunk, columns=names)
                    chunk = []
            if chunk:
                yield pd.DataFrame.from_records(chunk, columns=names)
        except self._errors as exc:
            raise _spark_error(self.source, exc) from None

    def close(self) -> None:
        view = getattr(self, "_view", None)
        if view is not None:
            self._view = None
            # a session already stopped has no views to drop
            with contextlib.suppress(Exception):
                self._spark.catalog.dropTempView(view)


# ------------------------------------------------------------------------- scoring on Spark

_BINS = 1 << 14  # score histogram for ROC-AUC / PR-AUC: the ties it makes cost < 1e-4 AUC


@dataclass(frozen=True)
class SparkScores:
    """What the driver learns from scoring a Spark table: counts, the top rows, evaluation.

    Attributes
    ----------
    rows : int
        Rows scored (each once).
    anomalies : int
        Rows with ``is_anomaly``.
    threshold : float
    method : str
    features : list of str
    dropped_columns : dict of str to str
    top : list of dict
        The highest-scoring rows, each its columns plus ``anomaly_score``, ``is_anomaly`` and
        ``explanation`` (and ``p_value`` when the detector gives one).
    evaluation : dict or None
        Against the label column: precision, recall, f1, roc_auc, pr_auc, precision_at_k,
        n_true, n_flagged (ROC/PR-AUC from a histogram of the scores).
    output : str or None
        Where the scored rows were written.
    fitted_rows : int
        Rows of the sample the detector was fitted on.
    """

    rows: int
    anomalies: int
    threshold: float
    method: str
    features: list[str]
    dropped_columns: dict[str, str]
    top: list[dict[str, Any]]
    evaluation: dict[str, float] | None = None
    output: str | None = None
    fitted_rows: int = 0


def _score_columns(with_p_values: bool) -> list[tuple[str, str]]:
    columns = [("anomaly_score", "double")]
    if with_p_values:
        columns.append(("p_value", "double"))
    return [*columns, ("is_anomaly", "boolean"), ("explanation", "string")]


def _make_scorer(detector: Any, with_p_values: bool) -> Any:
    """The function ``mapInPandas`` runs on the executors; the fitted detector travels in it."""

    def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import numpy as np

        for batch in batches:
            if len(batch) == 0:
                continue
            scores = detector.score(batch)
            out = batch.copy()
            out["anomaly_score"] = np.asarray(scores.scores, dtype=float)
            if with_p_values:
                out["p_value"] = np.asarray(scores.p_values, dtype=float)
            out["is_anomaly"] = np.asarray(scores.is_anomaly, dtype=bool)
            out["explanation"] = [str(x) for x in scores.explanations]
            yield out

    return score_batches


def _local_path(output: str) -> Path | None:
    if output.startswith("file://"):
        return Path(output[len("file://") :])
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", output):
        return None
    return Path(output)


def score_spark(
    source: Any,
    detector: Any,
    *,
    output: str | os.PathLike[str] | None = None,
    label_column: str | None = None,
    top: int = 20,
    fitted_rows: int = 0,
) -> SparkScores:
    """Score every row of a Spark table on the executors with an already fitted ``detector``.

    Parameters
    ----------
    source : str, Source or pyspark DataFrame
        ``"spark::table"`` or a DataFrame.
    detector : object
        Fitted; ``detector.score(pandas.DataFrame)`` returns a
        :class:`~datacanary.results.RowScores` for those rows (e.g. a fitted
        :class:`datacanary.detectors.TableDetector`). It is pickled to the executors.
    output : str or path, optional
        A directory the scored rows are written to as Parquet (it must not exist; written to a
        sibling and renamed, so a failed job leaves nothing), or ``spark::table`` to save a
        table. Without it the scored rows are kept in Spark's cache for the summary.
    label_column : str, optional
        Known labels (1/true = anomaly) to evaluate against.
    top : int, default 20
        Highest-scoring rows to bring back.

    Returns
    -------
    SparkScores
    """
    from datacanary.sources._api import resolve_source

    src = resolve_source(source)
    if src.kind != "spark":
        raise InputError(f"{src.name} is not a Spark source; name it spark::<table>")
    with src.connect() as conn:
        assert isinstance(conn, _SparkConnection)
        return _score(conn, detector, output, label_column, top, fitted_rows)


def _score(
    conn: _SparkConnection,
    detector: Any,
    output: str | os.PathLike[str] | None,
    label_column: str | None,
    top: int,
    fitted_rows: int,
) -> SparkScores:
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    frame = conn.frame
    names = [name for name, _ in conn.schema()]
    if label_column is not None and label_column not in names:
        raise ColumnNotFoundError.from_missing([label_column], names)
    reserved = [c for c, _ in _score_columns(True) if c in names]
    if reserved:
        raise InputError(
            f"{conn.source.name} already has a column {reserved[0]!r}; rename it before scoring"
        )
    # one tiny batch on the driver: the result's shape (p-values or not) and early errors
    try:
        with _arrow():
            probe_rows = frame.limit(2).toPandas()
    except conn._errors as exc:
        raise _spark_error(conn.source, exc) from None
    probe = detector.score(probe_rows)
    with_p = len(getattr(probe, "p_values", None) or ()) == len(probe.scores) > 0
    added = [StructField(n, _parse_datatype_string(t), True) for n, t in _score_columns(with_p)]
    schema = StructType([*frame.schema.fields, *added])
    scored = frame.mapInPandas(_make_scorer(detector, with_p), schema=schema)
    written: str | None = None
    try:
        if output is not None:
            written, result = _write(conn, scored, os.fspath(output))
        else:
            result = scored.persist()
        summary = _summarise(conn, result, label_column, top)
    except conn._errors as exc:
        raise _spark_error(conn.source, exc) from None
    finally:
        if output is None:
            scored.unpersist()
    return SparkScores(
        rows=summary["rows"],
        anomalies=summary["anomalies"],
        threshold=float(probe.threshold),
        method=str(probe.method),
        features=list(probe.features),
        dropped_columns=dict(probe.dropped_columns),
        top=summary["top"],
        evaluation=summary["evaluation"],
        output=written,
        fitted_rows=fitted_rows,
    )


def _write(conn: _SparkConnection, scored: Any, output: str) -> tuple[str, Any]:
    spark = conn._spark
    if output.lower().startswith(PREFIX):
        table = output[len(PREFIX) :].strip()
        if spark.catalog.tableExists(table):
            raise InputError(f"--output table {table} already exists; drop it or name another")
        scored.write.mode("error").saveAsTable(table)
        return output, spark.table(table)
    local = _local_path(output)
    if local is None:  # s3://, abfss://...: the job's committer makes the write all-or-nothing
        scored.write.mode("error").parquet(output)
        return output, spark.read.parquet(output)
    local = local.expanduser().absolute()
    if local.exists():
        raise InputError(f"--output {output} already exists; remove it or name a new directory")
    if not local.parent.is_dir():
        raise InputError(f"--output {output}: folder {local.parent} does not exist; create it")
    staging = local.parent / f".{local.name}.datacanary-{uuid.uuid4().hex[:8]}"
    try:
        scored.write.mode("error").parquet(str(staging))
        staging.rename(local)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return str(local), spark.read.parquet(str(local))


def _summarise(
    conn: _SparkConnection, result: Any, label_column: str | None, top: int
) -> dict[str, Any]:
    from pyspark.sql import functions as F

    counts = result.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("is_anomaly").cast("long")).alias("anomalies"),
        F.min("anomaly_score").alias("low"),
        F.max("anomaly_score").alias("high"),
    ).collect()[0]
    rows, anomalies = int(counts["rows"]), int(counts["anomalies"] or 0)
    top_rows = [
        row.asDict(recursive=True)
        for row in result.orderBy(F.col("anomaly_score").desc()).limit(top).collect()
    ]
    evaluation = None
    if label_column is not None and rows:
        evaluation = _evaluate(result, label_column, float(counts["low"]), float(counts["high"]))
    return {"rows": rows, "anomalies": anomalies, "top": top_rows, "evaluation": evaluation}


def _label_expression(result: Any, column: str) -> Any:
    """The label column as 0/1, the way :func:`datacanary.evaluate.labels_from_column` reads it."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, NumericType

    dtype = result.schema[column].dataType
    col = F.col(f"`{column}`")
    if isinstance(dtype, (BooleanType, NumericType)):
        return (col.cast("double") != 0).cast("int")
    word = F.lower(F.trim(col.cast("string")))
    positive = ["1", "true", "yes", "y", "outlier", "anomaly", "anomalous"]
    negative = ["0", "false", "no", "n", "inlier", "normal"]
    return (
        F.when(word.isin(positive), 1).when(word.isin(negative), 0).otherwise(F.lit(None))
    ).cast("int")


def _evaluate(result: Any, column: str, low: float, high: float) -> dict[str, float]:
    """Precision/recall/F1 exactly; ROC-AUC, PR-AUC and precision@k from a score histogram."""
    import numpy as np
    from pyspark.sql import functions as F

    label = _label_expression(result, column)
    width = (high - low) / _BINS if high > low else 1.0
    bin_ = F.least(F.floor((F.col("anomaly_score") - F.lit(low)) / F.lit(width)), F.lit(_BINS - 1))
    grouped = (
        result.select(
            bin_.cast("int").alias("bin"),
            label.alias("label"),
            F.col("is_anomaly").cast("int").alias("flag"),
        )
        .groupBy("bin", "label", "flag")
        .count()
        .collect()
    )
    pos = np.zeros(_BINS)
    neg = np.zeros(_BINS)
    tp = fp = 0
    for row in grouped:
        if row["label"] is None:
            raise InputError(
                f"label column {column!r} has missing values or words that are not labels; "
                "use 1/0, true/false or outlier/normal"
            )
        target = pos if row["label"] == 1 else neg
        target[int(row["bin"])] += row["count"]
        if row["flag"] == 1:
            if row["label"] == 1:
                tp += row["count"]
            else:
                fp += row["count"]
    n_pos, n_neg = pos.sum(), neg.sum()
    n_flagged = tp + fp
    precision = tp / n_flagged if n_flagged else 0.0
    recall = tp / n_pos if n_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    if n_pos == 0 or n_neg == 0:
        roc_auc = pr_auc = at_k = float("nan")
    else:
        # bins from the highest score down
        p, q = pos[::-1], neg[::-1]
        neg_above = np.cumsum(q) - q
        roc_auc = float(np.sum(p * (n_neg - neg_above - q) + 0.5 * p * q) / (n_pos * n_neg))
        cum_tp, cum_all = np.cumsum(p), np.cumsum(p + q)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(cum_all > 0, cum_tp / cum_all, 0.0)
        pr_auc = float(np.sum(prec * p) / n_pos)
        # precision@k, k = n_true: the top k rows, the boundary bin taken pro rata
        k = n_pos
        before = np.concatenate([[0.0], cum_all[:-1]])
        take = np.clip(k - before, 0, p + q)
        share = np.where(p + q > 0, p / np.maximum(p + q, 1), 0.0)
        at_k = float(np.sum(take * share) / k)
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "precision_at_k": at_k,
        "n_true": int(n_pos),
        "n_flagged": int(n_flagged),
    }

"""Row detectors on the ODDS tabular outlier sets: ROC-AUC, PR-AUC and seconds per set.

Protocol (unsupervised, as a pipeline would use a detector): each set's ``X`` is scored by
``TableDetector(method, random_state=...).fit_score(X)``, which fits and scores the same rows,
encoder, threshold and explanations included; the labels ``y`` are used only to evaluate.
``seconds`` is the wall time of that call. Sets larger than ``max_rows`` are subsampled
first, stratified and deterministic (:func:`load_odds`).

This differs from ADBench's protocol (a 70/30 split, min-max scaling, sets resized to
1,000-10,000 rows), so its published numbers are anchors, not targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datacanary.errors import ConfigError, InputError, SourceNotFoundError

__all__ = ["DEFAULT_METHODS", "load_odds", "odds_files", "run_odds"]

DEFAULT_METHODS = ("auto", "iforest", "knn", "lof", "ocsvm", "ecod", "zscore", "mad")
"""The methods :func:`run_odds` runs when none are named."""

Scorer = Callable[[np.ndarray], np.ndarray]
"""A baseline: takes ``X``, returns anomaly scores (higher = more anomalous)."""


def odds_files(datasets_dir: str | Path, sets: Sequence[str] | None = None) -> list[Path]:
    """The ``.npz`` sets in ``datasets_dir`` (or its ``odds/`` folder), sorted; ``sets`` picks."""
    folder = Path(datasets_dir)
    if (folder / "odds").is_dir():
        folder = folder / "odds"
    files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    if not files:
        raise SourceNotFoundError(
            f"no ODDS .npz files in {folder}; pass the folder holding annthyroid.npz, ... "
            "(../shared/datasets/odds)"
        )
    if sets is not None:
        names = {f.stem: f for f in files}
        unknown = [s for s in sets if s not in names]
        if unknown:
            raise SourceNotFoundError(
                f"no ODDS set {', '.join(map(repr, unknown))} in {folder}; "
                f"available: {', '.join(names)}"
            )
        files = [names[s] for s in sets]
    return files


def load_odds(
    path: str | Path, *, max_rows: int | None = None, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (float64) and ``y`` (1 = outlier) of one set, subsampled to ``max_rows`` if larger.

    The subsample is stratified and deterministic: from each class, ``round(max_rows x its
    share)`` rows (at least one) are drawn without replacement with
    ``numpy.random.default_rng(random_state)``, inliers first; the rows keep their file order.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(path, X=np.arange(200.0).reshape(100, 2), y=np.r_[np.zeros(90), np.ones(10)])
    >>> X, y = load_odds(path, max_rows=50)
    >>> X.shape, int(y.sum())
    ((50, 2), 5)
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in ("X", "y") if key not in data.files]
            if missing:
                raise InputError(
                    f"{path}: an ODDS set needs arrays X and y; missing {', '.join(missing)} "
                    f"(found: {', '.join(data.files) or 'none'})"
                )
            X = np.asarray(data["X"], dtype=np.float64)
            y = np.asarray(data["y"]).astype(np.int64).ravel()
    except InputError:
        raise
    except (OSError, ValueError) as exc:  # not a .npz archive, or arrays that need pickle
        raise InputError(f"{path}: not a readable ODDS .npz set ({exc})") from None
    if X.ndim != 2 or len(X) != len(y):
        raise InputError(
            f"{path}: expected X (rows x features) and y (rows); got {X.shape}, {y.shape}"
        )
    if max_rows is not None and len(y) > max_rows:
        rng = np.random.default_rng(random_state)
        keep = []
        for label in np.unique(y):
            rows = np.flatnonzero(y == label)
            size = max(1, round(max_rows * len(rows) / len(y)))
            keep.append(rng.choice(rows, size=min(size, len(rows)), replace=False))
        index = np.sort(np.concatenate(keep))
        X, y = X[index], y[index]
    return X, y


def run_odds(
    datasets_dir: str | Path,
    methods: Sequence[str] | Mapping[str, str | Scorer] | None = None,
    *,
    max_rows: int | None = None,
    random_state: int = 0,
    progress: Callable[[dict[str, Any]], None] | None = None,
    sets: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Run detectors on every ODDS set in ``datasets_dir``; one result row per set and method.

    Parameters
    ----------
    datasets_dir
        Folder of ``.npz`` sets (``X``, ``y``), or a folder with an ``odds/`` sub-folder.
    methods
        Method names for :class:`~datacanary.detectors.TableDetector` (default
        :data:`DEFAULT_METHODS`), or a mapping of label -> method name or baseline callable
        ``X -> anomaly scores`` (e.g. scikit-learn called directly, to compare).
    max_rows
        Subsample larger sets to this many rows (:func:`load_odds`); None keeps every row.
    random_state
        Seed of the subsample and of the detectors.
    progress
        Called with each result row as soon as it is measured.
    sets
        Names of the sets to run (file names without ``.npz``); all by default.

    Returns
    -------
    list of dict
        ``dataset``, ``method``, ``roc_auc``, ``pr_auc``, ``seconds``, plus ``rows``,
        ``features``, ``outliers`` and, for datacanary methods, ``precision``, ``recall``,
        ``f1`` and ``flagged`` at the method's own threshold (NaN for callables).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(200, 3)), rng.normal(6, 1, size=(5, 3))])
    >>> np.savez(folder / "toy.npz", X=X, y=np.r_[np.zeros(200), np.ones(5)])
    >>> [(r["dataset"], r["method"], r["roc_auc"]) for r in run_odds(folder, ["iforest"])]
    [('toy', 'iforest', 1.0)]
    """
    from datacanary.detectors import TableDetector
    from datacanary.evaluate.metrics import evaluate_scores

    plan: dict[str, str | Scorer]
    if methods is None:
        plan = {m: m for m in DEFAULT_METHODS}
    elif isinstance(methods, Mapping):
        plan = dict(methods)
    elif isinstance(methods, str):
        raise ConfigError(f"methods takes a list of names; got the string {methods!r}")
    else:
        plan = {m: m for m in methods}
    for method in plan.values():
        if isinstance(method, str):
            TableDetector(method, random_state=random_state)  # unknown names fail before any run
        elif not callable(method):
            raise ConfigError(f"a method is a name or a callable X -> scores; got {method!r}")
    rows: list[dict[str, Any]] = []
    for path in odds_files(datasets_dir, sets):
        X, y = load_odds(path, max_rows=max_rows, random_state=random_state)
        for label, method in plan.items():
            started = time.perf_counter()
            flags = None
            if isinstance(method, str):
                result = TableDetector(method, random_state=random_state).fit_score(X)
                scores = np.asarray(result.scores, dtype=np.float64)
                flags = np.asarray(result.is_anomaly, dtype=bool)
            else:
                scores = np.asarray(method(X), dtype=np.float64)
            seconds = time.perf_counter() - started
            metrics = evaluate_scores(y, scores, flags)
            nan = float("nan")
            row = {
                "dataset": path.stem,
                "method": label,
                "roc_auc": metrics["roc_auc"],
                "pr_auc": metrics["pr_auc"],
                "seconds": seconds,
                "rows": len(y),
                "features": int(X.shape[1]),
                "outliers": int(y.sum()),
                "precision": metrics["precision"] if flags is not None else nan,
                "recall": metrics["recall"] if flags is not None else nan,
                "f1": metrics["f1"] if flags is not None else nan,
                "flagged": metrics["n_flagged"] if flags is not None else nan,
            }
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows

"""The Numenta Anomaly Benchmark (NAB) scorer, written from the benchmark's definition.

NAB scores a *streaming* detector on 58 labelled series (365,558 values). A detector gives
every row an anomaly score in [0, 1]; one threshold, shared by all files, turns scores into
detections, and the detections are scored against labelled anomaly windows:

* **Probation.** The first 15 % of each file's rows (at most 750) are for learning: neither
  a detection nor a window row there is scored.
* **Windows.** ``labels/combined_windows.json`` gives each file's windows as
  ``[start, end]`` timestamps, both ends inclusive and equal to rows of the file.
* **True positives.** Inside a window only the earliest detection counts. A detection at
  row ``i`` of a window ``[a, b]`` sits at relative position ``p = -(b - i + 1) / (b - a + 1)``
  (``-1`` at the window's first row, just below ``0`` at its last) and earns
  ``tp_weight * σ(p) / σ(-1)``, where ``σ(x) = 2 / (1 + exp(5x)) - 1`` is NAB's scaled
  sigmoid. An early detection earns the full weight, a late one about half.
* **False negatives.** A window with no detection costs ``fn_weight``.
* **False positives.** Every detection outside all windows costs ``fp_weight``, scaled by
  ``-σ(d)`` where ``d = (i - b) / (b - a)`` is its distance after the preceding window
  ``[a, b]`` in window lengths (``σ`` is ``-1`` beyond 3 window lengths and before the first
  window). A detection just after a window costs almost nothing; one far from any window
  costs the full weight.
* **Profiles.** ``config/profiles.json`` sets the weights: ``standard`` (tp 1, fp 0.11,
  fn 1), ``reward_low_FP_rate`` (fp 0.22) and ``reward_low_FN_rate`` (fn 2).
* **Threshold.** For each profile the threshold is the one, among every distinct score of
  the corpus (a row is a detection when its score is ``>=`` the threshold), that maximises
  the corpus total.
* **Normalisation.** ``100 * (raw - null) / (perfect - null)``: the null detector (no
  detections: every window missed) scores 0 and a perfect one (every window detected at its
  first row, no false positive) 100.

This module reproduces NAB's published scores: NAB's own *windowed Gaussian* detector, rebuilt
here as :class:`WindowedGaussian`, scores 39.65 / 20.87 / 47.41, the board's
39.6 / 20.9 / 47.4.

The entry points are :func:`load_corpus`, :func:`run_detector`, :func:`score_corpus`
(:func:`sweep_corpus` for the thresholds and raw totals), :func:`score_results_dir` (NAB's
results folders) and the low-level :func:`score_detections` for one file.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from datacanary.errors import ConfigError, InputError, SourceNotFoundError

__all__ = [
    "PROFILES",
    "PUBLISHED_BOARD",
    "CostMatrix",
    "NabCorpus",
    "NabFile",
    "ProfileScore",
    "WindowedGaussian",
    "default_data_dir",
    "load_corpus",
    "probation_length",
    "run_detector",
    "scaled_sigmoid",
    "score_corpus",
    "score_detections",
    "score_results_dir",
    "sweep_corpus",
    "to_unit_score",
]

PROBATION_PERCENT = 0.15
"""Share of each file's rows that is never scored (NAB's probationary period)."""

PROBATION_MAX = 750
"""Upper bound on the probationary period, in rows (``0.15 * 5000``)."""


@dataclass(frozen=True)
class CostMatrix:
    """The weights of one NAB scoring profile."""

    tp: float
    fp: float
    fn: float


PROFILES: Mapping[str, CostMatrix] = {
    "standard": CostMatrix(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostMatrix(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostMatrix(tp=1.0, fp=0.11, fn=2.0),
}
"""NAB's three profiles, as in its ``config/profiles.json``."""

PUBLISHED_BOARD: Mapping[str, Mapping[str, float]] = {
    name: dict(zip(PROFILES, scores, strict=True))
    for name, scores in {
        "Perfect": (100.0, 100.0, 100.0),
        "ARTime": (74.9, 65.1, 80.4),
        "Numenta HTM": (70.5, 62.6, 75.2),
        "CAD OSE": (69.9, 67.0, 73.2),
        "earthgecko Skyline": (58.2, 46.2, 63.9),
        "KNN CAD": (58.0, 43.4, 64.8),
        "Relative Entropy": (54.6, 47.6, 58.8),
        "Random Cut Forest": (51.7, 38.4, 59.7),
        "Twitter ADVec v1.0.0": (47.1, 33.6, 53.5),
        "Windowed Gaussian": (39.6, 20.9, 47.4),
        "Etsy Skyline": (35.7, 27.1, 44.5),
        "Bayesian Changepoint": (17.7, 3.2, 32.2),
        "EXPoSE": (16.4, 3.2, 26.9),
        "Random": (11.0, 1.2, 19.5),
        "Null": (0.0, 0.0, 0.0),
    }.items()
}
"""NAB's scoreboard (README of numenta/NAB, corpus v1.1): detector -> profile -> score.

Numenta HTM is published as a range over runs (70.5-69.7, 62.6-61.7, 75.2-74.2); the board
keeps the upper end.
"""

_MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0  # σ(-1), the weight of a detection at a window's start


def scaled_sigmoid(position: ArrayLike) -> NDArray[np.float64]:
    """NAB's scaled sigmoid ``σ(x) = 2 / (1 + exp(5x)) - 1``, and ``-1`` for ``x > 3``.

    ``x`` is a relative position: ``-1`` at a window's first row, ``0`` at its end, positive
    after it (in window lengths).

    Examples
    --------
    >>> scaled_sigmoid([-1.0, -0.5, 0.0, 1.0, 3.5]).round(5).tolist()
    [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    x = np.asarray(position, dtype=np.float64)
    out = 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0
    return np.where(x > 3.0, -1.0, out)


def probation_length(n_rows: int) -> int:
    """Rows at the start of a file that NAB never scores: 15 % of them, at most 750.

    Examples
    --------
    >>> probation_length(4032), probation_length(22695), probation_length(100)
    (604, 750, 15)
    """
    return int(min(math.floor(PROBATION_PERCENT * n_rows), PROBATION_MAX))


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class NabFile:
    """One series of the corpus: its values, timestamps and anomaly windows.

    ``windows`` are inclusive ``(first_row, last_row)`` index pairs, sorted and disjoint.
    """

    name: str
    timestamps: NDArray[np.datetime64]
    values: NDArray[np.float64]
    windows: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def probation(self) -> int:
        """Rows never scored at the start of this file."""
        return probation_length(len(self.values))

    def times(self) -> list[datetime]:
        """The timestamps as :class:`datetime.datetime` objects (what detectors receive)."""
        times: list[datetime] = self.timestamps.astype("datetime64[us]").tolist()
        return times


@dataclass(frozen=True)
class NabCorpus:
    """The NAB data files, their windows and the scoring profiles (see :func:`load_corpus`)."""

    files: Mapping[str, NabFile]
    profiles: Mapping[str, CostMatrix] = field(default_factory=lambda: dict(PROFILES))
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def n_rows(self) -> int:
        """Rows over all files."""
        return sum(len(f) for f in self.files.values())

    @property
    def n_windows(self) -> int:
        """Anomaly windows over all files."""
        return sum(len(f.windows) for f in self.files.values())

    def subset(self, names: Iterable[str]) -> NabCorpus:
        """The corpus restricted to ``names`` (keys like ``realTweets/Twitter_volume_FB.csv``)."""
        names = list(names)
        missing = [n for n in names if n not in self.files]
        if missing:
            raise InputError(
                f"NAB file {missing[0]!r} is not in the corpus; use keys such as "
                f"{next(iter(self.files), 'category/name.csv')!r}"
            )
        return NabCorpus({n: self.files[n] for n in names}, self.profiles, self.root)


def default_data_dir() -> Path:
    """Where the corpus is looked for when no folder is given.

    ``$DATACANARY_NAB``; else ``$DATACANARY_DATASETS/nab``; else ``../shared/datasets/nab``
    from the working directory, or beside the repository checkout when that one exists.
    """
    if os.environ.get("DATACANARY_NAB"):
        return Path(os.environ["DATACANARY_NAB"])
    if os.environ.get("DATACANARY_DATASETS"):
        return Path(os.environ["DATACANARY_DATASETS"]) / "nab"
    here = Path.cwd() / ".." / "shared" / "datasets" / "nab"
    beside_repo = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "nab"
    for candidate in (here, beside_repo):
        if candidate.is_dir():
            return candidate.resolve()
    return here.resolve()


def _parse_time(text: str) -> np.datetime64:
    return np.datetime64(text.strip().replace(" ", "T"), "ns")


def _read_columns(path: Path, columns: Sequence[str]) -> list[list[str]]:
    """The named columns of a CSV file, as strings (stdlib ``csv``: no pandas on this path)."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputError(
                f"{path}: no column {missing[0]!r} (has {', '.join(header) or 'no header'}); "
                f"NAB files need {' and '.join(repr(c) for c in columns)} columns"
            )
        index = [header.index(c) for c in columns]
        out: list[list[str]] = [[] for _ in columns]
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                for column, i in zip(out, index, strict=True):
                    column.append(row[i])
            except IndexError:
                raise InputError(f"{path}, line {line}: expected {len(header)} fields") from None
    return out


def _floats(path: Path, column: str, texts: list[str]) -> NDArray[np.float64]:
    try:
        return np.array([float(t) for t in texts], dtype=np.float64)
    except ValueError:
        bad = next(t for t in texts if not _is_float(t))
        raise InputError(f"{path}: {column} {bad!r} is not a number") from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_series(path: Path) -> tuple[NDArray[np.datetime64], NDArray[np.float64]]:
    stamps, values = _read_columns(path, ("timestamp", "value"))
    try:
        times = np.array([t.strip() for t in stamps], dtype="datetime64[ns]")
    except ValueError as exc:
        raise InputError(f"{path}: timestamps must be 'YYYY-MM-DD HH:MM:SS' ({exc})") from None
    return times, _floats(path, "value", values)


def _window_rows(
    name: str, times: NDArray[np.datetime64], limits: Sequence[Sequence[str]]
) -> tuple[tuple[int, int], ...]:
    rows: list[tuple[int, int]] = []
    for limit in limits:
        if len(limit) != 2:
            raise InputError(f"{name}: a window must be [start, end]; got {limit!r}")
        ends = []
        for text in limit:
            stamp = _parse_time(str(text))
            i = int(np.searchsorted(times, stamp))
            if i >= len(times) or times[i] != stamp:
                raise InputError(
                    f"{name}: window timestamp {text!r} is not a row of the file; window ends "
                    "must equal timestamps in the data file"
                )
            ends.append(i)
        start, end = ends
        if end < start or (rows and start <= rows[-1][1]):
            raise InputError(
                f"{name}: windows must be sorted and disjoint with start <= end; got {limit!r}"
            )
        rows.append((start, end))
    return tuple(rows)


def load_corpus(
    data_dir: Path | str | None = None,
    *,
    windows: str = "combined_windows.json",
    files: Iterable[str] | None = None,
) -> NabCorpus:
    """Read the NAB corpus: ``data/<category>/<name>.csv``, its windows and profiles.

    Parameters
    ----------
    data_dir
        The NAB root, holding ``data/``, ``labels/`` and (optionally) ``config/profiles.json``;
        default :func:`default_data_dir`.
    windows
        The window file in ``labels/``; ``combined_windows_tiny.json`` selects NAB's two-file
        subset.
    files
        Only these file keys (``category/name.csv``); default every file of the window file.

    Examples
    --------
    >>> corpus = load_corpus()  # doctest: +SKIP
    >>> len(corpus), corpus.n_rows, corpus.n_windows  # doctest: +SKIP
    (58, 365558, 116)
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    labels_path = root / "labels" / windows
    if not (root / "data").is_dir() or not labels_path.is_file():
        raise SourceNotFoundError(
            f"NAB corpus not found at {str(root)!r}: expected data/<category>/<name>.csv and "
            f"labels/{windows}; pass the folder of a numenta/NAB checkout"
        )
    with labels_path.open() as fh:
        labelled: dict[str, list[list[str]]] = json.load(fh)
    names = sorted(labelled) if files is None else list(files)
    loaded: dict[str, NabFile] = {}
    for name in names:
        if name not in labelled:
            raise InputError(f"NAB file {name!r} has no entry in {labels_path}")
        path = root / "data" / name
        if not path.is_file():
            raise SourceNotFoundError(f"NAB data file {str(path)!r} does not exist")
        times, values = _read_series(path)
        loaded[name] = NabFile(name, times, values, _window_rows(name, times, labelled[name]))
    profiles = dict(PROFILES)
    profiles_path = root / "config" / "profiles.json"
    if profiles_path.is_file():
        with profiles_path.open() as fh:
            raw = json.load(fh)
        profiles = {
            name: CostMatrix(
                tp=float(spec["CostMatrix"]["tpWeight"]),
                fp=float(spec["CostMatrix"]["fpWeight"]),
                fn=float(spec["CostMatrix"]["fnWeight"]),
            )
            for name, spec in raw.items()
        }
    return NabCorpus(loaded, profiles, root)


# --------------------------------------------------------------------------- row weights


@dataclass(frozen=True)
class _Rows:
    """Per scorable row: window index (-1 outside), TP and FP weights before the profile."""

    window: NDArray[np.int64]
    tp: NDArray[np.float64]  # σ(position) / σ(-1), in (0, 1]; meaningful inside windows
    fp: NDArray[np.float64]  # σ(distance after the previous window), in [-1, 0); outside
    first: int  # index of the first scorable row (the probation length)


def _row_weights(n_rows: int, windows: Sequence[tuple[int, int]], probation: int) -> _Rows:
    window = np.full(n_rows, -1, dtype=np.int64)
    tp = np.zeros(n_rows)
    fp = np.full(n_rows, -1.0)  # before any window: the full cost
    rows = np.arange(n_rows)
    for k, (a, b) in enumerate(windows):
        width = b - a + 1
        inside = rows[a : b + 1]
        window[a : b + 1] = k
        tp[a : b + 1] = scaled_sigmoid(-(b - inside + 1) / width) / _MAX_TP
        stop = windows[k + 1][0] if k + 1 < len(windows) else n_rows
        after = rows[b + 1 : stop]
        if width > 1:
            fp[b + 1 : stop] = scaled_sigmoid((after - b) / (width - 1))
    first = min(probation, n_rows)
    return _Rows(window[first:], tp[first:], fp[first:], first)


def score_detections(
    detections: ArrayLike,
    windows: Sequence[tuple[int, int]],
    profile: CostMatrix | str = "standard",
    *,
    probation: int | None = None,
) -> float:
    """NAB's raw score of one file's detections under one profile.

    Parameters
    ----------
    detections
        One boolean per row: is the row a detection?
    windows
        Inclusive ``(first_row, last_row)`` anomaly windows, sorted and disjoint.
    profile
        A :class:`CostMatrix` or the name of one of :data:`PROFILES`.
    probation
        Rows never scored at the start; default :func:`probation_length` of the file.

    Returns
    -------
    float
        The sum of true-positive rewards, false-negative costs and false-positive costs
        (windows that lie wholly in the probationary period count for nothing).

    Examples
    --------
    A 1,000-row file with one window on rows 400-499 (probation: 150 rows).

    >>> hit = np.zeros(1000, dtype=bool)
    >>> early, late = hit.copy(), hit.copy()
    >>> early[400] = late[490] = True
    >>> round(score_detections(early, [(400, 499)]), 4)
    1.0
    >>> round(score_detections(late, [(400, 499)]), 4)
    0.2482
    >>> score_detections(hit, [(400, 499)])  # a missed window
    -1.0
    >>> far = hit.copy(); far[900] = True  # a false positive far from the window, and a miss
    >>> round(score_detections(far, [(400, 499)]), 2)
    -1.11
    """
    det = np.asarray(detections, dtype=bool)
    cost = _profile(profile)
    n = len(det)
    rows = _row_weights(n, windows, probation_length(n) if probation is None else probation)
    det = det[rows.first :]
    total = float(np.sum(cost.fp * rows.fp[det & (rows.window < 0)]))
    for k in np.unique(rows.window[rows.window >= 0]):
        hits = det & (rows.window == k)
        total += cost.tp * float(rows.tp[hits].max()) if hits.any() else -cost.fn
    return total


def _profile(profile: CostMatrix | str) -> CostMatrix:
    if isinstance(profile, CostMatrix):
        return profile
    if profile not in PROFILES:
        raise ConfigError(f"NAB profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    return PROFILES[profile]


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class ProfileScore:
    """A detector's NAB result for one profile.

    ``score`` is normalised (null detector 0, perfect 100); ``raw`` is the corpus total at
    ``threshold`` (a row is a detection when its score is ``>= threshold``; ``1.1`` means no
    detection at all); ``null`` and ``perfect`` are the raw totals of the two references.
    """

    profile: str
    score: float
    raw: float
    threshold: float
    null: float
    perfect: float
    detections: int


def sweep_corpus(
    corpus: NabCorpus,
    scores_by_file: Mapping[str, ArrayLike],
    *,
    profiles: Iterable[str] | None = None,
) -> dict[str, ProfileScore]:
    """Score a detector's per-row scores in [0, 1], choosing the best threshold per profile.

    Every distinct score of the corpus is a candidate threshold (plus ``1.1``: no detection);
    the one with the highest corpus total wins (the highest such threshold on a tie), as in
    NAB's ``sweeper.py``. See :func:`score_corpus` for the normalised scores alone.
    """
    missing = [name for name in corpus.files if name not in scores_by_file]
    if missing:
        raise InputError(
            f"no scores for NAB file {missing[0]!r} ({len(missing)} files missing); score "
            "every file of the corpus"
        )
    parts_score, parts_window, parts_tp, parts_fp = [], [], [], []
    offset = 0
    scorable_windows = 0
    for name, nab_file in corpus.files.items():
        scores = np.asarray(scores_by_file[name], dtype=np.float64)
        if scores.shape != (len(nab_file),):
            raise InputError(
                f"{name}: {scores.size} scores for {len(nab_file)} rows; give one score per row"
            )
        if not np.all((scores >= 0.0) & (scores <= 1.0)):
            bad = float(scores[~((scores >= 0.0) & (scores <= 1.0))][0])
            raise InputError(
                f"{name}: NAB scores must lie in [0, 1]; got {bad!r} (map raw scores with "
                "to_unit_score)"
            )
        rows = _row_weights(len(nab_file), nab_file.windows, nab_file.probation)
        present = np.unique(rows.window[rows.window >= 0])
        scorable_windows += len(present)
        parts_score.append(scores[rows.first :])
        parts_window.append(np.where(rows.window >= 0, rows.window + offset, -1))
        parts_tp.append(rows.tp)
        parts_fp.append(rows.fp)
        offset += len(nab_file.windows)
    score = np.concatenate(parts_score) if parts_score else np.zeros(0)
    window = np.concatenate(parts_window) if parts_window else np.zeros(0, dtype=np.int64)
    tp = np.concatenate(parts_tp) if parts_tp else np.zeros(0)
    fp = np.concatenate(parts_fp) if parts_fp else np.zeros(0)

    order = np.argsort(-score, kind="stable")
    score, window, tp, fp = score[order], window[order], tp[order], fp[order]
    # the last row of each run of equal scores closes a candidate threshold
    ends = np.flatnonzero(np.append(score[1:] != score[:-1], True)) if len(score) else ()
    in_window = window >= 0
    by_window = np.argsort(window, kind="stable")  # rows grouped by window, in sweep order
    by_window = by_window[in_window[by_window]]
    bounds = np.flatnonzero(np.diff(window[by_window])) + 1
    groups = np.split(by_window, bounds) if len(by_window) else []

    results: dict[str, ProfileScore] = {}
    wanted = list(corpus.profiles) if profiles is None else list(profiles)
    for profile in wanted:
        if profile not in corpus.profiles:
            raise ConfigError(
                f"NAB profile must be one of {', '.join(corpus.profiles)}; got {profile!r}"
            )
        cost = corpus.profiles[profile]
        step = np.where(in_window, 0.0, cost.fp * fp)
        for rows_of_window in groups:
            # a window's part is the best (earliest) detection so far, -fn until the first
            best = np.maximum.accumulate(np.concatenate(([-cost.fn], cost.tp * tp[rows_of_window])))
            step[rows_of_window] = np.diff(best)
        null = -cost.fn * scorable_windows
        totals = null + np.cumsum(step)
        candidates = np.concatenate(([null], totals[ends])) if len(score) else np.array([null])
        thresholds = np.concatenate(([1.1], score[ends])) if len(score) else np.array([1.1])
        best_at = int(np.argmax(candidates))
        perfect = cost.tp * corpus.n_windows
        raw = float(candidates[best_at])
        span = perfect - null
        results[profile] = ProfileScore(
            profile=profile,
            score=100.0 * (raw - null) / span if span else 0.0,
            raw=raw,
            threshold=float(thresholds[best_at]),
            null=float(null),
            perfect=float(perfect),
            detections=0 if best_at == 0 else int(ends[best_at - 1]) + 1,
        )
    return results


def score_corpus(corpus: NabCorpus, scores_by_file: Mapping[str, ArrayLike]) -> dict[str, float]:
    """NAB's normalised score per profile (null detector 0, perfect 100).

    ``scores_by_file`` maps each file key of ``corpus`` to one score in [0, 1] per row; the
    threshold is optimised per profile over the whole corpus (:func:`sweep_corpus`).

    Examples
    --------
    Two files with one window each: the detector fires at the start of the first window (score
    0.9), late in the second (0.8) and once before the second (0.85, a false positive).

    >>> t = np.arange(1000).astype("datetime64[m]")
    >>> a = NabFile("a.csv", t, np.zeros(1000), ((400, 499),))
    >>> b = NabFile("b.csv", t, np.zeros(1000), ((600, 699),))
    >>> corpus = NabCorpus({"a.csv": a, "b.csv": b})
    >>> sa, sb = np.zeros(1000), np.zeros(1000)
    >>> sa[400], sb[690], sb[200] = 0.9, 0.8, 0.85
    >>> {k: round(v, 1) for k, v in score_corpus(corpus, {"a.csv": sa, "b.csv": sb}).items()}
    {'standard': 78.5, 'reward_low_FP_rate': 75.7, 'reward_low_FN_rate': 85.6}
    """
    return {name: result.score for name, result in sweep_corpus(corpus, scores_by_file).items()}


# --------------------------------------------------------------------------- running detectors


class _Streaming(Protocol):
    def score_one(self, value: float, at: datetime | None = None) -> float: ...

    def learn_one(self, value: float, at: datetime | None = None) -> None: ...


def to_unit_score(score: ArrayLike) -> NDArray[np.float64]:
    """Map detector scores (``>= 0``, higher = more anomalous) to NAB's [0, 1].

    The one place where datacanary squeezes scores for NAB: ``s / 2`` for ``s <= 1`` and
    ``1 - 1 / (2s)`` above. The map is continuous and strictly increasing, so it changes no
    ranking and no NAB score, and halving is exact, so scores already in [0, 1] (calibrated
    probabilities) keep every tie and every difference. Negative and NaN scores become 0,
    infinite ones 1.

    Examples
    --------
    >>> to_unit_score([0.0, 0.5, 1.0, 3.0, float("inf"), float("nan")]).tolist()
    [0.0, 0.25, 0.5, 0.8333333333333334, 1.0, 0.0]
    """
    s = np.asarray(score, dtype=np.float64)
    s = np.where(np.isnan(s) | (s < 0.0), 0.0, s)
    with np.errstate(divide="ignore"):
        high = 1.0 - 0.5 / np.maximum(s, 1.0)
    return np.where(s <= 1.0, 0.5 * s, high)


_BASELINES = ("windowed_gaussian", "windowedgaussian")


def _factory(make: Callable[[], Any] | str) -> Callable[[], Any]:
    if not isinstance(make, str):
        return make
    if make.replace("-", "_").lower() in _BASELINES:
        return WindowedGaussian
    from datacanary.series.registry import detector_class, make_series_detector

    try:
        detector_class(make)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; or 'windowed_gaussian' (NAB's baseline)") from None
    return lambda: make_series_detector(make)


def run_detector(
    corpus: NabCorpus,
    make: Callable[[], Any] | str,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Stream every file through a fresh detector and return its scores in [0, 1] per row.

    For each file, ``make()`` builds a detector (anything with ``score_one(value, at)`` and
    ``learn_one(value, at)``, such as a :mod:`datacanary.series` detector); each value is
    scored *before* it is learned, so a score uses only the past. Scores are mapped to
    [0, 1] by :func:`to_unit_score`.

    Parameters
    ----------
    corpus
        From :func:`load_corpus`.
    make
        A zero-argument factory (a class, a ``functools.partial``) or a detector name: a
        registered series detector or ``"windowed_gaussian"`` (NAB's baseline).
    progress
        Called after each file as ``progress(name, done, total)``.
    """
    factory = _factory(make)
    out: dict[str, NDArray[np.float64]] = {}
    total = len(corpus.files)
    for done, (name, nab_file) in enumerate(corpus.files.items(), start=1):
        detector: _Streaming = factory()
        score_one, learn_one = detector.score_one, detector.learn_one
        raw = np.empty(len(nab_file))
        for i, (value, at) in enumerate(
            zip(nab_file.values.tolist(), nab_file.times(), strict=True)
        ):
            raw[i] = score_one(value, at)
            learn_one(value, at)
        out[name] = to_unit_score(raw)
        if progress is not None:
            progress(name, done, total)
    return out


# --------------------------------------------------------------------------- NAB's results folders


def _results_folder(results_dir: Path, detector: str | None) -> tuple[Path, str | None]:
    if detector is not None and (results_dir / detector).is_dir():
        return results_dir / detector, detector
    if detector is None and any(p.suffix == ".csv" for p in results_dir.glob("*/*.csv")):
        return results_dir, None
    return results_dir, detector


def score_results_dir(
    corpus: NabCorpus, results_dir: Path | str, detector: str | None = None
) -> dict[str, float]:
    """Score another detector's outputs laid out as NAB's results folders.

    ``results_dir`` holds ``<category>/<detector>_<name>.csv`` (or is NAB's ``results/``
    folder holding ``<detector>/...``), each file with ``timestamp`` and ``anomaly_score``
    columns and one row per data row. ``detector`` defaults to the folder's name, or to
    the prefix its files share.

    Returns
    -------
    dict[str, float]
        The normalised score per profile, as :func:`score_corpus`.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise SourceNotFoundError(f"results folder {str(root)!r} does not exist")
    folder, detector = _results_folder(root, detector)
    scores: dict[str, NDArray[np.float64]] = {}
    for name, nab_file in corpus.files.items():
        category, base = name.rsplit("/", 1) if "/" in name else ("", name)
        if detector is not None:
            path = folder / category / f"{detector}_{base}"
        else:
            hits = sorted((folder / category).glob(f"*_{base}"))
            hits = [h for h in hits if h.name.endswith("_" + base)]
            if len(hits) != 1:
                raise InputError(
                    f"{folder / category}: found {len(hits)} results files for {name!r}; "
                    "pass the detector name"
                )
            path = hits[0]
        if not path.is_file():
            raise SourceNotFoundError(f"no results file {str(path)!r} for NAB file {name!r}")
        (texts,) = _read_columns(path, ("anomaly_score",))
        if len(texts) != len(nab_file):
            raise InputError(
                f"{path}: {len(texts)} rows for {len(nab_file)} data rows; "
                "give one row per data row"
            )
        scores[name] = _floats(path, "anomaly_score", texts)
    return score_corpus(corpus, scores)


# --------------------------------------------------------------------------- NAB's baseline


class WindowedGaussian:
    """NAB's *windowed Gaussian* baseline, rebuilt: the tail probability of a trailing Gaussian.

    The score of a value is ``1 - Q(|z|)``, with ``z`` its distance from the mean of the
    trailing window in standard deviations and ``Q`` the normal tail probability (so 0.5 at
    the mean, 1 far away). The window grows to ``window`` values, one at a time, then slides
    in steps of ``step`` values. NAB's parameters (6,400 and 100) are the defaults.

    Scores are rounded to ``digits`` significant digits (default 12), as NAB's results files
    store them (Python 2 wrote floats with 12 digits). The rounding decides the published
    digits: it turns every score above ``1 - 5e-13`` into exactly 1.0, and NAB's optimal
    threshold is 1.0; unrounded, the same detector scores 40.1 / 23.9 / 47.7.

    Used to check this scorer against NAB's published 39.6 / 20.9 / 47.4; not a product
    detector (see :mod:`datacanary.series`).

    Examples
    --------
    >>> g = WindowedGaussian()
    >>> for v in [1.0, 2.0, 1.0, 2.0]:
    ...     g.learn_one(v)
    >>> g.score_one(1.5), round(g.score_one(2.5), 4)
    (0.5, 0.9772)
    """

    def __init__(self, window: int = 6400, step: int = 100, digits: int | None = 12) -> None:
        self.window = window
        self.step = step
        self.digits = digits
        self._buf = np.empty(0)
        self._n = 0  # values in the window
        self._pending = 0  # values waiting in the step buffer
        self._mean = 0.0
        self._std = 1.0

    def score_one(self, value: float, at: datetime | None = None) -> float:
        """``1 - Q(|z|)`` against the current window; 0 before any value."""
        if not self._n:
            return 0.0
        x = value if value >= self._mean else 2.0 * self._mean - value
        z = (x - self._mean) / self._std
        score = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
        return score if self.digits is None else float(f"{score:.{self.digits}g}")

    def learn_one(self, value: float, at: datetime | None = None) -> None:
        """Add ``value`` to the window (or to the step buffer once the window is full)."""
        if not len(self._buf):
            self._buf = np.empty(self.window + self.step)
        if self._n < self.window:
            self._buf[self._n] = value
            self._n += 1
            self._refresh()
            return
        self._buf[self.window + self._pending] = value
        self._pending += 1
        if self._pending == self.step:
            self._buf[: self.window] = self._buf[self.step :].copy()
            self._pending = 0
            self._refresh()

    def _refresh(self) -> None:
        # np.mean and np.std of the window, spelt out: the same operations (so the same
        # bits, which decide NAB's digits) without their wrappers' overhead
        data = self._buf[: self._n]
        mean = np.add.reduce(data) / self._n
        deviation = data - mean
        np.multiply(deviation, deviation, out=deviation)
        self._mean = float(mean)
        self._std = math.sqrt(np.add.reduce(deviation) / self._n) or 0.000001

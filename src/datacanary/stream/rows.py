"""Row scoring for a stream: a fixed feature schema, a detector, and a sliding refit.

The schema (field → ``number``, ``text`` or ``bool``) is learned from the training window:
later events are cast to it, and an event whose field cannot be cast (``"amount": "abc"``
where the training data had numbers) is reported as malformed instead of breaking the batch.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from datacanary.errors import ColumnNotFoundError, DatacanaryError, NotEnoughDataError
from datacanary.results import RowScores

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["RowDetector", "RowScorer", "Scored", "flagged_positions", "infer_schema"]


class RowDetector(Protocol):
    """What the stream needs of a row detector (``datacanary.detectors.TableDetector``)."""

    def fit(self, frame: pd.DataFrame) -> Any: ...
    def score(self, frame: pd.DataFrame) -> RowScores: ...


def infer_schema(frame: pd.DataFrame, *, skip: Iterable[str] = ()) -> dict[str, str]:
    """Each usable field of ``frame`` as ``number``, ``text`` or ``bool``.

    Left out: ``skip``, fields that are always null, hold objects or arrays, or hold text
    that is mostly distinct (an e-mail, a free-text note: later events would be flagged
    just for bringing values the training window never saw).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": [1, 2], "amount": [1.5, None], "country": ["DE", "FR"],
    ...                       "vip": [True, False], "tags": [["a"], []], "gone": [None, None]})
    >>> infer_schema(frame, skip=["id"])
    {'amount': 'number', 'country': 'text', 'vip': 'bool'}
    >>> infer_schema(pd.DataFrame({"amount": [1.5] * 30 + ["n/a"]}))  # one stray text
    {'amount': 'number'}
    >>> infer_schema(pd.DataFrame({"email": [f"user{i}@example.com" for i in range(40)]}))
    {}
    """
    import numpy as np
    import pandas as pd

    skipped = set(skip)
    schema: dict[str, str] = {}
    for name in frame.columns:
        column = frame[name]
        if name in skipped or not column.notna().any():
            continue
        dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype):
            schema[str(name)] = "bool"
        elif pd.api.types.is_numeric_dtype(dtype):
            schema[str(name)] = "number"
        elif pd.api.types.is_string_dtype(dtype) and dtype != np.dtype(object):
            if not _identifier_like(column):
                schema[str(name)] = "text"
        else:
            kinds = column.dropna().map(_kind).value_counts()
            if kinds.get("nested", 0):
                continue
            if kinds.get("number", 0) >= 0.95 * kinds.sum():  # a few stray texts: malformed
                schema[str(name)] = "number"
            elif kinds.get("bool", 0) == kinds.sum():
                schema[str(name)] = "bool"
            elif not _identifier_like(column):
                schema[str(name)] = "text"
    return schema


def _identifier_like(column: pd.Series) -> bool:
    """True for text where most values are distinct (e-mails, ids, free text): new events
    bring values the training window never saw, which a detector would flag as rare."""
    values = column.dropna()
    return len(values) >= 20 and values.nunique() > 0.5 * len(values)


def _kind(value: Any) -> str:
    """``bool``, ``number``, ``text`` or ``nested`` (an object or an array)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, (str, bytes)):
        return "text"
    if isinstance(value, (Mapping, list, tuple)) or bool(getattr(value, "ndim", False)):
        return "nested"
    return "text"


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


@dataclass(frozen=True)
class Scored:
    """A batch scored: ``scores`` for the rows at ``positions`` of the typed frame; rows that
    could not be scored are in ``errors`` (position → sentence)."""

    scores: RowScores | None
    positions: list[int]
    errors: dict[int, str]


class RowScorer:
    """Cast events to the training schema, score them, refit on a sliding window.

    Parameters
    ----------
    make_detector
        Returns a fresh, unfitted row detector.
    train_on
        Rows in the training window (and in the sliding refit window).
    refit_every
        Refit on the last ``train_on`` unflagged rows after this many scored rows;
        None: never.
    columns
        The fields to use (all usable fields when None).
    exclude
        Fields never used (an event id, a timestamp).
    """

    def __init__(
        self,
        make_detector: Callable[[], RowDetector],
        *,
        train_on: int,
        refit_every: int | None = None,
        columns: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        self.make_detector = make_detector
        self.train_on = train_on
        self.refit_every = refit_every
        self.columns = None if columns is None else list(columns)
        self.exclude = set(exclude)
        self.schema: dict[str, str] = {}
        self.detector: RowDetector | None = None
        self.training: pd.DataFrame | None = None
        self.refits = 0
        self._recent: deque[pd.DataFrame] = deque()
        self._recent_rows = 0
        self._since_fit = 0

    @property
    def fitted(self) -> bool:
        """True once a detector has been fitted."""
        return self.detector is not None

    def fit(self, frame: pd.DataFrame, schema: Mapping[str, str] | None = None) -> None:
        """Learn the schema (unless given) and fit a detector on ``frame``'s rows.

        Raises
        ------
        NotEnoughDataError
            If no field of ``frame`` is usable.
        """
        if schema is None:
            skip = set(self.exclude)
            if self.columns is not None:
                missing = [c for c in self.columns if c not in frame.columns]
                if missing:
                    raise ColumnNotFoundError.from_missing(missing, frame.columns)
                skip |= {str(c) for c in frame.columns if c not in self.columns}
            schema = infer_schema(frame, skip=skip)
        if not schema:
            raise NotEnoughDataError(
                f"no usable field in the {len(frame)} training events (fields: "
                f"{', '.join(map(str, frame.columns[:20]))}); send JSON objects with number, "
                "text or boolean fields"
            )
        self.schema = dict(schema)
        typed, errors = self.prepare(frame)
        if errors:
            typed = typed.drop(index=typed.index[sorted(errors)]).reset_index(drop=True)
        detector = self.make_detector()
        detector.fit(typed)
        self.detector, self.training = detector, typed
        self._recent.clear()
        self._recent.append(typed)
        self._recent_rows = len(typed)
        self._since_fit = 0

    def prepare(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
        """``frame`` cast to the schema (one column per schema field, in schema order), and
        the rows that could not be cast (position → sentence)."""
        import numpy as np
        import pandas as pd

        n = len(frame)
        columns: dict[str, Any] = {}
        errors: dict[int, str] = {}
        for name, kind in self.schema.items():
            if name not in frame.columns:
                columns[name] = np.full(n, np.nan) if kind == "number" else [None] * n
                continue
            column = frame[name]
            dtype = column.dtype
            if kind == "number":
                if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
                    cast = pd.to_numeric(column, errors="coerce")
                    bad = cast.isna().to_numpy() & column.notna().to_numpy()
                    for position in np.flatnonzero(bad).tolist():
                        errors.setdefault(
                            position,
                            f"field {name!r} must be a number, as in the training data; got "
                            f"{_shown(column.iloc[position])}",
                        )
                    column = cast
                columns[name] = column.to_numpy(dtype=float, na_value=np.nan)
            elif kind == "text":
                if dtype == np.dtype(object) or not pd.api.types.is_string_dtype(dtype):
                    column = column.map(_as_text)
                columns[name] = column.to_numpy()
            else:
                columns[name] = column.to_numpy()
        return pd.DataFrame(columns), errors

    def score(self, typed: pd.DataFrame) -> Scored:
        """Score the rows of a prepared frame; rows the detector rejects are isolated by
        bisection and returned as errors, so one odd event cannot fail the batch."""
        if self.detector is None:
            raise RuntimeError("RowScorer.fit() must be called before score()")
        parts: list[tuple[list[int], RowScores]] = []
        errors: dict[int, str] = {}
        self._score_part(typed, list(range(len(typed))), parts, errors)
        positions = [p for ps, _ in parts for p in ps]
        scores = _concat([s for _, s in parts])
        if scores is not None:
            self._remember(typed, positions, scores)
        return Scored(scores, positions, errors)

    def _score_part(
        self,
        typed: pd.DataFrame,
        positions: list[int],
        parts: list[tuple[list[int], RowScores]],
        errors: dict[int, str],
    ) -> None:
        assert self.detector is not None
        if not positions:
            return
        part = typed if len(positions) == len(typed) else typed.iloc[positions]
        try:
            parts.append((positions, self.detector.score(part.reset_index(drop=True))))
        except (DatacanaryError, ValueError, TypeError) as error:
            if len(positions) == 1:
                text = " ".join(str(error).split()) or type(error).__name__
                errors[positions[0]] = f"the row detector could not score this event: {text}"
                return
            middle = len(positions) // 2
            self._score_part(typed, positions[:middle], parts, errors)
            self._score_part(typed, positions[middle:], parts, errors)

    def _remember(self, typed: pd.DataFrame, positions: list[int], scores: RowScores) -> None:
        """Keep unflagged rows for the sliding refit; refit when it is due."""
        if self.refit_every is None:
            return
        import numpy as np

        flagged = np.asarray(scores.is_anomaly, dtype=bool)
        keep = np.asarray(positions)[~flagged]
        if len(keep):
            self._recent.append(typed.iloc[keep])
            self._recent_rows += len(keep)
        while self._recent and self._recent_rows - len(self._recent[0]) >= self.train_on:
            self._recent_rows -= len(self._recent.popleft())
        self._since_fit += len(positions)
        if self._since_fit >= self.refit_every:
            self.refit()

    def refit(self) -> None:
        """Fit a new detector on the last ``train_on`` unflagged rows and swap it in."""
        import pandas as pd

        window = pd.concat(list(self._recent), ignore_index=True).tail(self.train_on)
        detector = self.make_detector()
        detector.fit(window.reset_index(drop=True))
        self.detector, self.training = detector, window
        self._since_fit = 0
        self.refits += 1


def _concat(parts: list[RowScores]) -> RowScores | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return RowScores(
        scores=[s for p in parts for s in p.scores],
        is_anomaly=[a for p in parts for a in p.is_anomaly],
        threshold=first.threshold,
        explanations=[e for p in parts for e in p.explanations],
        method=first.method,
        features=first.features,
        dropped_columns=first.dropped_columns,
    )


def flagged_positions(scored: Scored) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Positions (in the typed frame) and scores of the flagged rows of ``scored``."""
    import numpy as np

    if scored.scores is None:
        return np.empty(0, dtype=int), np.empty(0)
    flags = np.asarray(scored.scores.is_anomaly, dtype=bool)
    positions = np.asarray(scored.positions)[flags]
    values = np.asarray(scored.scores.scores, dtype=float)[flags]
    return positions, values

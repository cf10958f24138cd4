"""``ets``: Holt-Winters exponential smoothing (statsmodels) for trend plus seasonality."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

from datacanary.errors import ConfigError
from datacanary.series.base import Band, SeriesDetector, _is_int, widened
from datacanary.series.mad import robust_centre_scale

__all__ = ["ETSDetector"]


class ETSDetector(SeriesDetector):
    """Expect the one-step Holt-Winters forecast ± ``sensitivity`` × the residuals' scale.

    An additive level (+ trend) (+ seasonality) model from statsmodels'
    ``ExponentialSmoothing`` is fitted on the last ``window`` values. Refitting on every
    value would be slow, so the fit is lazy: the smoothing parameters are re-estimated only
    when a band is asked for and ``refit_every`` values were learned since the last fit; in
    between, each new value updates the level, trend and seasonal states with the
    Holt-Winters recursions (constant time). The half-width is ``sensitivity`` × a robust
    scale (1.4826·MAD) of the one-step residuals. An anomalous value left out of the baseline
    is replaced by its forecast, so the season stays aligned. Values are positional: ``at``
    is not used.

    Parameters
    ----------
    seasonal_periods
        Values per season (7 for daily runs with a weekly pattern, 24 for hourly ones), or
        None (default) for no seasonal component. The model needs two full seasons, so the
        history needed is ``max(min_history, 2·seasonal_periods)``.
    trend
        Model an additive trend (default True).
    refit_every
        Values learned between refits (default 10).
    min_history, window
        Defaults 10 and 120.

    Other parameters are those of :class:`~datacanary.series.SeriesDetector`.

    Examples
    --------
    >>> from datacanary.series import ETSDetector
    >>> growing = [1000 + 20 * i + (15 if i % 2 else -15) for i in range(30)]
    >>> detector = ETSDetector().fit(growing)
    >>> low, high = detector.expected()
    >>> low < 1000 + 20 * 30 < high
    True
    >>> detector.update(1000, metric="row_count").status.value
    'anomaly'
    """

    name = "ets"

    def __init__(
        self,
        *,
        direction: str = "both",
        sensitivity: float = 3.0,
        min_history: int = 10,
        window: int | None = 120,
        abs_floor: float = 0.0,
        rel_floor: float = 0.0,
        exclude_anomalies: bool = True,
        seasonal_periods: int | None = None,
        trend: bool = True,
        refit_every: int = 10,
    ) -> None:
        super().__init__(
            direction=direction,
            sensitivity=sensitivity,
            min_history=min_history,
            window=window,
            abs_floor=abs_floor,
            rel_floor=rel_floor,
            exclude_anomalies=exclude_anomalies,
        )
        self.seasonal_periods = seasonal_periods
        self.trend = trend
        self.refit_every = refit_every

    def _validate(self) -> None:
        super()._validate()
        m = self.seasonal_periods
        if m is not None and (not _is_int(m) or m < 2):
            raise ConfigError(f"seasonal_periods must be None or an integer >= 2; got {m!r}")
        if not isinstance(self.trend, bool):
            raise ConfigError(f"trend must be True or False; got {self.trend!r}")
        if not _is_int(self.refit_every) or self.refit_every < 1:
            raise ConfigError(f"refit_every must be an integer >= 1; got {self.refit_every!r}")
        if self.window is not None and self.window < self._needed():
            raise ConfigError(
                f"window must be at least {self._needed()} (two seasons of "
                f"{m} values, and min_history); got {self.window}"
            )

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"min_history": 7, "refit_every": 5}

    def _needed(self) -> int:
        m = self.seasonal_periods
        return max(int(self.min_history), 2 * m if m else 3)

    def _reset(self) -> None:
        self._values: deque[float] = deque(maxlen=self.window)
        self._resid: deque[float] = deque(maxlen=self.window)
        self._fitted = False
        self._since_fit = 0
        self._alpha = self._beta = self._gamma = 0.0
        self._level = self._slope = 0.0
        self._season: deque[float] = deque()

    def _size(self) -> int:
        return len(self._values)

    def _learn(self, value: float, at: datetime | None) -> None:
        self._advance(value, imputed=False)

    def _skip(self, value: float, at: datetime | None) -> None:
        self._advance(self._forecast(), imputed=True)

    def _moved(self, values: list[tuple[float, datetime | None]]) -> None:
        k = min(len(values) - 1, len(self._values))  # the last k values are imputed forecasts
        kept = list(self._values)[: len(self._values) - k] + [v for v, _ in values[-k - 1 :]]
        self._values = deque(kept, maxlen=self.window)
        self._fitted = False  # refit on the real values at the next band

    def _band(self, at: datetime | None) -> Band | None:
        if len(self._values) < self._needed():
            return None
        if not self._fitted or self._since_fit >= self.refit_every:
            self._refit()
        centre = self._forecast()
        scale = robust_centre_scale(self._resid)[1] if self._resid else 0.0
        half = widened(self.sensitivity, max(len(self._resid), 2), efficiency=0.37) * scale
        return centre, centre - half, centre + half

    # -- Holt-Winters -------------------------------------------------------------------

    def _forecast(self) -> float:
        return self._level + self._slope + (self._season[0] if self._season else 0.0)

    def _advance(self, y: float, *, imputed: bool) -> None:
        self._values.append(y)
        self._since_fit += 1
        if not self._fitted:
            return
        if not imputed:
            self._resid.append(y - self._forecast())
        a, b, g = self._alpha, self._beta, self._gamma
        s = self._season.popleft() if self._season else 0.0
        level = a * (y - s) + (1 - a) * (self._level + self._slope)
        if self._season:
            self._season.append(g * (y - self._level - self._slope) + (1 - g) * s)
        self._slope = b * (level - self._level) + (1 - b) * self._slope
        self._level = level

    def _refit(self) -> None:
        import warnings

        import numpy as np
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
        from threadpoolctl import threadpool_limits

        y = np.asarray(self._values, dtype=float)
        m = self.seasonal_periods
        self._fitted, self._since_fit = True, 0
        try:
            if np.ptp(y) == 0.0:
                raise ValueError("constant history")
            # one BLAS thread: on a busy machine, threads on so small a problem cost 4x
            with warnings.catch_warnings(), np.errstate(all="ignore"), threadpool_limits(1):
                warnings.simplefilter("ignore")
                model = ExponentialSmoothing(
                    y,
                    trend="add" if self.trend else None,
                    seasonal="add" if m else None,
                    seasonal_periods=m,
                    # the heuristic start is fast but needs 10 + 2·(m // 2) values
                    initialization_method=(
                        "heuristic" if len(y) >= 10 + 2 * ((m or 0) // 2) else "estimated"
                    ),
                )
                fit = model.fit(use_brute=False)  # the brute-force start is 10x slower
            params = fit.params
            alpha = float(params["smoothing_level"])
            beta = float(params["smoothing_trend"]) if self.trend else 0.0
            gamma = float(params["smoothing_seasonal"]) if m else 0.0
            level = float(fit.level[-1])
            slope = float(fit.trend[-1]) if self.trend else 0.0
            season = [float(s) for s in fit.season[-m:]] if m else []
            # in-sample errors understate new ones: scale by sqrt(n / (n - fitted parameters))
            n_params = 2 + (2 if self.trend else 0) + (m + 1 if m else 0)
            inflate = (len(y) / max(len(y) - n_params, 1)) ** 0.5
            resid = [inflate * float(r) for r in y - fit.fittedvalues]
            if not np.all(np.isfinite([alpha, beta, gamma, level, slope, *season, *resid])):
                raise ValueError("non-finite fit")
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            # a constant or degenerate history: the last value, no trend, no season
            alpha, beta, gamma, level, slope = 1.0, 0.0, 0.0, float(y[-1]), 0.0
            season = [0.0] * m if m else []
            resid = [float(d) for d in np.diff(y)]
        self._alpha, self._beta, self._gamma = alpha, beta, gamma
        self._level, self._slope = level, slope
        self._season = deque(season)
        if len(self._resid) < self._needed():  # else keep the out-of-sample residuals
            self._resid = deque(resid, maxlen=self.window)

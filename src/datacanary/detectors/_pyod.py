"""``pyod:<name>``: any PyOD detector behind datacanary's threshold and sign.

``make_detector("pyod:hbos", n_bins=20)`` builds ``PyODDetector(name="hbos",
params={"n_bins": 20})``; ``fit`` imports ``pyod.models.hbos.HBOS`` and fits it. PyOD already
says higher = more anomalous, so scores pass through unchanged: training scores are PyOD's
``decision_scores_``, new rows are scored with its ``decision_function``. PyOD's own
``contamination`` is left at its default; datacanary's threshold decides the labels.

The training scores (PyOD's ``decision_scores_``) are the calibration set of the p-values:
PyOD's neighbour detectors (``knn``, ``lof``, ...) score training rows leaving each row out,
as datacanary's own do; others score them in sample, which is honest only as far as one row
barely moves the model. ``predict`` scores rows as new rows, so on the training table it may
differ from ``fit_predict``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np

from datacanary.detectors._base import BaseDetector
from datacanary.errors import ConfigError, MissingDependencyError

__all__ = ["PYOD_DETECTORS", "PyODDetector", "pyod_class"]

PYOD_DETECTORS = (
    "abod", "cblof", "cof", "copod", "ecod", "gmm", "hbos", "iforest", "inne", "kde", "knn",
    "kpca", "lmdd", "loda", "lof", "mcd", "ocsvm", "pca", "qmcd", "rod", "sampling", "sod", "sos",
)  # fmt: skip
"""Classic PyOD detectors that need nothing beyond PyOD; other PyOD model names also work."""


def pyod_class(name: str) -> type:
    """The PyOD detector class for ``name`` (e.g. ``"ecod"`` -> ``pyod.models.ecod.ECOD``).

    >>> pyod_class("ecod").__name__
    'ECOD'
    """
    try:
        importlib.import_module("pyod")
    except ImportError:
        raise MissingDependencyError.for_extra("pyod", "PyOD detectors") from None
    key = str(name).lower().replace("_", "")
    module_name = str(name).lower()
    try:
        module = importlib.import_module(f"pyod.models.{module_name}")
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.startswith("pyod"):
            raise ConfigError(
                f"unknown PyOD detector {name!r}; use one of {', '.join(PYOD_DETECTORS)}"
            ) from None
        raise MissingDependencyError(
            f"PyOD detector {name!r} needs {error.name!r}, which is not installed: "
            f"pip install {error.name}"
        ) from None
    for attribute, value in vars(module).items():
        if isinstance(value, type) and attribute.lower().replace("_", "") == key:
            return value
    raise ConfigError(f"pyod.models.{module_name} has no detector class named like {name!r}")


class PyODDetector(BaseDetector):
    """A PyOD detector, by name, with datacanary's threshold and sign convention.

    Parameters
    ----------
    name : str, default="ecod"
        PyOD module name: ``"ecod"``, ``"hbos"``, ``"copod"``, ``"knn"`` ... (see
        :data:`PYOD_DETECTORS`).
    params : dict or None, default=None
        Keyword arguments for the PyOD class (its ``contamination`` excepted).
    contamination : float or "auto", default="auto"
        Fraction of training rows to flag, or ``"auto"``: p-value below 0.001.
    random_state : int or None, default=None
        Passed to the PyOD class when it takes one and ``params`` does not set it.

    Attributes
    ----------
    detector_ : pyod.models.base.BaseDetector
        The fitted PyOD model.
    anomaly_scores_ : ndarray of shape (n_samples,)
        Training rows' anomaly scores (PyOD's ``decision_scores_``).
    threshold_ : float
        Rows scoring above it are outliers; ``offset_ = -threshold_``.

    Raises
    ------
    MissingDependencyError
        When PyOD is not installed (the ``pyod`` extra).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(300, 2)), [[5.0, 5.0]]])
    >>> int(np.argmax(PyODDetector(name="hbos").fit(X).anomaly_scores_))
    300
    """

    def __init__(
        self,
        name: str = "ecod",
        *,
        params: Mapping[str, Any] | None = None,
        contamination: float | str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.name = name
        self.params = params
        self.contamination = contamination
        self.random_state = random_state

    def _build(self) -> Any:
        cls = pyod_class(self.name)
        kwargs = dict(self.params or {})
        accepted = inspect.signature(cls).parameters
        if "contamination" in kwargs:
            raise ConfigError(
                "contamination is datacanary's, not PyOD's: pass contamination=... to "
                f"make_detector or TableDetector, not in the parameters of pyod:{self.name}"
            )
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise ConfigError(
                f"pyod:{self.name} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters are: {', '.join(p for p in accepted if p != 'contamination')}"
            )
        if "random_state" in accepted and self.random_state is not None:
            kwargs.setdefault("random_state", self.random_state)
        return cls(**kwargs)

    def _fit(self, X: np.ndarray) -> None:
        self.detector_ = self._build().fit(X)

    def _fit_scores(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.detector_.decision_scores_, dtype=np.float64)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.detector_.decision_function(X), dtype=np.float64)

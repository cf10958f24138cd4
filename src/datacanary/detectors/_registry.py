"""Detectors by name: :func:`make_detector` and :func:`available_methods`."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from typing import Any

from datacanary.detectors._base import BaseDetector
from datacanary.detectors._threshold import check_contamination
from datacanary.errors import ConfigError

__all__ = ["available_methods", "make_detector"]

# method -> (module, class); imported on first use
_METHODS: dict[str, tuple[str, str]] = {
    "auto": ("datacanary.detectors._ensemble", "AutoDetector"),
    "ecod": ("datacanary.detectors._ecod", "ECODDetector"),
    "iforest": ("datacanary.detectors._iforest", "IForestDetector"),
    "knn": ("datacanary.detectors._neighbors", "KNNDetector"),
    "lof": ("datacanary.detectors._neighbors", "LOFDetector"),
    "mad": ("datacanary.detectors._robust", "MADDetector"),
    "ocsvm": ("datacanary.detectors._ocsvm", "OCSVMDetector"),
    "zscore": ("datacanary.detectors._robust", "ZScoreDetector"),
}
_PYOD_PREFIX = "pyod:"


def available_methods() -> list[str]:
    """Names :func:`make_detector` accepts; ``"pyod:<name>"`` appears when PyOD is installed.

    >>> available_methods()[:4]
    ['auto', 'ecod', 'iforest', 'knn']
    """
    methods = list(_METHODS)
    if importlib.util.find_spec("pyod") is not None:
        methods.append(f"{_PYOD_PREFIX}<name>")
    return methods


def detector_class(method: str) -> type[BaseDetector]:
    """The class behind a built-in ``method`` name; ConfigError listing the names otherwise."""
    if not isinstance(method, str) or method not in _METHODS:
        hint = difflib.get_close_matches(str(method), list(_METHODS), n=1)
        raise ConfigError(
            f"unknown method {method!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else ";")
            + f" available: {', '.join(available_methods())}"
        )
    module, name = _METHODS[method]
    cls: type[BaseDetector] = getattr(importlib.import_module(module), name)
    return cls


def make_detector(
    method: str = "auto",
    *,
    contamination: float | str = "auto",
    random_state: int | None = 0,
    **params: Any,
) -> BaseDetector:
    """A row detector (a scikit-learn estimator) by name, checked now rather than at ``fit``.

    Parameters
    ----------
    method
        One of :func:`available_methods`: ``"auto"`` (the default ensemble), ``"iforest"``,
        ``"lof"``, ``"knn"``, ``"ocsvm"``, ``"ecod"``, ``"zscore"``, ``"mad"``, or
        ``"pyod:<name>"`` for a PyOD detector (the ``pyod`` extra).
    contamination
        ``"auto"`` (robust threshold rule) or the fraction of training rows to flag, in (0, 0.5].
    random_state
        Seed, passed to detectors that draw random numbers.
    **params
        The detector's own parameters, e.g. ``n_neighbors=5`` for ``"knn"``.

    Returns
    -------
    BaseDetector
        An unfitted estimator: ``fit``, ``anomaly_score`` (higher = more anomalous),
        ``score_samples``, ``decision_function``, ``predict``.

    Raises
    ------
    ConfigError
        Unknown method or parameter, or ``contamination`` out of range.
    MissingDependencyError
        ``"pyod:<name>"`` without PyOD installed.

    Examples
    --------
    >>> make_detector("knn", n_neighbors=5)
    KNNDetector(n_neighbors=5, random_state=0)
    >>> make_detector("knn", k=5)
    Traceback (most recent call last):
    ...
    datacanary.errors.ConfigError: knn has no parameter 'k'; its parameters are: algorithm, ...
    """
    check_contamination(contamination)
    if isinstance(method, str) and method.startswith(_PYOD_PREFIX):
        from datacanary.detectors._pyod import PyODDetector

        name = method[len(_PYOD_PREFIX) :]
        if not name or name == "<name>":
            raise ConfigError(
                f"a PyOD method names its detector, e.g. 'pyod:ecod' or 'pyod:hbos'; got {method!r}"
            )
        detector = PyODDetector(
            name=name, params=params, contamination=contamination, random_state=random_state
        )
        detector._build()  # import PyOD and check the parameters now
        return detector
    cls = detector_class(method)
    accepted = sorted(cls().get_params())
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{method} has no parameter {', '.join(map(repr, unknown))}; its parameters are: "
            + ", ".join(p for p in accepted if p not in ("contamination", "random_state"))
        )
    if "random_state" in accepted:
        params["random_state"] = random_state
    return cls(contamination=contamination, **params)

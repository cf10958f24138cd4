"""Building series detectors by name: the registry, its errors and its lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from datacanary.errors import ConfigError
from datacanary.series import (
    AutoSeriesDetector,
    ChangeDetector,
    ETSDetector,
    MADDetector,
    SeasonalDetector,
    SeriesDetector,
    ZScoreDetector,
    available_series_detectors,
    make_series_detector,
)
from datacanary.series.registry import DETECTORS, detector_class


def test_registry_names_are_sorted_and_include_the_built_in_detectors() -> None:
    names = available_series_detectors()
    assert names == sorted(names)
    assert {"auto", "change", "ets", "mad", "seasonal", "zscore"} <= set(names)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mad", MADDetector),
        ("zscore", ZScoreDetector),
        ("seasonal", SeasonalDetector),
        ("change", ChangeDetector),
        ("ets", ETSDetector),
        ("auto", AutoSeriesDetector),
    ],
)
def test_registry_builds_the_class_with_the_given_params(name: str, cls: type) -> None:
    detector = make_series_detector(name, sensitivity=4.5, direction="down")
    assert type(detector) is cls
    assert detector.get_params()["sensitivity"] == 4.5
    assert detector.get_params()["direction"] == "down"


def test_registry_default_is_auto() -> None:
    assert type(make_series_detector()) is AutoSeriesDetector


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_registry_every_entry_resolves_to_a_detector_of_that_name(name: str) -> None:
    cls = detector_class(name)
    assert issubclass(cls, SeriesDetector)
    assert cls.name == name


def test_registry_unknown_name_lists_the_names_and_suggests_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown series detector 'mda'; did you mean 'mad'\?"):
        make_series_detector("mda")
    with pytest.raises(ConfigError, match="choose one of: auto, change, ets, mad"):
        make_series_detector("prophet")


def test_registry_unknown_parameter_lists_the_detector_parameters() -> None:
    with pytest.raises(ConfigError) as info:
        make_series_detector("change", max_rise=0.2)
    assert str(info.value) == (
        "series detector 'change' has no parameter 'max_rise'; its parameters are: direction, "
        "sensitivity, min_history, window, abs_floor, rel_floor, exclude_anomalies, "
        "max_increase, max_decrease"
    )


def test_registry_bad_values_fail_when_built_not_on_first_use() -> None:
    with pytest.raises(ConfigError, match="window must be None or an integer >= min_history"):
        make_series_detector("mad", min_history=10, window=5)
    MADDetector(min_history=10, window=5)  # the constructor only stores


def test_registry_importing_series_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, datacanary.series; "
        "heavy = [m for m in ('numpy', 'scipy', 'statsmodels', 'pandas', 'sklearn') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

from __future__ import annotations

from pathlib import Path

import pytest

from datacanary.checks import load_monitor
from datacanary.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_monitor_file_works_and_resolves_sources_beside_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "datasets:\n"
        "  - name: orders\n"
        "    source: data/orders.parquet\n"
        "    metrics: [row_count, null_fraction]\n",
    )
    config = load_monitor(path)
    (dataset,) = config.datasets
    assert dataset.source == str(tmp_path / "data" / "orders.parquet")
    assert [m.name for m in dataset.metrics] == ["row_count", "null_fraction"]
    assert config.detector_for(dataset, dataset.metrics[0]).name == "auto"


def test_urls_and_absolute_paths_are_left_alone(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "store: postgresql://dq@localhost/history\n"
        "datasets:\n"
        "  - {name: a, source: 'postgresql://u@localhost/shop::public.orders'}\n"
        "  - {name: b, source: /data/b.parquet}\n",
    )
    config = load_monitor(path)
    assert config.store == "postgresql://dq@localhost/history"
    assert [d.source for d in config.datasets] == [
        "postgresql://u@localhost/shop::public.orders",
        "/data/b.parquet",
    ]


def test_detector_precedence_metric_then_dataset_then_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "defaults:\n"
        "  detector: {name: zscore, sensitivity: 4}\n"
        "datasets:\n"
        "  - name: orders\n"
        "    source: o.parquet\n"
        "    detector: seasonal\n"
        "    metrics:\n"
        "      - row_count\n"
        "      - mean: {columns: [amount], detector: {name: change, max_increase: 0.5}}\n"
        "  - name: users\n"
        "    source: u.parquet\n",
    )
    config = load_monitor(path)
    orders, users = config.datasets
    assert config.detector_for(orders, orders.metrics[0]).name == "seasonal"
    spec = config.detector_for(orders, orders.metrics[1])
    assert (spec.name, spec.params()) == ("change", {"max_increase": 0.5})
    default = config.detector_for(users, users.metrics[0])
    assert (default.name, default.params()) == ("zscore", {"sensitivity": 4})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "datasets:\n  - name: orders\n    sorce: x.parquet\n",
            r"monitor.yml:2: datasets.0.source",
        ),
        (
            "datasets:\n  - name: orders\n    source: x.parquet\n    colour: red\n",
            r"monitor.yml:4: datasets.0.colour: Extra inputs are not permitted",
        ),
        (
            "datasets:\n  - name: a\n    source: x\n    metrics:\n      - row_count\n"
            "      - mean: {columns: amount}\n",
            r"monitor.yml:6: datasets.0.metrics.1.columns",
        ),
        ("datasets: [\n", r"monitor.yml:\d+: not valid YAML"),
        ("- just\n- a list\n", r"a mapping with a 'datasets:' list"),
        ("datasets: []\n", r"monitor.yml:1: datasets: List should have at least 1 item"),
        (
            "datasets:\n  - {name: a, source: x}\n  - {name: a, source: y}\n",
            r"dataset names must be unique; repeated: a",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_monitor(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_monitor(tmp_path / "nope.yml")

"""run_odds and load_odds: the benchmark runner on real files in tmp_path and on ODDS itself."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from datacanary.errors import ConfigError, SourceNotFoundError
from datacanary.evaluate.odds import load_odds, odds_files, run_odds

ODDS = Path(
    os.environ.get(
        "DATACANARY_DATASETS", Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
    )
) / "odds"  # fmt: skip


def _write_set(folder: Path, name: str, seed: int, n: int = 300, n_out: int = 6) -> None:
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(n, 4)), rng.normal(6.0, 1.0, size=(n_out, 4))])
    np.savez(folder / f"{name}.npz", X=X, y=np.r_[np.zeros(n), np.ones(n_out)].astype(int))


def test_load_odds_subsamples_stratified_and_deterministic(tmp_path: Path) -> None:
    _write_set(tmp_path, "toy", 0, n=990, n_out=10)
    X, y = load_odds(tmp_path / "toy.npz", max_rows=100, random_state=3)
    assert X.shape == (100, 4) and int(y.sum()) == 1
    again, _ = load_odds(tmp_path / "toy.npz", max_rows=100, random_state=3)
    np.testing.assert_array_equal(X, again)
    full, _ = load_odds(tmp_path / "toy.npz")
    assert full.shape == (1000, 4)


def test_run_odds_measures_methods_and_baselines(tmp_path: Path) -> None:
    _write_set(tmp_path, "one", 0)
    _write_set(tmp_path, "two", 1)
    seen: list[str] = []
    rows = run_odds(
        tmp_path,
        {"auto": "auto", "mad": "mad", "sum of squares": lambda X: (X**2).sum(axis=1)},
        progress=lambda row: seen.append(f"{row['dataset']}/{row['method']}"),
    )
    assert seen == ["one/auto", "one/mad", "one/sum of squares",
                    "two/auto", "two/mad", "two/sum of squares"]  # fmt: skip
    for row in rows:
        assert row["roc_auc"] > 0.99 and row["pr_auc"] > 0.9 and row["seconds"] >= 0
        assert (row["rows"], row["features"], row["outliers"]) == (306, 4, 6)
    ours = [r for r in rows if r["method"] != "sum of squares"]
    assert all(0 < r["flagged"] < 306 and r["recall"] > 0.8 for r in ours)
    assert all(math.isnan(r["f1"]) for r in rows if r["method"] == "sum of squares")


def test_run_odds_checks_names_before_running(tmp_path: Path) -> None:
    _write_set(tmp_path, "one", 0)
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        run_odds(tmp_path, ["auto", "nope"])
    with pytest.raises(SourceNotFoundError, match=r"no ODDS \.npz files"):
        run_odds(tmp_path / "missing")
    with pytest.raises(SourceNotFoundError, match="no ODDS set 'wine'"):
        odds_files(tmp_path, ["wine"])


@pytest.mark.skipif(not ODDS.is_dir(), reason=f"ODDS sets not found at {ODDS}")
def test_run_odds_on_the_real_small_sets() -> None:
    rows = run_odds(ODDS.parent, ["auto", "iforest"], sets=["wine", "glass"])
    by = {(r["dataset"], r["method"]): r for r in rows}
    assert by[("wine", "auto")]["roc_auc"] > 0.89
    assert by[("glass", "iforest")]["roc_auc"] > 0.75
    assert by[("wine", "auto")]["rows"] == 129

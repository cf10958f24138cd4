"""NAB's scoring rules, pinned on small hand-made cases, and the corpus loader on real files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from datacanary.errors import ConfigError, InputError, SourceNotFoundError
from datacanary.evaluate.nab import (
    PROFILES,
    PUBLISHED_BOARD,
    CostMatrix,
    NabCorpus,
    NabFile,
    load_corpus,
    probation_length,
    run_detector,
    scaled_sigmoid,
    score_corpus,
    score_detections,
    score_results_dir,
    sweep_corpus,
    to_unit_score,
)

STANDARD = PROFILES["standard"]
MAX_TP = 2 / (1 + math.exp(-5)) - 1  # σ(-1)


def sigma(x: float) -> float:
    """NAB's scaled sigmoid, written out independently of the module."""
    return -1.0 if x > 3 else 2 / (1 + math.exp(5 * x)) - 1


def nab_dir() -> Path:
    root = os.environ.get("DATACANARY_DATASETS")
    base = (
        Path(root) if root else Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
    )
    return base / "nab"


def one_file(n: int, windows: tuple[tuple[int, int], ...], name: str = "a/x.csv") -> NabFile:
    times = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[m]")
    return NabFile(name, times, np.zeros(n), windows)


def detections_at(n: int, *rows: int) -> np.ndarray:
    det = np.zeros(n, dtype=bool)
    det[list(rows)] = True
    return det


# --------------------------------------------------------------------------- the rules


def test_nab_scaled_sigmoid_matches_the_definition() -> None:
    xs = [-3.5, -1.0, -0.5, -0.01, 0.0, 0.5, 1.0, 2.99, 3.0, 3.01, 10.0]
    assert scaled_sigmoid(xs).tolist() == pytest.approx([sigma(x) for x in xs])
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(4.0) == -1.0


def test_nab_probation_is_fifteen_percent_at_most_750_rows() -> None:
    assert probation_length(4032) == 604
    assert probation_length(1127) == 169
    assert probation_length(5000) == 750
    assert probation_length(22695) == 750


def test_nab_early_detection_earns_more_than_a_late_one() -> None:
    windows = ((400, 499),)  # 100 rows; probation of a 1,000-row file is 150 rows
    first = score_detections(detections_at(1000, 400), windows)
    middle = score_detections(detections_at(1000, 450), windows)
    last = score_detections(detections_at(1000, 499), windows)
    assert first == pytest.approx(1.0)  # the full true-positive weight at the window's start
    assert middle == pytest.approx(sigma(-50 / 100) / MAX_TP)
    assert last == pytest.approx(sigma(-1 / 100) / MAX_TP)
    assert first > middle > last > 0


def test_nab_only_the_first_detection_in_a_window_counts() -> None:
    windows = ((400, 499),)
    once = score_detections(detections_at(1000, 420), windows)
    many = score_detections(detections_at(1000, 420, 430, 460, 499), windows)
    assert many == once == pytest.approx(sigma(-80 / 100) / MAX_TP)


def test_nab_a_missed_window_costs_the_false_negative_weight() -> None:
    none = np.zeros(1000, dtype=bool)
    assert score_detections(none, ((400, 499),)) == -1.0
    assert score_detections(none, ((400, 499),), "reward_low_FN_rate") == -2.0
    assert score_detections(none, ((300, 399), (600, 699))) == -2.0


def test_nab_false_positive_right_after_a_window_costs_little() -> None:
    windows = ((400, 499),)
    hit = [400]
    just_after = score_detections(detections_at(1000, *hit, 500), windows) - 1.0
    one_width_after = score_detections(detections_at(1000, *hit, 598), windows) - 1.0
    far_after = score_detections(detections_at(1000, *hit, 900), windows) - 1.0
    # distance after the window in window lengths: (i - last_row) / (width - 1)
    assert just_after == pytest.approx(0.11 * sigma(1 / 99))
    assert one_width_after == pytest.approx(0.11 * sigma(99 / 99))
    assert far_after == pytest.approx(-0.11)  # more than 3 window lengths: the full weight
    assert 0 > just_after > one_width_after > far_after
    assert just_after > -0.02


def test_nab_false_positive_before_any_window_costs_the_full_weight() -> None:
    windows = ((400, 499),)
    score = score_detections(detections_at(1000, 200, 400), windows)
    assert score == pytest.approx(1.0 - 0.11)
    low_fp = score_detections(detections_at(1000, 200, 400), windows, "reward_low_FP_rate")
    assert low_fp == pytest.approx(1.0 - 0.22)


def test_nab_probationary_period_is_never_scored() -> None:
    # a detection inside the probation costs nothing
    assert score_detections(detections_at(1000, 10, 400), ((400, 499),)) == pytest.approx(1.0)
    # a window wholly inside the probation counts neither as a hit nor as a miss
    assert score_detections(np.zeros(1000, dtype=bool), ((20, 60), (400, 499))) == -1.0
    # a window straddling the end of the probation is scored on its scorable rows only
    straddling = ((100, 199),)  # probation 150: row 150 is the first that counts
    early = score_detections(detections_at(1000, 120), straddling)
    assert early == -1.0  # the detection at row 120 is in the probation: the window is missed
    assert score_detections(detections_at(1000, 150), straddling) == pytest.approx(
        sigma(-(199 - 150 + 1) / 100) / MAX_TP
    )
    assert score_detections(detections_at(100, 50), (), probation=60) == 0.0


def test_nab_profiles_accept_a_cost_matrix_or_a_name() -> None:
    det = detections_at(1000, 200)
    assert score_detections(det, (), CostMatrix(tp=1, fp=0.5, fn=1)) == -0.5
    with pytest.raises(ConfigError, match="profile must be one of standard"):
        score_detections(det, (), "lenient")


# --------------------------------------------------------------------------- the sweep


def small_corpus() -> NabCorpus:
    return NabCorpus(
        {
            "a/one.csv": one_file(1000, ((400, 499),), "a/one.csv"),
            "a/two.csv": one_file(1000, ((600, 699),), "a/two.csv"),
            "b/none.csv": one_file(1000, (), "b/none.csv"),
        }
    )


def test_nab_threshold_is_chosen_to_maximise_the_total_per_profile() -> None:
    corpus = small_corpus()
    one, two, none = np.zeros(1000), np.zeros(1000), np.zeros(1000)
    one[400] = 0.9  # an early hit
    two[699] = 0.5  # a hit on the window's last row: worth little (0.01 of the weight)
    none[[300, 310, 320]] = 0.7  # three false positives between the two scores
    result = sweep_corpus(corpus, {"a/one.csv": one, "a/two.csv": two, "b/none.csv": none})
    late = sigma(-1 / 100) / MAX_TP
    # standard: detecting 0.5 as well gains 1 + late but costs 3 × 0.11
    std = result["standard"]
    assert std.threshold == 0.5
    assert std.raw == pytest.approx(1.0 + late - 0.33)
    assert std.detections == 5
    # reward_low_FP_rate: 3 × 0.22 = 0.66 still below the 1 + late gained
    assert result["reward_low_FP_rate"].raw == pytest.approx(1.0 + late - 0.66)
    assert result["reward_low_FP_rate"].threshold == 0.5
    # with false positives that cost 0.6 each, stopping at 0.9 is best
    costly = NabCorpus(corpus.files, {"costly": CostMatrix(tp=1.0, fp=0.6, fn=1.0)})
    best = sweep_corpus(costly, {"a/one.csv": one, "a/two.csv": two, "b/none.csv": none})
    assert best["costly"].threshold == 0.9
    assert best["costly"].raw == pytest.approx(0.0)
    assert best["costly"].score == pytest.approx(50.0)


def test_nab_null_detector_scores_zero_and_perfect_one_hundred() -> None:
    corpus = small_corpus()
    null = {name: np.zeros(1000) for name in corpus.files}
    assert score_corpus(corpus, null) == {name: 0.0 for name in PROFILES}
    nothing = sweep_corpus(corpus, null)["standard"]
    assert nothing.threshold == 1.1 and nothing.detections == 0
    assert nothing.null == -2.0 and nothing.perfect == 2.0
    perfect = {name: np.zeros(1000) for name in corpus.files}
    perfect["a/one.csv"][400] = 1.0
    perfect["a/two.csv"][600] = 1.0
    assert score_corpus(corpus, perfect) == pytest.approx({name: 100.0 for name in PROFILES})


def test_nab_ties_in_the_total_keep_the_highest_threshold() -> None:
    corpus = NabCorpus({"a/one.csv": one_file(1000, ((400, 499),), "a/one.csv")})
    scores = np.zeros(1000)
    scores[400], scores[450] = 0.8, 0.6  # the second detection adds nothing
    assert sweep_corpus(corpus, {"a/one.csv": scores})["standard"].threshold == 0.8


def test_nab_sweep_rejects_bad_scores() -> None:
    corpus = small_corpus()
    ok = {name: np.zeros(1000) for name in corpus.files}
    with pytest.raises(InputError, match=r"no scores for NAB file 'b/none\.csv'"):
        sweep_corpus(corpus, {k: v for k, v in ok.items() if k != "b/none.csv"})
    with pytest.raises(InputError, match="999 scores for 1000 rows"):
        sweep_corpus(corpus, {**ok, "a/one.csv": np.zeros(999)})
    with pytest.raises(InputError, match=r"must lie in \[0, 1\]; got 1.5"):
        sweep_corpus(corpus, {**ok, "a/one.csv": np.full(1000, 1.5)})


def test_nab_unit_score_keeps_order_and_ties() -> None:
    raw = np.array([0.0, 0.25, 1.0 - 1e-16, 1.0, 1.5, 40.0, 1e300])
    unit = to_unit_score(raw)
    assert np.all(np.diff(unit) > 0)
    assert unit[:4].tolist() == (raw[:4] / 2).tolist()  # [0, 1] is halved exactly
    assert to_unit_score([float("nan"), -3.0, float("inf")]).tolist() == [0.0, 0.0, 1.0]


def test_nab_published_board_lists_the_leaders() -> None:
    assert PUBLISHED_BOARD["ARTime"]["standard"] == 74.9
    assert PUBLISHED_BOARD["Windowed Gaussian"] == {
        "standard": 39.6,
        "reward_low_FP_rate": 20.9,
        "reward_low_FN_rate": 47.4,
    }
    assert all(set(scores) == set(PROFILES) for scores in PUBLISHED_BOARD.values())


# --------------------------------------------------------------------------- running detectors


class Spike:
    """Scores |value| (a toy detector with the series contract)."""

    def __init__(self) -> None:
        self.learned = 0

    def score_one(self, value: float, at: object = None) -> float:
        return abs(value)

    def learn_one(self, value: float, at: object = None) -> None:
        self.learned += 1


def test_nab_run_detector_streams_each_file_through_a_fresh_detector() -> None:
    corpus = NabCorpus({"a/one.csv": one_file(10, (), "a/one.csv")})
    values = corpus.files["a/one.csv"].values
    values[3] = 3.0
    made: list[Spike] = []

    def make() -> Spike:
        made.append(Spike())
        return made[-1]

    seen: list[tuple[str, int, int]] = []
    scores = run_detector(corpus, make, progress=lambda *a: seen.append(a))
    assert scores["a/one.csv"].tolist() == to_unit_score(np.abs(values)).tolist()
    assert len(made) == 1 and made[0].learned == 10
    assert seen == [("a/one.csv", 1, 1)]


def test_nab_run_detector_resolves_names() -> None:
    corpus = NabCorpus({"a/one.csv": one_file(300, (), "a/one.csv")})
    scores = run_detector(corpus, "novelty")
    assert scores["a/one.csv"].shape == (300,)
    assert run_detector(corpus, "windowed_gaussian")["a/one.csv"][0] == 0.0
    with pytest.raises(ConfigError, match="unknown series detector 'htm'"):
        run_detector(corpus, "htm")


# --------------------------------------------------------------------------- files on disk


def write_corpus(root: Path, series: dict[str, list[float]], windows: dict[str, list]) -> None:
    for name, values in series.items():
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        stamps = np.datetime64("2024-01-01T00:00") + np.arange(len(values)) * np.timedelta64(5, "m")
        lines = ["timestamp,value"] + [
            f"{str(t).replace('T', ' ')},{v}" for t, v in zip(stamps, values, strict=True)
        ]
        path.write_text("\n".join(lines) + "\n")
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))


def test_nab_load_corpus_reads_windows_as_rows(tmp_path: Path) -> None:
    write_corpus(
        tmp_path,
        {"cat/a.csv": [1.0] * 200, "cat/b.csv": [2.0] * 100},
        {
            "cat/a.csv": [["2024-01-01 01:40:00.000000", "2024-01-01 02:00:00.000000"]],
            "cat/b.csv": [],
        },
    )
    corpus = load_corpus(tmp_path)
    assert list(corpus.files) == ["cat/a.csv", "cat/b.csv"]
    assert corpus.files["cat/a.csv"].windows == ((20, 24),)
    assert corpus.n_rows == 300 and corpus.n_windows == 1
    assert corpus.profiles == PROFILES  # no config/profiles.json: NAB's defaults
    assert corpus.files["cat/a.csv"].times()[1].minute == 5
    assert list(corpus.subset(["cat/b.csv"]).files) == ["cat/b.csv"]


def test_nab_load_corpus_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="NAB corpus not found"):
        load_corpus(tmp_path / "missing")
    write_corpus(
        tmp_path,
        {"cat/a.csv": [1.0] * 50},
        {"cat/a.csv": [["2024-01-01 01:42:00", "2024-01-01 02:00:00"]]},
    )
    with pytest.raises(InputError, match="'2024-01-01 01:42:00' is not a row of the file"):
        load_corpus(tmp_path)
    with pytest.raises(InputError, match="has no entry"):
        load_corpus(tmp_path, files=["cat/zzz.csv"])


def test_nab_score_results_dir_reads_nab_results_folders(tmp_path: Path) -> None:
    corpus = small_corpus()
    scores = {name: np.zeros(1000) for name in corpus.files}
    scores["a/one.csv"][[400, 800]] = [0.75, 0.5]
    scores["b/none.csv"][500] = 0.25
    for name, values in scores.items():
        category, base = name.split("/")
        folder = tmp_path / "results" / "toy" / category
        folder.mkdir(parents=True, exist_ok=True)
        times = corpus.files[name].timestamps
        rows = [
            f"{str(t).replace('T', ' ')},{float(v)!r}" for t, v in zip(times, values, strict=True)
        ]
        (folder / f"toy_{base}").write_text("timestamp,anomaly_score\n" + "\n".join(rows) + "\n")
    expected = score_corpus(corpus, scores)
    assert score_results_dir(corpus, tmp_path / "results" / "toy") == expected
    assert score_results_dir(corpus, tmp_path / "results", "toy") == expected
    (tmp_path / "results" / "toy" / "a" / "toy_two.csv").write_text("timestamp,anomaly_score\n")
    with pytest.raises(InputError, match="0 rows for 1000 data rows"):
        score_results_dir(corpus, tmp_path / "results" / "toy")
    with pytest.raises(SourceNotFoundError, match="no results file"):
        score_results_dir(corpus, tmp_path / "results", "other")


# --------------------------------------------------------------------------- the real corpus


def test_nab_load_corpus_reads_the_published_corpus() -> None:
    if not (nab_dir() / "labels").is_dir():
        pytest.skip(f"NAB corpus not found at {nab_dir()}")
    corpus = load_corpus(nab_dir())
    assert len(corpus) == 58 and corpus.n_rows == 365_558 and corpus.n_windows == 116
    assert corpus.profiles == PROFILES
    taxi = corpus.files["realKnownCause/nyc_taxi.csv"]
    assert taxi.windows[0] == (5839, 6045)  # 2014-10-30 15:30 .. 2014-11-03 22:30
    assert str(taxi.timestamps[5839]).startswith("2014-10-30T15:30")
    assert sum(1 for f in corpus.files.values() if not f.windows) == 6

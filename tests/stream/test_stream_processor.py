"""The processor's rules on an in-memory source and output (no broker needed)."""

from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from datacanary.errors import ConfigError, InputError, SourceNotFoundError
from datacanary.results import RowScores
from datacanary.stream import (
    MemoryOutput,
    MemorySource,
    Record,
    StreamSettings,
    build_processor,
    load_model,
)
from datacanary.stream.rows import RowScorer


def _messages(n: int, anomalies: dict[int, float] | None = None) -> list[Record]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        amount = (anomalies or {}).get(i, round(100 + float(rng.uniform(-5, 5)), 2))
        value = json.dumps({"id": i, "amount": amount, "country": ["DE", "FR"][i % 2]})
        out.append(Record("orders", i % 2, i // 2, 1_714_521_600_000 + i * 1000, value.encode()))
    return out


def _settings(n: int, **extra: Any) -> StreamSettings:
    options: dict[str, Any] = {
        "bootstrap_servers": "memory",
        "topics": "orders",
        "group": "g",
        "anomalies_topic": "anomalies",
        "dead_letter_topic": "dlq",
        "train_on": 200,
        "id_field": "id",
        "batch_size": 100,
        "max_messages": n,
        **extra,
    }
    return StreamSettings.build(**options)


def _run(
    settings: StreamSettings, messages: list[Record]
) -> tuple[Any, MemorySource, MemoryOutput]:
    source, output = MemorySource(messages), MemoryOutput()
    stats = asyncio.run(build_processor(settings, source=source, output=output).run())
    return stats, source, output


def _rows(output: MemoryOutput) -> list[dict[str, Any]]:
    values = [json.loads(m.value or b"") for m in output.topics.get("anomalies", [])]
    return [v for v in values if v["kind"] == "row"]


def test_stream_commits_nothing_before_the_detector_is_trained() -> None:
    stats, source, _ = _run(_settings(150), _messages(150))

    assert stats.consumed == 150 and stats.scored == 0
    assert source.committed == {}  # a restart reads all 150 again
    assert stats.uncommitted == 150
    assert "before the row detector was trained (150 of 200 events)" in stats.problems[0]


def test_stream_commits_each_batch_once_its_outputs_are_out() -> None:
    stats, source, output = _run(_settings(600), _messages(600, {450: 10_000.0}))

    assert source.committed == {("orders", 0): 300, ("orders", 1): 300}
    assert [r["record"]["id"] for r in _rows(output)] == [450]
    assert stats.scored == 600 and stats.commits == 5  # training held the first two batches


def test_stream_model_saved_then_loaded_scores_the_same(tmp_path: Path) -> None:
    path = tmp_path / "orders.model.parquet"
    messages = _messages(800, {300: 9_000.0, 650: 12_000.0})
    first, _, trained = _run(_settings(800, save_model=path), messages)
    second, _, loaded = _run(_settings(800, model=path), messages)

    assert "saved to" in first.model and second.model.startswith("loaded")
    assert [(r["record"]["id"], r["score"]) for r in _rows(trained)] == [
        (r["record"]["id"], r["score"]) for r in _rows(loaded)
    ]
    assert sorted(r["record"]["id"] for r in _rows(loaded)) == [300, 650]
    model = load_model(path)
    assert dict(model.schema) == {"amount": "number", "country": "text"}  # the id is no feature
    assert len(model.training) == 200


def test_stream_model_loading_refuses_pickles_and_names_missing_files(tmp_path: Path) -> None:
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(InputError, match="pickles are refused: they run code"):
        load_model(pickled)
    with pytest.raises(SourceNotFoundError, match="does not exist; train one with"):
        load_model(tmp_path / "missing.parquet")


def test_stream_refits_on_the_sliding_window() -> None:
    stats, _, _ = _run(_settings(1000, refit_every=250), _messages(1000))
    assert stats.refits == 3  # after 250, 500 and 750 scored events past training


class _Picky:
    """A real detector that cannot score negative amounts (rejects them with ValueError)."""

    def fit(self, frame: pd.DataFrame) -> _Picky:
        self.centre_ = float(frame["amount"].median())
        return self

    def score(self, frame: pd.DataFrame) -> RowScores:
        amounts = frame["amount"].to_numpy()
        if (amounts < 0).any():
            raise ValueError("amount must not be negative")
        scores = np.abs(amounts - self.centre_)
        return RowScores(list(scores), list(scores > 50), 50.0, [""] * len(scores), "picky")


def test_stream_isolates_the_rows_a_detector_rejects() -> None:
    frame = pd.DataFrame({"amount": [100.0] * 40})
    scorer = RowScorer(_Picky, train_on=40)
    scorer.fit(frame)
    batch = pd.DataFrame({"amount": [100.0] * 20})
    batch.loc[[3, 17], "amount"] = -1.0
    batch.loc[9, "amount"] = 500.0
    typed, errors = scorer.prepare(batch)
    scored = scorer.score(typed)

    assert errors == {}
    assert sorted(scored.errors) == [3, 17]
    assert scored.errors[3] == (
        "the row detector could not score this event: amount must not be negative"
    )
    assert scored.positions == [p for p in range(20) if p not in (3, 17)]
    assert [scored.positions[i] for i, a in enumerate(scored.scores.is_anomaly) if a] == [9]


def test_stream_settings_errors_name_the_option() -> None:
    with pytest.raises(ConfigError, match="--train-on Input should be greater than or equal"):
        _settings(10, train_on=1)
    with pytest.raises(ConfigError, match="--dead-letter-topic 'orders' is also an input topic"):
        _settings(10, dead_letter_topic="orders")
    with pytest.raises(ConfigError, match="--colour is not an option of the stream processor"):
        _settings(10, colour="red")
    with pytest.raises(ConfigError, match=r"give --model \(load a model\) or --save-model"):
        _settings(10, model="a.parquet", save_model="b.parquet")

"""Score a streaming detector on the Numenta Anomaly Benchmark, with a held-out check.

Runs the detector over every file of the NAB corpus (each value scored, then learned), times
it, and prints its three NAB scores on the whole corpus and on two halves split by file: the
*tuning* half (where datacanary's ``novelty`` parameters were chosen) and the *held-out*
half (never used to choose anything). The split takes, within each of NAB's seven categories,
a seeded random half of the files (rounded up) for tuning.

    .venv/bin/python bench/nab.py                          # novelty, the default
    .venv/bin/python bench/nab.py --detector windowed_gaussian   # NAB's baseline: 39.6/20.9/47.4
    .venv/bin/python bench/nab.py --detector zscore --json
    .venv/bin/python bench/nab.py --params "cooldown=0, sensitivity=4"

The corpus is read from ``--data`` or ``../shared/datasets/nab`` beside the repository
(``$DATACANARY_DATASETS`` overrides the datasets folder).
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from datacanary.evaluate.nab import (
    PROFILES,
    PUBLISHED_BOARD,
    NabCorpus,
    WindowedGaussian,
    default_data_dir,
    load_corpus,
    run_detector,
    score_corpus,
)
from datacanary.series.registry import detector_class

SHORT = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}


def split_files(corpus: NabCorpus, seed: int = 0) -> tuple[list[str], list[str]]:
    """Tuning and held-out file keys: a seeded half of each category (rounded up) for tuning."""
    rng = np.random.default_rng(seed)
    by_category: dict[str, list[str]] = {}
    for name in corpus.files:
        by_category.setdefault(name.split("/")[0], []).append(name)
    tuning: list[str] = []
    held_out: list[str] = []
    for _, names in sorted(by_category.items()):
        names = sorted(names)
        order = rng.permutation(len(names))
        half = (len(names) + 1) // 2
        tuning += [names[i] for i in order[:half]]
        held_out += [names[i] for i in order[half:]]
    return sorted(tuning), sorted(held_out)


def parse_params(text: str) -> dict[str, Any]:
    """``"a=1, b='x'"`` -> ``{"a": 1, "b": "x"}`` (literals only)."""
    call = ast.parse(f"f({text})", mode="eval").body
    assert isinstance(call, ast.Call)
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}


def factory(name: str, params: dict[str, Any]) -> Callable[[], Any]:
    if name.replace("-", "_").lower() in ("windowed_gaussian", "windowedgaussian"):
        return functools.partial(WindowedGaussian, **params)
    return functools.partial(detector_class(name), **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", default="novelty")
    parser.add_argument("--params", default="", help="detector parameters, e.g. 'cooldown=0'")
    parser.add_argument("--data", type=Path, default=None, help="NAB root (data/, labels/)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tuning/held-out split")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    corpus = load_corpus(args.data or default_data_dir())
    params = parse_params(args.params) if args.params else {}
    started = time.perf_counter()
    cpu = time.process_time()
    scores = run_detector(corpus, factory(args.detector, params))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    tuning, held_out = split_files(corpus, args.seed)
    results = {
        "whole corpus": score_corpus(corpus, scores),
        "tuning half": score_corpus(corpus.subset(tuning), scores),
        "held-out half": score_corpus(corpus.subset(held_out), scores),
    }
    if args.json:
        payload = {
            "detector": args.detector,
            "params": params,
            "rows": corpus.n_rows,
            "seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "split_seed": args.seed,
            "held_out_files": held_out,
            **{k: {p: round(v, 2) for p, v in r.items()} for k, r in results.items()},
        }
        print(json.dumps(payload, indent=2))
        return

    label = args.detector + (f" ({args.params})" if args.params else "")
    print(
        f"{label}: {corpus.n_rows:,} values in {len(corpus)} files, {wall:.1f} s "
        f"({cpu:.1f} s CPU, {1e6 * cpu / corpus.n_rows:.1f} µs per value)"
    )
    print(f"split seed {args.seed}: {len(tuning)} tuning files, {len(held_out)} held-out files\n")
    print(f"{args.detector:<28}" + "".join(f"{SHORT[p]:>10}" for p in PROFILES))
    for name, result in results.items():
        print(f"  {name:<26}" + "".join(f"{result[p]:>10.1f}" for p in PROFILES))
    print("\npublished board (numenta/NAB README, corpus v1.1)")
    for name, board in PUBLISHED_BOARD.items():
        if name in ("Perfect", "Null"):
            continue
        print(f"{name:<28}" + "".join(f"{board[p]:>10.1f}" for p in PROFILES))


if __name__ == "__main__":
    main()

"""Bad input to every command: exit 2, one line naming the problem, nothing left behind.

Each case builds real files in ``tmp_path`` (missing, empty, binary, ragged, all-null and
text-only tables, NaN/inf, malformed monitor files, bad URLs, unwritable outputs, bad
options) and runs the command in-process. For every case the test asserts: exit code 2,
exactly one ``error:`` line on stderr that matches the case's pattern, no traceback, no
file created or changed in the working folder (no partial output, no stray store), and no
secret (``SECRETX``) in anything printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_helpers import assert_one_line_error, invoke

SECRET = "SECRETX"
Args = Callable[[Path], list[str]]


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _fixtures(d: Path) -> None:
    """The files the cases point at, all in the case's own folder."""
    rng = np.random.default_rng(0)
    n = 60
    pd.DataFrame(
        {"amount": rng.normal(50, 5, n), "qty": rng.integers(1, 9, n), "is_bad": [0] * 59 + [1]}
    ).to_csv(d / "ok.csv", index=False)
    _write(d / "empty.csv", "")
    _write(d / "header_only.csv", "amount,qty\n")
    _write(d / "text_only.csv", "name\n" + "".join(f"user{i}\n" for i in range(40)))
    _write(d / "all_null.csv", "a,b\n" + ",\n" * 40)
    _write(d / "nan_only.csv", "x,y\n" + "nan,\n" * 30)
    _write(d / "binary.csv", b"PK\x03\x04\x00\x00\x00binary\x00junk" * 20)
    _write(d / "broken.parquet", b"this is not parquet at all")
    _write(d / "data.xlsx", b"not really excel")
    _write(
        d / "ragged.csv",
        "id,amount,country\n" + "".join(f"{i},{i}.5,DE\n" for i in range(20)) + "20,1,DE,extra\n",
    )
    _write(d / "short.csv", "a,b,c\n1,2,3\n4\n" + "5,6,7\n" * 30)
    (d / "glob").mkdir()
    _write(d / "glob" / "a.csv", "a,b\n1,2\n")
    _write(d / "glob" / "b.csv", "a,c\n1,2\n")
    (d / "folder.csv").mkdir()
    _write(d / "not_a_folder", "a file where a folder is expected")
    # monitor files
    ds = "datasets:\n  - name: orders\n    source: ok.csv\n"
    _write(d / "ok.yml", ds)
    _write(d / "malformed.yml", "datasets: [\n  - name: orders\n")
    _write(d / "not_mapping.yml", "- just\n- a list\n")
    _write(d / "empty.yml", "")
    _write(d / "unknown_key.yml", ds + "    colour: red\n")
    _write(d / "unknown_metric.yml", ds + "    metrics: [row_cont]\n")
    _write(d / "table_metric_columns.yml", ds + "    metrics:\n      - row_count: {columns: [a]}\n")
    _write(d / "bad_detector.yml", ds + "    detector: {name: nope}\n")
    _write(d / "bad_detector_param.yml", ds + "    detector: {name: zscore, sensitivity: -1}\n")
    _write(d / "no_datasets.yml", "datasets: []\n")
    _write(d / "duplicate.yml", ds + "  - name: orders\n    source: ok.csv\n")
    _write(d / "custom_name.yml", ds + "    custom: {2late: 'count(*)'}\n")
    _write(d / "custom_builtin.yml", ds + "    custom: {row_count: 'count(*)'}\n")
    _write(d / "custom_empty.yml", ds + "    custom: {late: ''}\n")
    _write(
        d / "custom_drop.yml",
        ds + '    custom: {x: "count(*)) FROM src; DROP TABLE canary2; SELECT (1"}\n',
    )
    _write(
        d / "custom_file.yml",
        ds + "    custom: {x: \"(SELECT max(length(content)) FROM read_text('/etc/passwd'))\"}\n",
    )
    _write(d / "custom_copy.yml", ds + "    custom: {x: \"COPY (SELECT 1) TO 'out.csv'\"}\n")
    _write(d / "custom_other_table.yml", ds + '    custom: {x: "(SELECT count(*) FROM users)"}\n')
    _write(
        d / "custom_text.yml",
        "datasets:\n  - name: pg\n    source: postgresql://u@db/x::t\n"
        "    custom: {x: \"length(pg_read_file('/etc/passwd'))\"}\n",
    )
    _write(d / "bad_alert.yml", ds + "alerts:\n  - {type: pager}\n")
    _write(d / "bad_alert_key.yml", ds + "alerts:\n  - {type: webhook, colour: red}\n")
    _write(d / "store_csv.yml", "store: history.csv\n" + ds)
    _write(d / "store_libpq.yml", f"store: host=db password={SECRET}\n" + ds)
    _write(d / "store_scheme.yml", "store: mysql://db/x\n" + ds)
    _write(d / "not_utf8.yml", b"datasets:\n  - name: \xff\xfe\n")


# name -> (arguments, pattern the one error line must match)
CASES: dict[str, tuple[Args, str]] = {
    # ------------------------------------------------------------------------------- detect
    "detect missing file": (lambda d: ["detect", "nope.csv"], r"nope\.csv does not exist"),
    "detect empty file": (lambda d: ["detect", "empty.csv"], r"empty"),
    "detect header only": (lambda d: ["detect", "header_only.csv"], r"no rows"),
    "detect binary csv": (lambda d: ["detect", "binary.csv"], r"binary"),
    "detect broken parquet": (lambda d: ["detect", "broken.parquet"], r"Parquet"),
    "detect unknown extension": (lambda d: ["detect", "data.xlsx"], r"unsupported file type"),
    "detect a folder": (lambda d: ["detect", "folder.csv"], r"directory"),
    "detect glob matches nothing": (lambda d: ["detect", "none/*.csv"], r"no files match"),
    "detect ragged csv": (lambda d: ["detect", "ragged.csv"], r"line 22 has 4 fields"),
    "detect ragged csv short line": (lambda d: ["detect", "short.csv"], r"line 3 has 1 fields"),
    "detect glob of different headers": (
        lambda d: ["detect", "glob/*.csv"],
        r"different columns: .*a\.csv: a, b; .*b\.csv: a, c",
    ),
    "detect all null": (lambda d: ["detect", "all_null.csv"], r"column|usable|feature"),
    "detect text only": (lambda d: ["detect", "text_only.csv"], r"column|usable|feature"),
    "detect nan only": (lambda d: ["detect", "nan_only.csv"], r"no usable feature column"),
    "check custom pg_read_file": (
        lambda d: ["check", "custom_text.yml"],
        r"custom\.x: custom metric refused: it calls pg_read_file",
    ),
    "detect unknown column": (
        lambda d: ["detect", "ok.csv", "--columns", "amout"],
        r"did you mean 'amount'",
    ),
    "detect unknown label": (lambda d: ["detect", "ok.csv", "--label-column", "y"], r"'y'"),
    "detect bad method": (lambda d: ["detect", "ok.csv", "--method", "magic"], r"magic"),
    "detect bad contamination": (
        lambda d: ["detect", "ok.csv", "--contamination", "lots"],
        r"contamination",
    ),
    "detect bad format": (lambda d: ["detect", "ok.csv", "--format", "xml"], r"--format"),
    "detect negative top": (lambda d: ["detect", "ok.csv", "--top", "-1"], r"--top"),
    "detect top not a number": (lambda d: ["detect", "ok.csv", "--top", "many"], r"--top"),
    "detect unknown option": (lambda d: ["detect", "ok.csv", "--ouput", "x.csv"], r"--ouput"),
    "detect output xlsx": (
        lambda d: ["detect", "ok.csv", "--output", "scored.xlsx"],
        r"--output .*unknown format",
    ),
    "detect plot xlsx after output": (
        lambda d: ["detect", "ok.csv", "--output", "scored.csv", "--plot", "out.xlsx"],
        r"--plot .*unknown format",
    ),
    "detect output under a file": (
        lambda d: ["detect", "ok.csv", "--output", "not_a_folder/scored.csv"],
        r"not_a_folder is a file",
    ),
    "detect output is a folder": (
        lambda d: ["detect", "ok.csv", "--output", "folder.csv"],
        r"is a folder",
    ),
    "detect plot unwritable after output": (
        lambda d: ["detect", "ok.csv", "--output", "scored.csv", "--plot", "/proc/x/plot.png"],
        r"plot\.png|/proc",
    ),
    "detect postgres bad ipv6 url": (
        lambda d: ["detect", f"postgresql://u:{SECRET}@[::1/db::t"],
        r"PostgreSQL",
    ),
    "detect postgres url without table": (
        lambda d: ["detect", f"postgresql://u:{SECRET}@127.0.0.1:1/db"],
        r"no table named",
    ),
    "detect duckdb file missing": (
        lambda d: ["detect", "duckdb:///nope.db::t"],
        r"nope\.db does not exist",
    ),
    # ------------------------------------------------------------------------------ profile
    "profile missing file": (lambda d: ["profile", "nope.parquet"], r"does not exist"),
    "profile empty file": (lambda d: ["profile", "empty.csv"], r"empty"),
    "profile ragged csv": (lambda d: ["profile", "ragged.csv"], r"ragged\.csv line 22"),
    "profile glob of different headers": (
        lambda d: ["profile", "glob/*.csv"],
        r"different columns",
    ),
    "profile broken parquet": (lambda d: ["profile", "broken.parquet"], r"Parquet"),
    "profile unknown column": (lambda d: ["profile", "ok.csv", "--columns", "qtty"], r"qtty"),
    "profile bad format": (lambda d: ["profile", "ok.csv", "--format", "yaml"], r"--format"),
    "profile no argument": (lambda d: ["profile"], r"Missing argument"),
    "profile empty source": (lambda d: ["profile", " "], r"empty"),
    "profile postgres password in query": (
        lambda d: ["profile", f"postgresql://u@127.0.0.1:1/db?password={SECRET}::public.t"],
        r"cannot connect to PostgreSQL at postgresql://u@127\.0\.0\.1:1/db\?password=\*\*\*",
    ),
    "profile postgres bad ipv6 url": (
        lambda d: ["profile", f"postgresql://u:{SECRET}@[::1/db::t"],
        r"postgresql://u:\*\*\*@\[::1/db",
    ),
    "profile postgres bad port": (
        lambda d: ["profile", f"postgres://u:{SECRET}@127.0.0.1:notaport/db::t"],
        r"PostgreSQL",
    ),
    "profile duckdb missing table": (lambda d: ["profile", "wh.duckdb::orders"], r"wh\.duckdb"),
    # -------------------------------------------------------------------------------- check
    "check missing monitor": (lambda d: ["check", "nope.yml"], r"nope\.yml does not exist"),
    "check malformed yaml": (lambda d: ["check", "malformed.yml"], r"not valid YAML"),
    "check yaml not a mapping": (lambda d: ["check", "not_mapping.yml"], r"mapping"),
    "check empty yaml": (lambda d: ["check", "empty.yml"], r"mapping"),
    "check not utf8": (lambda d: ["check", "not_utf8.yml"], r"cannot read monitor file"),
    "check unknown key": (lambda d: ["check", "unknown_key.yml"], r":4: datasets\.0\.colour"),
    "check unknown metric": (lambda d: ["check", "unknown_metric.yml"], r"did you mean"),
    "check table metric with columns": (
        lambda d: ["check", "table_metric_columns.yml"],
        r"takes no columns",
    ),
    "check unknown detector": (lambda d: ["check", "bad_detector.yml"], r"detector\.name"),
    "check bad detector parameter": (
        lambda d: ["check", "bad_detector_param.yml"],
        r"sensitivity",
    ),
    "check no datasets": (lambda d: ["check", "no_datasets.yml"], r"datasets"),
    "check duplicate dataset": (lambda d: ["check", "duplicate.yml"], r"unique"),
    "check custom name": (lambda d: ["check", "custom_name.yml"], r"custom\.2late"),
    "check custom builtin name": (lambda d: ["check", "custom_builtin.yml"], r"built-in"),
    "check custom empty": (lambda d: ["check", "custom_empty.yml"], r"needs an SQL expression"),
    "check custom sql injection": (
        lambda d: ["check", "custom_drop.yml"],
        r"custom_drop\.yml:4: datasets\.0\.custom\.x: .*3 SQL statements \(SELECT, DROP, SELECT\)",
    ),
    "check custom reads a file": (
        lambda d: ["check", "custom_file.yml"],
        r"custom\.x: custom metric refused: it reads read_text",
    ),
    "check custom copy": (lambda d: ["check", "custom_copy.yml"], r"COPY statement"),
    "check custom other table": (
        lambda d: ["check", "custom_other_table.yml"],
        r"reads the table 'users'",
    ),
    "check unknown alert sink": (lambda d: ["check", "bad_alert.yml"], r"alerts"),
    "check unknown alert setting": (lambda d: ["check", "bad_alert_key.yml"], r"colour"),
    "check store is a csv": (lambda d: ["check", "store_csv.yml"], r"data file, not a store"),
    "check store is libpq in file": (lambda d: ["check", "store_libpq.yml"], r"libpq"),
    "check store scheme": (lambda d: ["check", "store_scheme.yml"], r"mysql://"),
    "check store option libpq": (
        lambda d: ["check", "ok.yml", "--store", f"host=db password={SECRET}"],
        r"libpq keyword string",
    ),
    "check store option bad ipv6": (
        lambda d: ["check", "ok.yml", "--store", f"postgresql://u:{SECRET}@[::1/db"],
        r"postgresql://u:\*\*\*@",
    ),
    "check store option password query": (
        lambda d: [
            "check",
            "ok.yml",
            "--store",
            f"postgresql://u@127.0.0.1:1/db?password={SECRET}",
        ],
        r"password=\*\*\*",
    ),
    "check store is parquet": (
        lambda d: ["check", "ok.yml", "--store", "broken.parquet"],
        r"data file",
    ),
    "check bad at": (lambda d: ["check", "ok.yml", "--at", "yesterday"], r"--at"),
    "check negative store wait": (
        lambda d: ["check", "ok.yml", "--store-wait", "-1", "--store", "h.duckdb"],
        r"--store-wait",
    ),
    "check bad format": (lambda d: ["check", "ok.yml", "--format", "csv"], r"--format"),
    # ------------------------------------------------------------------------------ history
    "history no store": (lambda d: ["history", "orders", "--store", "none.duckdb"], r"no history"),
    "history store is a csv": (lambda d: ["history", "orders", "--store", "ok.csv"], r"data file"),
    "history store bad ipv6": (
        lambda d: ["history", "orders", "--store", f"postgresql://u:{SECRET}@[::1/db"],
        r"\*\*\*",
    ),
    "history plot xlsx": (
        lambda d: ["history", "orders", "--store", "none.duckdb", "--plot", "p.xlsx"],
        r"--plot .*unknown format",
    ),
    "history plot under a file": (
        lambda d: ["history", "orders", "--plot", "not_a_folder/p.png"],
        r"is a file",
    ),
    "history bad format": (lambda d: ["history", "orders", "--format", "x"], r"--format"),
    "history no dataset": (lambda d: ["history"], r"Missing argument"),
    # ------------------------------------------------------------------------------- report
    "report missing source": (lambda d: ["report", "nope.csv"], r"does not exist"),
    "report out txt": (lambda d: ["report", "ok.csv", "--out", "r.txt"], r"--out .*\.html"),
    "report out under a file": (
        lambda d: ["report", "ok.csv", "--out", "not_a_folder/r.html"],
        r"is a file",
    ),
    "report out is a folder": (lambda d: ["report", "ok.csv", "--out", "glob"], r"format|folder"),
    "report empty table": (
        lambda d: ["report", "header_only.csv", "--out", "r.html"],
        r"no rows",
    ),
    "report unknown label": (
        lambda d: ["report", "ok.csv", "--label-column", "nope", "--out", "r.html"],
        r"nope",
    ),
    "report store secret": (
        lambda d: [
            "report",
            "ok.csv",
            "--store",
            f"postgresql://u:{SECRET}@[::1/db",
            "--out",
            "r.html",
        ],
        r"\*\*\*",
    ),
    # ---------------------------------------------------------------------------- benchmark
    "benchmark odds missing folder": (
        lambda d: ["benchmark", "odds", "--data", "nowhere"],
        r"ODDS",
    ),
    "benchmark nab missing folder": (lambda d: ["benchmark", "nab", "--data", "nowhere"], r"NAB"),
    "benchmark nab option without value": (
        lambda d: ["benchmark", "nab", "--detector"],
        r"requires an argument",
    ),
    "benchmark unknown subcommand": (lambda d: ["benchmark", "kdd"], r"kdd"),
    # ------------------------------------------------------------------------ stream, demo
    "stream missing options": (lambda d: ["stream", "--topic", "t"], r"Missing option"),
    "stream bad format": (
        lambda d: [
            "stream",
            "--bootstrap-servers",
            "127.0.0.1:1",
            "--topic",
            "t",
            "--group",
            "g",
            "--anomalies-topic",
            "a",
            "--dead-letter-topic",
            "dl",
            "--format",
            "xml",
        ],
        r"--format",
    ),
    "demo out is a file": (lambda d: ["demo", "--out", "ok.csv"], r"ok\.csv"),
    "unknown command": (lambda d: ["detekt", "ok.csv"], r"detekt"),
}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` (hidden ones too) with its size and mtime."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    _fixtures(tmp_path)
    monkeypatch.chdir(tmp_path)
    make_args, pattern = CASES[case]
    before = _snapshot(tmp_path)
    code, stdout, stderr = invoke(*make_args(tmp_path))
    assert_one_line_error(code, stdout, stderr, pattern)
    assert SECRET not in stdout + stderr
    assert _snapshot(tmp_path) == before  # no partial output, no temporary file, no store


def test_the_suite_covers_every_command() -> None:
    from datacanary.cli import app

    covered = {make_args(Path("."))[0] for make_args, _ in CASES.values()}
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    assert commands <= covered, commands - covered
    assert len(CASES) >= 60


def test_a_good_run_still_writes_both_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The all-or-nothing writing still writes: scored rows and plot land, no temp file."""
    _fixtures(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = invoke(
        "detect", "ok.csv", "--output", "out/scored.csv.gz", "--plot", "out/p.png",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(stdout)["output"] == "out/scored.csv.gz"
    assert len(pd.read_csv(tmp_path / "out" / "scored.csv.gz")) == 60
    assert (tmp_path / "out" / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p.png", "scored.csv.gz"]

"""What a source connection may do: read its table, and nothing else (issue 14, items 13-15).

Custom metric SQL is parsed and refused unless it is one read of the source's table; under
that, the engines themselves refuse: PostgreSQL sessions are read-only, DuckDB connections
cannot reach files other than the source's. Messages never show a password. Ragged CSVs and
globs of CSVs with different headers are errors naming the line or the files.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from datacanary.errors import ConfigError, InputError
from datacanary.metrics import profile
from datacanary.sources import read_table, resolve_source
from datacanary.sources._base import mask_secrets

INJECTION = "count(*)) FROM src; DROP TABLE canary2; SELECT (1"


# --------------------------------------------------------------------- PostgreSQL: no writes


@pytest.fixture
def pg_tables(fresh_postgres_url: str) -> str:
    import psycopg

    with psycopg.connect(fresh_postgres_url, autocommit=True) as con:
        con.execute("CREATE TABLE src (id int, amount float8)")
        con.execute("INSERT INTO src SELECT g, g * 1.5 FROM generate_series(1, 50) g")
        con.execute("CREATE TABLE canary2 (id int)")
        con.execute("INSERT INTO canary2 VALUES (1), (2), (3)")
    return fresh_postgres_url


def _canary_rows(url: str) -> int | None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        found = con.execute("SELECT to_regclass('public.canary2')").fetchone()
        if found is None or found[0] is None:
            return None
        row = con.execute("SELECT count(*) FROM canary2").fetchone()
        return None if row is None else int(row[0])


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        (INJECTION, r"3 SQL statements \(SELECT, DROP, SELECT\)"),
        ("(SELECT count(*) FROM canary2)", r"reads the table 'canary2'"),
        ("count(*)) FROM src UNION SELECT (1", r"UNION statement"),
        ("length(pg_read_file('/etc/passwd'))", r"pg_read_file\(\)"),
        ("nextval('s')", r"nextval\(\)"),
        ("SELECT count(*) INTO made_by_metric FROM {table}", r"INTO"),
        ("DELETE FROM canary2", r"DELETE statement"),
    ],
)
def test_custom_sql_that_would_write_or_read_elsewhere_is_refused_on_postgres(
    pg_tables: str, sql: str, refusal: str
) -> None:
    with pytest.raises(ConfigError, match=rf"custom metric 'x' refused: .*{refusal}"):
        profile(f"{pg_tables}::public.src", metrics=["row_count"], custom={"x": sql})
    assert _canary_rows(pg_tables) == 3  # the table survived with its rows


def test_postgres_source_sessions_are_read_only_under_the_parser(pg_tables: str) -> None:
    """Even SQL that never went through the custom-metric check cannot write."""
    with resolve_source(f"{pg_tables}::public.src").connect() as conn:
        for statement in (
            "DROP TABLE canary2",
            "INSERT INTO canary2 VALUES (4)",
            "CREATE TABLE made_here (x int)",
            "SELECT 1; DROP TABLE canary2",
        ):
            with pytest.raises(InputError, match="read-only transaction"):
                conn.fetch(statement)
        assert conn.fetch("SELECT count(*) FROM src") == [(50,)]  # reading still works
    assert _canary_rows(pg_tables) == 3


def test_a_safe_custom_metric_still_runs_on_postgres(pg_tables: str) -> None:
    got = profile(
        f"{pg_tables}::public.src",
        metrics=["row_count"],
        custom={
            "big": "count(*) FILTER (WHERE amount > 30)",
            "dupes": "SELECT count(*) - count(DISTINCT id) FROM {table}",
        },
    )
    assert got.custom == {"big": 30.0, "dupes": 0.0}


# ------------------------------------------------------------ DuckDB: no files but the source


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    pd.DataFrame({"id": range(40), "amount": [float(i) for i in range(40)]}).to_csv(
        path, index=False
    )
    return path


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("(SELECT max(length(content)) FROM read_text('/etc/passwd'))", r"read_text"),
        ("(SELECT count(*) FROM read_csv('/etc/passwd', sep = ':'))", r"read_csv"),
        ("(SELECT count(*) FROM '/etc/passwd')", r"the file '/etc/passwd'"),
        ("COPY (SELECT 1) TO 'leak.csv'", r"COPY statement"),
        ("count(*)); COPY (SELECT 1) TO 'leak.csv'; SELECT (1", r"3 SQL statements"),
        ("(SELECT count(*) FROM glob('/etc/*'))", r"glob"),
    ],
)
def test_custom_sql_reaching_for_files_is_refused_on_file_sources(
    orders_csv: Path, sql: str, refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(orders_csv.parent)
    with pytest.raises(ConfigError, match=rf"custom metric 'x' refused: .*{refusal}"):
        profile(orders_csv, custom={"x": sql})
    assert not (orders_csv.parent / "leak.csv").exists()


def test_duckdb_source_connection_cannot_reach_other_files(orders_csv: Path) -> None:
    """Under the parser: the connection reads its files and nothing else, and stays so."""
    leak = orders_csv.parent / "leak.csv"
    with resolve_source(orders_csv).connect() as conn:
        assert conn.fetch(f"SELECT count(*) FROM {conn.relation}") == [(40,)]
        for statement in (
            "SELECT * FROM read_text('/etc/passwd')",
            f"COPY (SELECT 1) TO '{leak}'",
            "SET enable_external_access = true",
            "SET lock_configuration = false",
        ):
            with pytest.raises(InputError):
                conn.fetch(statement)
    assert not leak.exists()


@pytest.mark.parametrize("kind", ["csv", "gz", "parquet", "jsonl", "glob", "duckdb", "frame"])
def test_sealed_connections_still_read_every_kind_of_source(tmp_path: Path, kind: str) -> None:
    frame = pd.DataFrame({"id": range(30), "amount": [i * 2.0 for i in range(30)]})
    source: object
    if kind == "csv":
        source = tmp_path / "t.csv"
        frame.to_csv(source, index=False)
    elif kind == "gz":
        source = tmp_path / "t.csv.gz"
        frame.to_csv(source, index=False)
    elif kind == "parquet":
        source = tmp_path / "t.parquet"
        frame.to_parquet(source, index=False)
    elif kind == "jsonl":
        source = tmp_path / "t.jsonl"
        frame.to_json(source, orient="records", lines=True)
    elif kind == "glob":
        frame.iloc[:10].to_csv(tmp_path / "a.csv", index=False)
        frame.iloc[10:].to_csv(tmp_path / "b.csv", index=False)
        source = str(tmp_path / "*.csv")
    elif kind == "duckdb":
        with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
            con.register("f", frame)
            con.execute("CREATE TABLE orders AS SELECT * FROM f")
        source = f"duckdb:///{tmp_path / 'wh.duckdb'}::orders"
    else:
        source = frame
    got = profile(source, metrics=["row_count", "mean"], custom={"s": "sum(amount)"})
    assert (got.row_count, got.custom["s"], got.columns["amount"].mean) == (30, 870.0, 29.0)
    assert len(read_table(source)) == 30


# ------------------------------------------------------------------------ secrets in names


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u@h/db?password=SECRETX::t", "postgresql://u@h/db?password=***::t"),
        ("postgresql://u:SECRETX@h/db::t", "postgresql://u:***@h/db::t"),
        ("postgresql://u:SECR/ETX@h/db::t", "postgresql://u:***@h/db::t"),
        ("postgresql://u:SECRETX@[::1/db::t", "postgresql://u:***@[::1/db::t"),
        ("postgres://u@h/db?sslmode=require&password=SECRETX", None),
    ],
)
def test_source_names_never_show_a_password(text: str, shown: str | None) -> None:
    name = resolve_source(text).name if "::" in text else mask_secrets(text)
    assert "SECRETX" not in name and "SECR" not in name
    if shown is not None:
        assert name == shown


def test_connection_errors_never_show_a_password() -> None:
    for url in (
        "postgresql://u@127.0.0.1:1/db?password=SECRETX::t",
        "postgresql://u:SECRETX@[::1/db::t",
    ):
        with pytest.raises(InputError) as caught:
            profile(url)
        assert "SECRETX" not in str(caught.value)
        assert "***" in str(caught.value)


# -------------------------------------------------------------------- ragged and mixed CSVs


def test_ragged_csv_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    rows = "".join(f"{i},{i}.5,DE\n" for i in range(52))
    path.write_text("id,amount,country\n" + rows[:200] + "99,1,DE,extra\n" + rows[200:])
    line = 2 + rows[:200].count("\n")
    with pytest.raises(
        InputError, match=rf"ragged\.csv line {line} has 4 fields, the header has 3"
    ):
        profile(path)
    with pytest.raises(InputError, match=rf"line {line} has 4 fields"):
        read_table(path)


def test_csv_with_a_short_last_line_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("a,b,c\n" + "1,2,3\n" * 20 + "4,5\n")
    with pytest.raises(InputError, match=r"short\.csv line 22 has 2 fields, the header has 3"):
        profile(path)


def test_glob_of_csvs_with_different_columns_names_them(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,amount\n1,2\n")
    (tmp_path / "b.csv").write_text("id,price\n1,2\n")
    with pytest.raises(
        InputError, match=r"different columns: .*a\.csv: id, amount; .*b\.csv: id, price"
    ):
        profile(str(tmp_path / "*.csv"))


def test_glob_of_csvs_with_reordered_columns_and_a_commented_csv_still_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.csv").write_text("id,amount\n1,2\n")
    (tmp_path / "b.csv").write_text("amount,id\n4,3\n")
    assert sorted(read_table(str(tmp_path / "*.csv"))["id"]) == [1, 3]
    commented = tmp_path / "commented.txt"
    commented.write_text("# exported 2026-11-23\nid,amount\n1,2\n3,4\n")
    assert profile(commented).row_count == 2

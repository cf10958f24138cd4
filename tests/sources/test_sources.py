from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from datacanary.errors import (
    ColumnNotFoundError,
    ConfigError,
    InputError,
    SourceNotFoundError,
)
from datacanary.sources import Source, read_table, resolve_source, sample_table


@pytest.fixture
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(1, 6, dtype="int64"),
            "amount": [10.5, 20.0, None, 7.25, 99.0],
            "country": ["DE", "FR", "DE", None, "US"],
            "created_at": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
            ),
        }
    )


def _write_all_formats(frame: pd.DataFrame, folder: Path) -> dict[str, Path]:
    paths = {
        "parquet": folder / "orders.parquet",
        "csv": folder / "orders.csv",
        "csv.gz": folder / "orders.csv.gz",
        "jsonl": folder / "orders.jsonl",
    }
    frame.to_parquet(paths["parquet"])
    frame.to_csv(paths["csv"], index=False)
    with gzip.open(paths["csv.gz"], "wt") as handle:
        frame.to_csv(handle, index=False)
    frame.to_json(paths["jsonl"], orient="records", lines=True, date_format="iso")
    return paths


@pytest.mark.parametrize("fmt", ["parquet", "csv", "csv.gz", "jsonl"])
def test_read_table_reads_each_file_format(tmp_path: Path, orders: pd.DataFrame, fmt: str) -> None:
    path = _write_all_formats(orders, tmp_path)[fmt]
    frame = read_table(path)
    assert list(frame.columns) == ["id", "amount", "country", "created_at"]
    assert frame["id"].tolist() == [1, 2, 3, 4, 5]
    assert frame["amount"].isna().sum() == 1
    assert frame["country"].tolist()[:3] == ["DE", "FR", "DE"]


def test_read_table_columns_and_limit(tmp_path: Path, orders: pd.DataFrame) -> None:
    path = _write_all_formats(orders, tmp_path)["parquet"]
    frame = read_table(str(path), columns=["country", "id"], limit=2)
    assert list(frame.columns) == ["country", "id"]
    assert frame["id"].tolist() == [1, 2]


def test_read_table_glob_reads_every_matching_file(tmp_path: Path, orders: pd.DataFrame) -> None:
    for day in range(3):
        orders.assign(day=day).to_parquet(tmp_path / f"part-{day}.parquet")
    frame = read_table(str(tmp_path / "part-*.parquet"))
    assert len(frame) == 15
    assert sorted(frame["day"].unique()) == [0, 1, 2]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda f: pl.from_pandas(f), id="polars"),
        pytest.param(lambda f: pl.from_pandas(f).lazy(), id="polars-lazy"),
        pytest.param(lambda f: pa.Table.from_pandas(f), id="pyarrow"),
    ],
)
def test_read_table_converts_frames(orders: pd.DataFrame, make: object) -> None:
    frame = read_table(make(orders), columns=["id", "country"])  # type: ignore[operator]
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [1, 2, 3, 4, 5]


def test_read_table_passes_pandas_through(orders: pd.DataFrame) -> None:
    assert read_table(orders) is orders


def test_read_table_from_duckdb_database(tmp_path: Path, orders: pd.DataFrame) -> None:
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA sales")
        con.execute("CREATE TABLE sales.orders AS SELECT * FROM orders")
    frame = read_table(f"duckdb:///{db}::sales.orders", columns=["id"])
    assert frame["id"].tolist() == [1, 2, 3, 4, 5]
    assert len(read_table(f"{db}::sales.orders")) == 5  # shorthand for .duckdb files
    with pytest.raises(
        SourceNotFoundError, match=r"table 'sales.nope' not found in .*sales.orders"
    ):
        read_table(f"duckdb:///{db}::sales.nope")


def test_read_table_from_postgres(fresh_postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(fresh_postgres_url, autocommit=True) as con:
        con.execute(
            "CREATE TABLE orders (id bigint, amount double precision, note text, "
            "paid boolean, created_at timestamptz, day date, price numeric(10,2))"
        )
        con.execute(
            "INSERT INTO orders VALUES (1, 1.5, 'a,\"b\"', true, '2024-01-01 10:00+00', "
            "'2024-01-01', 9.99), (2, NULL, '', false, NULL, NULL, NULL), "
            "(3, 'NaN', NULL, NULL, '2024-01-02 00:00+02', '2024-01-02', 1)"
        )
    frame = read_table(f"{fresh_postgres_url}::public.orders")
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["note"].tolist()[:2] == ['a,"b"', ""]  # empty string is not null
    assert frame["note"].isna().tolist() == [False, False, True]
    assert frame["amount"].isna().tolist() == [False, True, True]  # NaN and NULL
    assert frame["paid"].tolist()[:2] == [True, False]
    assert str(frame["created_at"].dt.tz) == "UTC"
    assert frame["created_at"][2] == pd.Timestamp("2024-01-01 22:00", tz="UTC")
    assert frame["price"].tolist()[0] == pytest.approx(9.99)
    assert read_table(f"{fresh_postgres_url}::orders", columns=["note"], limit=1).shape == (1, 1)


def test_sample_table_is_pushed_down_reproducible_and_counts_rows(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pd.DataFrame({"x": np.arange(50_000)}).to_parquet(path)
    first, total = sample_table(path, 500, seed=7)
    again, _ = sample_table(path, 500, seed=7)
    other, _ = sample_table(path, 500, seed=8)
    assert total == 50_000 and len(first) == 500
    assert first["x"].tolist() == again["x"].tolist()
    assert first["x"].tolist() != other["x"].tolist()
    assert first["x"].is_unique
    assert 15_000 < first["x"].mean() < 35_000  # spread over the table, not its head


def test_sample_table_returns_small_tables_whole(orders: pd.DataFrame) -> None:
    sample, total = sample_table(orders, 100)
    assert total == 5 and sample["id"].tolist() == [1, 2, 3, 4, 5]


def test_sample_table_from_postgres(fresh_postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(fresh_postgres_url, autocommit=True) as con:
        con.execute("CREATE TABLE t AS SELECT g AS x FROM generate_series(1, 20000) g")
    url = f"{fresh_postgres_url}::t"
    first, total = sample_table(url, 300, seed=3)
    again, _ = sample_table(url, 300, seed=3)
    assert total == 20_000 and len(first) == 300
    assert first["x"].tolist() == again["x"].tolist()
    assert first["x"].is_unique


def test_sample_table_rejects_bad_n(orders: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="n must be a positive integer; got 0"):
        sample_table(orders, 0)


# ---------------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match=r"file .*nope.csv does not exist"):
        read_table(tmp_path / "nope.csv")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.csv is empty \(0 bytes\); re-export it"):
        read_table(tmp_path / "empty.csv")


def test_header_only_csv(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("id,amount\n")
    with pytest.raises(InputError, match=r"header\.csv has a header but no rows"):
        read_table(tmp_path / "header.csv")
    with pytest.raises(InputError, match="has a header but no rows"):
        sample_table(tmp_path / "header.csv", 10)


def test_binary_file_named_csv(tmp_path: Path) -> None:
    (tmp_path / "blob.csv").write_bytes(bytes(range(256)) * 40)
    with pytest.raises(InputError, match=r"blob.csv is not a CSV text file \(it contains binary"):
        read_table(tmp_path / "blob.csv")


def test_corrupt_csv_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n" + "1,2\n" * 30_000 + "4,5,6\n")
    with pytest.raises(InputError) as info:
        read_table(tmp_path / "bad.csv")
    message = str(info.value)
    assert "\n" not in message
    assert "bad.csv cannot be parsed as CSV (CSV Error on Line: 30002" in message
    assert "Expected Number of Columns: 2 Found: 3" in message


def test_broken_parquet(tmp_path: Path, orders: pd.DataFrame) -> None:
    good = tmp_path / "good.parquet"
    orders.to_parquet(good)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=r"broken.parquet is not a valid Parquet file .*re-export"):
        read_table(broken)
    text = tmp_path / "text.parquet"
    text.write_text("id,amount\n1,2\n")
    with pytest.raises(InputError, match=r"text\.parquet is not a valid Parquet file"):
        read_table(text)


def test_unsupported_extension(tmp_path: Path) -> None:
    (tmp_path / "orders.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match=r"unsupported file type '.xlsx'; use Parquet, CSV"):
        read_table(tmp_path / "orders.xlsx")


def test_glob_matching_nothing(tmp_path: Path) -> None:
    with pytest.raises(
        SourceNotFoundError, match=r"no files match .*\*.parquet; check the pattern"
    ):
        read_table(str(tmp_path / "*.parquet"))


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "data.parquet"
    folder.mkdir()
    with pytest.raises(InputError, match="is a directory; name the files"):
        resolve_source(folder)


def test_unknown_column_suggests_a_name(orders: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    orders.to_parquet(path)
    with pytest.raises(ColumnNotFoundError, match="did you mean 'amount'"):
        read_table(path, columns=["amout"])


def test_unreachable_postgres_is_one_line_without_password() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://me:s3cret@127.0.0.1:{port}/shop::public.orders"
    with pytest.raises(InputError) as info:
        read_table(url)
    message = str(info.value)
    assert message.startswith(
        f"cannot connect to PostgreSQL at postgresql://me:***@127.0.0.1:{port}"
    )
    assert "s3cret" not in message and "\n" not in message
    assert message.endswith("check the URL, that the server is running, and PGPASSWORD")


def test_missing_postgres_table(fresh_postgres_url: str) -> None:
    with pytest.raises(SourceNotFoundError, match=r"table 'public\.nope' not found"):
        read_table(f"{fresh_postgres_url}::public.nope")


def test_missing_duckdb_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match=r"DuckDB database .*missing\.db does not exist"):
        resolve_source(f"duckdb:///{tmp_path}/missing.db::t")


def test_url_without_table() -> None:
    with pytest.raises(InputError, match="no table named; append '::table'"):
        resolve_source("postgresql://u@h/db")


def test_resolve_source_describes_what_it_understood(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write('{"a": 1}\n')
    src = resolve_source(path)
    assert (src.kind, src.format, src.paths) == ("file", "json", (str(path),))
    assert resolve_source(src) is src
    assert isinstance(resolve_source(pa.table({"a": [1]})), Source)
    with pytest.raises(InputError, match="cannot read a int as a table"):
        resolve_source(3)
    assert read_table(path)["a"].tolist() == [1]


def test_json_array_files_are_read_too(tmp_path: Path) -> None:
    (tmp_path / "rows.json").write_text('[{"a": 1, "b": "x"}, {"a": 2, "b": null}]')
    frame = read_table(tmp_path / "rows.json")
    assert frame["a"].tolist() == [1, 2] and frame["b"].isna().tolist() == [False, True]


def test_frames_are_scanned_in_place(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(10)})
    with resolve_source(frame).connect() as conn:
        assert conn.fetch(f"SELECT sum(a) FROM {conn.relation}") == [(45,)]


def test_pg_password_comes_from_environment(
    fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # trust auth ignores the password, but libpq must accept it from the environment
    monkeypatch.setenv("PGPASSWORD", "from-env")
    import psycopg

    with psycopg.connect(fresh_postgres_url, autocommit=True) as con:
        con.execute("CREATE TABLE t (a int)")
        con.execute("INSERT INTO t VALUES (1)")
    assert read_table(f"{fresh_postgres_url}::t")["a"].tolist() == [1]
    assert os.environ["PGPASSWORD"] == "from-env"

"""Can sqlglot replace the hand-kept per-dialect SQL of metrics/_catalog.py? Measure it.

Every expression the DuckDB dialect writes for a profile is transpiled by sqlglot to
PostgreSQL and Spark SQL and compared with what the hand-kept PostgresDialect/SparkDialect
write; then each transpiled expression is run by DuckDB (the source dialect) and, for Spark,
checked for the semantics that differ (NaN, infinity, epoch of naive timestamps/dates).

    .venv/bin/python bench/sqlglot_catalog.py

Prints one line per metric and expression kind: identical / differs (and how).
"""

from __future__ import annotations

import sqlglot

from datacanary.metrics import get_dialect

CASES = [  # (what, column kind, builder(dialect) -> SQL)
    ("count non-null (float)", "float", lambda d: d.count(d.value(d.quote("x"), "float"))),
    ("approx distinct", "number", lambda d: d.distinct(d.quote("n"), exact=False)),
    ("exact distinct", "number", lambda d: d.distinct(d.quote("n"), exact=True)),
    ("mean over finite", "float", lambda d: d.aggregate("avg", d.value(d.quote("x"), "float"), "float")),  # noqa: E501
    ("stddev over finite", "float", lambda d: d.aggregate("stddev_samp", d.value(d.quote("x"), "float"), "float")),  # noqa: E501
    ("mean of boolean", "boolean", lambda d: d.aggregate("avg", d.quote("b"), "boolean")),
    ("epoch of timestamp", "temporal", lambda d: d.epoch(f"max({d.quote('ts')})", "timestamp")),
    ("epoch of naive timestamp", "temporal", lambda d: d.epoch(f"max({d.quote('ts')})", "timestamp_ntz")),  # noqa: E501
    ("epoch of date", "temporal", lambda d: d.epoch(f"max({d.quote('d')})", "date")),
    ("string length", "text", lambda d: f"avg({d.length(d.quote('s'))})"),
]  # fmt: skip


def main() -> None:
    duck = get_dialect("duckdb")
    rows = []
    for target in ("postgres", "spark"):
        hand = get_dialect(target)
        for what, _kind, build in CASES:
            source_sql = build(duck)
            transpiled = sqlglot.transpile(source_sql, read="duckdb", write=target)[0]
            kept = build(hand)
            norm = sqlglot.transpile(kept, read=target, write=target)[0]
            same = transpiled.replace(" ", "").lower() == norm.replace(" ", "").lower()
            rows.append((target, what, same, transpiled, kept))
    for target, what, same, transpiled, kept in rows:
        mark = "identical" if same else "differs"
        print(f"{target:8} {what:26} {mark:9} sqlglot: {transpiled}")
        if not same:
            print(f"{'':8} {'':26} {'':9} kept:    {kept}")
    same_count = sum(r[2] for r in rows)
    print(f"\n{same_count} of {len(rows)} expressions identical after normalising both")


if __name__ == "__main__":
    main()

"""Render a :class:`~datacanary.report._model.Report` as one self-contained HTML page.

No template engine and no script: the page is HTML and a small inline stylesheet, every
image a ``data:`` URI, so it opens offline, in a mail attachment or a CI artifact viewer.
Every value that comes from the data is escaped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from datacanary import __version__
from datacanary.report._model import (
    ColumnSummary,
    DetectionSection,
    HistorySection,
    Image,
    Overview,
    Report,
)
from datacanary.results import format_number

__all__ = ["render_html"]

_CSS = """
:root { --ink:#1f2933; --muted:#5f6b7a; --line:#e2e6ea; --card:#ffffff; --bg:#f5f7f9;
  --accent:#3b6ea5; --flag:#b10026; --warn-bg:#fff6e0; --warn-line:#f0c36d; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#1f2933; color:#fff; padding:22px 32px 16px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header .meta { color:#c5ced8; font-size:13px; }
nav { position:sticky; top:0; z-index:2; background:#fff; border-bottom:1px solid var(--line);
  padding:8px 32px; font-size:13px; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; }
nav a:hover { text-decoration:underline; }
main { max-width:1240px; margin:0 auto; padding:12px 32px 40px; }
section { margin-top:28px; }
h2 { font-size:18px; margin:0 0 12px; padding-bottom:6px; border-bottom:2px solid var(--line); }
h3 { font-size:15px; margin:0 0 8px; }
p { margin:6px 0; }
.muted { color:var(--muted); }
.note { background:var(--warn-bg); border:1px solid var(--warn-line); border-radius:6px;
  padding:8px 12px; margin:12px 0; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(170px, 1fr)); gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:12px 14px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:20px; font-weight:600; margin-top:2px; overflow-wrap:anywhere; }
.card .sub { color:var(--muted); font-size:12px; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px;
  margin-bottom:14px; }
.colgrid { display:grid; grid-template-columns:repeat(auto-fill, minmax(min(560px, 100%), 1fr));
  gap:14px; }
.colgrid > .panel { margin-bottom:0; }
.split { display:flex; flex-wrap:wrap; gap:18px; align-items:flex-start; }
.split > figure { flex:0 1 auto; }
.split > .side { flex:1 1 150px; min-width:150px; }
figure { margin:0; }
img { max-width:100%; height:auto; display:block; }
.figs { display:flex; flex-wrap:wrap; gap:16px; align-items:flex-start; }
table { border-collapse:collapse; font-size:13px; }
th, td { padding:4px 10px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
th { color:var(--muted); font-weight:600; background:#fafbfc; }
#top-rows td { white-space:nowrap; }
#top-rows td.why { white-space:normal; min-width:320px; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
table.stats th { background:none; width:42%; }
table.stats td, table.stats td.num { overflow-wrap:anywhere; white-space:normal; }
table.wide { width:100%; }
tbody tr:nth-child(even) td { background:#fafbfc; }
.scroll { overflow-x:auto; max-width:100%; }
.badge { display:inline-block; font-size:11px; font-weight:600; padding:1px 7px; border-radius:10px;
  background:#e8eef5; color:var(--accent); margin-left:6px; vertical-align:middle; }
.badge.flag { background:#fbe5e8; color:var(--flag); }
.badge.id { background:#eee; color:#555; }
.flagged { color:var(--flag); font-weight:600; }
ul.runs { margin:4px 0 0; padding-left:18px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:18px; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        offset = value.utcoffset()
        if offset is not None:
            text += " UTC" if not offset else value.strftime(" %z")
        return text
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "isoformat") and not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (int, float)):
        return format_number(value)
    try:
        return format_number(float(value))
    except (TypeError, ValueError):
        return str(value)


_LABEL_NAME = re.compile(
    r"(^|[_\W])(id|ids|key|pk|number|no|nr|code|year|zip)$|[a-z0-9](Id|ID|Key)$", re.IGNORECASE
)


def _cell(value: Any, column: str) -> str:
    """A value of a row: ids and years as written (``2183``), amounts as numbers (``2,183``).

    >>> _cell(2183, "order_id"), _cell(2183, "amount"), _cell(None, "x")
    ('2183', '2,183', '—')
    """
    whole = isinstance(value, (int, float)) and not isinstance(value, bool)
    if whole and math.isfinite(value) and value == int(value) and _LABEL_NAME.search(column):
        return str(int(value))
    return _num(value)


def _metric(name: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{int(value):,}" if name.startswith("n_") else f"{value:.3f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pct(fraction: float | None) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "—"
    if fraction == 0:
        return "0%"
    if fraction < 0.001:
        return "<0.1%"
    return f"{fraction:.1%}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _img(image: Image | None) -> str:
    if image is None:
        return ""
    size = image.size
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return f'<figure><img src="{image.data_uri()}" alt="{_e(image.alt)}"{dims}></figure>'


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: set[int],
    classes: Mapping[int, str] | None = None,
) -> str:
    """A table whose cells are already HTML; ``numeric`` columns align right."""
    extra = classes or {}
    names = [
        " ".join(filter(None, ("num" if i in numeric else "", extra.get(i, ""))))
        for i in range(len(head))
    ]
    cls = [f' class="{n}"' if n else "" for n in names]
    out = ['<div class="scroll"><table class="wide"><thead><tr>']
    out += [f"<th{cls[i]}>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls[i]}>{c}</td>" for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _stats_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f'<tr><th>{_e(k)}</th><td class="num">{v}</td></tr>' for k, v in rows)
    return f'<table class="stats"><tbody>{body}</tbody></table>'


def _card(label: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="card"><div class="label">{_e(label)}</div>'
        f'<div class="value">{value}</div>{sub_html}</div>'
    )


def _overview(report: Report) -> str:
    o: Overview = report.overview
    kinds: dict[str, int] = {}
    for kind in o.types.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    kinds_text = " · ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    ids = ", ".join(_e(c) for c in o.identifier_columns) if o.identifier_columns else "none"
    cards = [
        _card(
            "Rows",
            format_number(o.rows),
            f"plots use a sample of {o.sample_rows:,}" if o.sampled else "",
        ),
        _card("Columns", format_number(o.columns), _e(kinds_text)),
        _card("Missing cells", format_number(o.missing_cells), _pct(o.missing_fraction)),
        _card(
            "Duplicate rows",
            _num(o.duplicate_rows),
            _pct(o.duplicate_rows / o.rows)
            if o.duplicate_rows is not None and o.rows
            else "could not be counted",
        ),
        _card(
            "Memory",
            ("≈ " if o.memory_estimated else "") + _bytes(o.memory_bytes),
            "estimated from the sample" if o.memory_estimated else "as a pandas DataFrame",
        ),
        _card("Identifier-like", ids, "unique per row; left out of detection"),
    ]
    rows = []
    for i, col in enumerate(report.columns):
        stats = col.stats
        badges = ""
        if col.name in o.identifier_columns:
            badges += '<span class="badge id">identifier-like</span>'
        if col.flagged_rows:
            noun = "flagged row" if col.flagged_rows == 1 else "flagged rows"
            badges += (
                f'<span class="badge flag" title="rows the row detector flagged that stand out '
                f'on this column">{col.flagged_rows:,} {noun}</span>'
            )
        rows.append(
            [
                f'<a href="#col-{i}">{_e(col.name)}</a>{badges}',
                _e(col.kind),
                f"<code>{_e(o.dtypes.get(col.name, col.dtype))}</code>",
                _pct(stats.get("null_fraction")),
                ("≈ " if stats.get("distinct_approximate") else "")
                + _num(stats.get("distinct_count")),
            ]
        )
    table = _table(["column", "kind", "type", "missing", "distinct"], rows, numeric={3, 4})
    return (
        '<section id="overview"><h2>Overview</h2>'
        f'<div class="cards">{"".join(cards)}</div>'
        f'<div class="panel" style="margin-top:14px">{table}</div></section>'
    )


_STAT_ORDER = [
    ("rows", "rows"),
    ("null_count", "missing"),
    ("distinct_count", "distinct"),
    ("min", "min"),
    ("max", "max"),
    ("mean", "mean"),
    ("stddev", "std. deviation"),
    ("median", "median"),
    ("zero_fraction", "zeros"),
    ("min_length", "shortest"),
    ("max_length", "longest"),
]


def _column(i: int, col: ColumnSummary, dtype: str, sampled: bool) -> str:
    stats = col.stats
    rows: list[tuple[str, str]] = []
    for key, label in _STAT_ORDER:
        if key not in stats or stats[key] is None:
            continue
        value = stats[key]
        if key == "null_count":
            text = f"{_num(value)} ({_pct(stats.get('null_fraction'))})"
        elif key == "distinct_count" and stats.get("distinct_approximate"):
            text = f'<span title="approximate (HyperLogLog)">≈ {_e(_num(value))}</span>'
        elif key == "zero_fraction":
            text = _pct(float(value))
        else:
            text = _e(_num(value))
        rows.append((label, text))
    if col.flagged_rows is not None:
        cls = "flagged" if col.flagged_rows else ""
        text = f'<a href="#detection" class="{cls}">{col.flagged_rows:,}</a>'
        rows.append(("flagged rows standing out here", text))
    side = _stats_table(rows)
    if col.top_values:
        top = "".join(
            f'<tr><td title="{_e(v)}">{_e(_clip(v, 32))}</td><td class="num">{c:,}</td></tr>'
            for v, c in col.top_values
        )
        side += (
            '<table class="stats" style="margin-top:8px"><thead><tr><th>most frequent</th>'
            f'<th class="num">{"rows in the sample" if sampled else "rows"}</th></tr></thead>'
            f"<tbody>{top}</tbody></table>"
        )
    side += "".join(f'<p class="muted">{_e(n)}</p>' for n in col.notes)
    return (
        f'<div class="panel" id="col-{i}"><h3>{_e(col.name)}<span class="badge">{_e(col.kind)}'
        f'</span> <code class="muted">{_e(dtype)}</code></h3>'
        f'<div class="split">{_img(col.image)}<div class="side">{side}</div></div></div>'
    )


def _detection(d: DetectionSection) -> str:
    parts = ['<section id="detection"><h2>Row-level anomalies</h2><div class="panel">']
    parts.append(
        f"<p>Scored <b>{d.scored_rows:,}</b> rows with <b>{_e(d.method)}</b>: "
        f'<span class="flagged">{d.n_anomalies:,} flagged</span> '
        f"({_pct(d.n_anomalies / d.scored_rows if d.scored_rows else 0)}) above the threshold "
        f"{_e(format_number(d.threshold))}. Higher scores are more anomalous.</p>"
    )
    if d.rule:
        parts.append(f'<p id="rule"><b>Rule:</b> {_e(d.rule)}</p>')
    parts.append(
        '<p class="muted">This page has one notion of an outlier: a <b>flagged row</b>, one '
        "the row detector scored above the threshold, judging all its columns together. Its "
        "explanation names the columns whose values made it stand out; each column above "
        "counts the flagged rows that stand out on it and marks their values in red on its "
        "histogram. A value far out in one column is not flagged on its own when the row as "
        "a whole is ordinary.</p>"
    )
    if d.flagged_by_column:
        ranked = sorted(d.flagged_by_column.items(), key=lambda kv: -kv[1])
        listed = ", ".join(f"<b>{_e(c)}</b> {n:,}" for c, n in ranked[:12])
        parts.append(f"<p>Flagged rows by the column they stand out on: {listed}.</p>")
    features = ", ".join(_e(f) for f in d.features[:40]) + (" …" if len(d.features) > 40 else "")
    parts.append(f'<p class="muted">Features ({len(d.features)}): {features}</p>')
    if d.dropped_columns:
        dropped = "; ".join(f"<b>{_e(c)}</b>: {_e(r)}" for c, r in d.dropped_columns.items())
        parts.append(f'<p class="muted">Left out: {dropped}</p>')
    parts.extend(f'<p class="note">{_e(n)}</p>' for n in d.notes)
    parts.append(f'<div class="figs">{_img(d.top_rows_plot)}{_img(d.score_distribution)}</div>')
    parts.append("</div>")
    if d.evaluation is not None:
        ev = d.evaluation
        names = [
            ("n_true", "labelled anomalies"),
            ("n_flagged", "flagged"),
            ("precision", "precision"),
            ("recall", "recall"),
            ("f1", "F1"),
            ("precision_at_k", "precision@k (k = labelled)"),
            ("roc_auc", "ROC-AUC"),
            ("pr_auc", "PR-AUC"),
        ]
        rows = [(label, _metric(key, ev[key])) for key, label in names if key in ev]
        parts.append(
            '<div class="panel" id="evaluation"><h3>Against the labels in '
            f"<code>{_e(d.label_column)}</code></h3>"
            f'<div class="split"><div class="side" style="flex:0 0 260px">{_stats_table(rows)}'
            f'</div><div class="figs">{_img(d.roc)}{_img(d.pr)}</div></div></div>'
        )
    if d.top_rows:
        with_row = any(row.get("row") is not None for row in d.top_rows)
        head = ["rank", *(["row"] if with_row else []), "anomaly score", "explanation"]
        if d.label_column:
            head.append(_e(d.label_column))
        head += [_e(c) for c in d.top_columns]
        body = []
        for rank, row in enumerate(d.top_rows, start=1):
            cells = [str(rank), *([_e(row.get("row"))] if with_row else [])]
            cells += [
                _e(format_number(row["anomaly_score"])),
                _e(row["explanation"]) or '<span class="muted">—</span>',
            ]
            if d.label_column:
                cells.append(_e(_num(row.get("label"))))
            cells += [_e(_clip(_cell(row["values"].get(c), c), 60)) for c in d.top_columns]
            body.append(cells)
        first_value = len(head) - len(d.top_columns)
        numeric = set(range(head.index("anomaly score") + 1))
        if d.label_column:
            numeric.add(first_value - 1)
        for j, column in enumerate(d.top_columns):
            values = [row["values"].get(column) for row in d.top_rows]
            if all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                for v in values
            ):
                numeric.add(first_value + j)
        why = {head.index("explanation"): "why"}
        parts.append(
            f'<div class="panel" id="top-rows"><h3>The {len(d.top_rows)} most anomalous rows'
            f"</h3>{_table(head, body, numeric=numeric, classes=why)}</div>"
        )
    parts.append("</section>")
    return "".join(parts)


_STATUS_MARK = {
    "anomaly": '<span class="flagged">✗ anomaly</span>',
    "error": '<span class="flagged">✗ error</span>',
    "passed": "✓ passed",
    "insufficient_history": '<span class="muted">… waiting</span>',
}


def _checks(h: HistorySection) -> str:
    if not h.checks:
        return ""
    rows = []
    for run in h.checks:
        when = run.observed_at.strftime("%Y-%m-%d %H:%M") + (" (newest)" if run.latest else "")
        order = {"error": 0, "anomaly": 1, "insufficient_history": 2, "passed": 3}
        for status, text in sorted(run.verdicts, key=lambda v: order.get(v[0], 4)):
            rows.append([_e(when), _STATUS_MARK.get(status, _e(status)), _e(text)])
    table = _table(["run", "status", "what the check said"], rows, numeric=set())
    return (
        '<div class="panel" id="checks"><h3>What the check said</h3>'
        '<p class="muted">Every verdict of the newest run (schema changes and metrics that '
        "cannot be computed included), and the runs before it where something failed; "
        "rebuilt from the store with the monitor's own detectors.</p>"
        f"{table}</div>"
    )


def _history(h: HistorySection) -> str:
    parts = [
        '<section id="history"><h2>Metric history</h2>'
        f'<p class="muted">Dataset <b>{_e(h.dataset)}</b> in <code>{_e(h.store)}</code>; each run '
        f"judged against the runs before it by the <b>{_e(h.detector)}</b> detector.</p>"
    ]
    if h.message:
        parts.append(f'<p class="note">{_e(h.message)}</p>')
    parts.append(_checks(h))
    drawn = [m for m in h.metrics if m.image is not None]
    flat = [m for m in h.metrics if m.image is None]
    if drawn:
        parts.append('<div class="colgrid">')
    for m in drawn:
        noun = "run" if m.runs == 1 else "runs"
        flagged = (
            f'<span class="flagged">{m.flagged} of {m.runs} {noun} flagged</span>'
            if m.flagged
            else f"{m.runs} {noun}, none flagged"
        )
        runs = ""
        if m.flagged_runs:
            items = "".join(f"<li>{_e(r)}</li>" for r in m.flagged_runs)
            runs = f'<ul class="runs">{items}</ul>'
        parts.append(
            f'<div class="panel"><h3>{_e(m.subject)}</h3>{_img(m.image)}'
            f'<p>{flagged}</p><p class="muted">Latest: {_e(m.latest)}</p>{runs}</div>'
        )
    if drawn:
        parts.append("</div>")
    if flat:
        listed = "; ".join(
            f"<b>{_e(m.subject)}</b> {_e(format_number(m.flat_value))} in all {m.runs} runs"
            for m in flat
        )
        parts.append(f'<p id="unchanged">Unchanged and never flagged: {listed}.</p>')
    if h.left_out:
        parts.append(
            '<p class="muted">Stored but no longer measured by the monitor (left out): '
            + ", ".join(_e(x) for x in h.left_out)
            + ".</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The report as one HTML document (UTF-8 text, no external resources)."""
    nav = [("overview", "Overview"), ("columns", "Columns")]
    if report.correlations is not None:
        nav.append(("correlations", "Correlations"))
    if report.trends:
        nav.append(("trends", "Time trends"))
    if report.detection is not None:
        nav.append(("detection", "Row-level anomalies"))
    if report.history is not None:
        nav.append(("history", "Metric history"))
    created = report.created_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # nothing on this page may load from elsewhere: images are data: URIs, styles inline
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(report.title)}</h1>",
        f'<div class="meta">Source <code>{_e(report.source)}</code> · generated {_e(created)} '
        f"by datacanary {_e(__version__)}</div></header>",
        "<nav>" + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in nav) + "</nav><main>",
    ]
    body.extend(f'<p class="note">{_e(n)}</p>' for n in report.notes)
    body.append(_overview(report))
    body.append('<section id="columns"><h2>Columns</h2><div class="colgrid">')
    dtypes = report.overview.dtypes
    sampled = report.overview.sampled
    body.extend(
        _column(i, c, dtypes.get(c.name, c.dtype), sampled) for i, c in enumerate(report.columns)
    )
    body.append("</div></section>")
    if report.correlations is not None:
        body.append(
            '<section id="correlations"><h2>Correlations</h2><div class="panel">'
            '<p class="muted">Pearson correlation between numeric columns.</p>'
            f"{_img(report.correlations)}</div></section>"
        )
    if report.trends:
        what = f" by <code>{_e(report.timestamp_column)}</code>" if report.timestamp_column else ""
        body.append(
            f'<section id="trends"><h2>Time trends</h2><div class="panel">'
            f'<p class="muted">Rows and values over time{what}.</p>'
            f'<div class="figs">{"".join(_img(t) for t in report.trends)}</div></div></section>'
        )
    if report.detection is not None:
        body.append(_detection(report.detection))
    if report.history is not None:
        body.append(_history(report.history))
    body.append(
        f"</main><footer>datacanary {_e(__version__)} · higher anomaly scores are more "
        "anomalous</footer></body></html>"
    )
    return "\n".join(body)

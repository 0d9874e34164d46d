#!/usr/bin/env python3
"""Draws the figures of benches/scale.csv against ledger size, as one SVG.

    python3 benches/plot_scale.py            # writes scale.svg beside BENCHMARKS.md

Standard library only. Every row of the CSV is one figure of one run recorded in
BENCHMARKS.md: `metric`, `series` (which run), `entries` (ledger size when it was taken),
`value`, and `source` (the section of BENCHMARKS.md it comes from). One panel per metric,
the ledger size on a logarithmic axis, one line per series.
"""

import csv
import math
import os
import sys
from collections import OrderedDict
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# metric -> (panel title, unit on the y axis, what a reader should expect of it)
METRICS = OrderedDict(
    [
        ("ingest_ratio", ("Ingest of the lifecycle mix", "× single-core verify rate", "flat is the goal")),
        ("rss_mb", ("Resident memory of the service", "MB", "bounded is the goal")),
        ("verify_s_per_million", ("hwledger verify --db", "s per million entries", "flat is the goal")),
        ("db_mb_per_million", ("Database size", "MB per million entries", "flat expected")),
        ("stats_p99_ms", ("GET /v1/stats/disposal, 8 clients", "p99 ms", "target ≤ 50 ms")),
        ("manifest_p99_ms", ("GET /v1/manifests/{id}, 8 clients", "p99 ms", "target ≤ 10 ms")),
        ("start_s", ("hwledger serve from its snapshot", "s until /healthz answers", "target ≤ 5 s")),
        ("start_rss_mb", ("The service after a start from its snapshot", "MB resident", "target ≤ 512 MiB")),
    ]
)

COLOURS = ["#1f5aa6", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#555555"]
PANEL_W, PANEL_H = 440, 260
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 70, 20, 46, 44
COLS = 2


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["metric"] and not r["metric"].startswith("#")]
    for r in rows:
        r["entries"] = float(r["entries"])
        r["value"] = float(r["value"])
        if r["metric"] not in METRICS:
            sys.exit(f"unknown metric {r['metric']!r} in {path}")
    return rows


def nice_max(v):
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def fmt_entries(x):
    if x >= 1e6:
        return f"{x / 1e6:g} M"
    if x >= 1e3:
        return f"{x / 1e3:g} k"
    return f"{x:g}"


def fmt_value(v):
    if v == 0:
        return "0"
    if abs(v) < 1:
        return f"{v:.3g}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"


def panel(out, x0, y0, metric, rows, series_colour, xmin, xmax):
    title, unit, expect = METRICS[metric]
    mine = [r for r in rows if r["metric"] == metric]
    ymax = nice_max(max(r["value"] for r in mine) * 1.05)
    pw = PANEL_W - MARGIN_L - MARGIN_R
    ph = PANEL_H - MARGIN_T - MARGIN_B
    lx0, lx1 = math.log10(xmin), math.log10(xmax)

    def sx(x):
        return x0 + MARGIN_L + (math.log10(x) - lx0) / (lx1 - lx0) * pw

    def sy(y):
        return y0 + MARGIN_T + ph - y / ymax * ph

    out.append(
        f'<text x="{x0 + MARGIN_L}" y="{y0 + 18}" font-size="14" font-weight="bold">{escape(title)}</text>'
    )
    out.append(
        f'<text x="{x0 + MARGIN_L}" y="{y0 + 34}" font-size="11" fill="#555">{escape(unit)}; {escape(expect)}</text>'
    )
    out.append(
        f'<rect x="{x0 + MARGIN_L}" y="{y0 + MARGIN_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>'
    )
    for i in range(5):
        y = ymax * i / 4
        py = sy(y)
        out.append(
            f'<line x1="{x0 + MARGIN_L}" y1="{py:.1f}" x2="{x0 + MARGIN_L + pw}" y2="{py:.1f}" stroke="#eee"/>'
        )
        out.append(
            f'<text x="{x0 + MARGIN_L - 6}" y="{py + 4:.1f}" font-size="10" text-anchor="end">{fmt_value(y)}</text>'
        )
    decade = 10 ** math.floor(math.log10(xmin))
    while decade <= xmax:
        for m in (1, 2, 5):
            x = decade * m
            if xmin <= x <= xmax:
                px = sx(x)
                out.append(
                    f'<line x1="{px:.1f}" y1="{y0 + MARGIN_T}" x2="{px:.1f}" y2="{y0 + MARGIN_T + ph}" stroke="#eee"/>'
                )
                out.append(
                    f'<text x="{px:.1f}" y="{y0 + MARGIN_T + ph + 14}" font-size="10" text-anchor="middle">{fmt_entries(x)}</text>'
                )
        decade *= 10
    out.append(
        f'<text x="{x0 + MARGIN_L + pw / 2}" y="{y0 + PANEL_H - 6}" font-size="10" text-anchor="middle" fill="#555">ledger entries (log scale)</text>'
    )
    by_series = OrderedDict()
    for r in mine:
        by_series.setdefault(r["series"], []).append(r)
    for name, pts in by_series.items():
        pts.sort(key=lambda r: r["entries"])
        colour = series_colour[name]
        if len(pts) > 1:
            path = " ".join(f"{sx(p['entries']):.1f},{sy(p['value']):.1f}" for p in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in pts:
            out.append(
                f'<circle cx="{sx(p["entries"]):.1f}" cy="{sy(p["value"]):.1f}" r="3.5" fill="{colour}">'
                f'<title>{escape(name)}: {fmt_value(p["value"])} at {fmt_entries(p["entries"])} entries ({escape(p["source"])})</title></circle>'
            )


def main():
    src = os.path.join(HERE, "scale.csv")
    dst = os.path.join(ROOT, "scale.svg")
    rows = read_rows(src)
    metrics = [m for m in METRICS if any(r["metric"] == m for r in rows)]
    series = list(OrderedDict.fromkeys(r["series"] for r in rows))
    series_colour = {s: COLOURS[i % len(COLOURS)] for i, s in enumerate(series)}
    xmin = 10 ** math.floor(math.log10(min(r["entries"] for r in rows)))
    xmax = 10 ** math.ceil(math.log10(max(r["entries"] for r in rows)))
    n_rows = math.ceil(len(metrics) / COLS)
    legend_h = 22 * len(series) + 16
    width = COLS * PANEL_W
    height = n_rows * PANEL_H + legend_h + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="12" y="20" font-size="15" font-weight="bold">hwledger figures against ledger size (from BENCHMARKS.md; data in benches/scale.csv)</text>',
    ]
    for i, m in enumerate(metrics):
        panel(out, (i % COLS) * PANEL_W, 30 + (i // COLS) * PANEL_H, m, rows, series_colour, xmin, xmax)
    ly = 30 + n_rows * PANEL_H + 8
    for i, s in enumerate(series):
        y = ly + 22 * i
        out.append(f'<line x1="20" y1="{y + 6}" x2="44" y2="{y + 6}" stroke="{series_colour[s]}" stroke-width="3"/>')
        out.append(f'<text x="52" y="{y + 10}" font-size="12">{escape(s)}</text>')
    out.append("</svg>")
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {os.path.relpath(dst)}: {len(metrics)} panels, {len(series)} series, {len(rows)} figures")


if __name__ == "__main__":
    main()

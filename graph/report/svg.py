"""Geometry for the report's inline SVG pictures: the ring's graph and its order timeline.

Functions here return plain numbers and labels; the templates turn them
into SVG markup, so every label from the data goes through Jinja's escaping.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from graph.layout import spring_layout

__all__ = ["ENTITY_COLOURS", "graph_picture", "timeline_picture"]

ENTITY_COLOURS: dict[str, str] = {
    "buyer": "#4e79a7",
    "seller": "#e15759",
    "address": "#59a14f",
    "device": "#f28e2b",
    "ip": "#76b7b2",
    "ipnet": "#76b7b2",
    "phone": "#b5a000",
    "payment": "#b07aa1",
    "waybill": "#9c755f",
}
_RADIUS = {"buyer": 6.0, "seller": 11.0}
_LABEL_ALL_UNDER = 40  # nodes; above this only sellers and identifiers carry a label


def _short(text: str, n: int = 18) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def graph_picture(
    nodes: Sequence[dict[str, Any]],
    edges: Sequence[tuple[str, str, str, int]],
    *,
    width: int = 760,
    height: int = 460,
    seed: int = 0,
) -> dict[str, Any]:
    """Lay out a small graph for drawing.

    Parameters
    ----------
    nodes : sequence of dict
        ``id``, ``entity`` and ``label`` (already masked) of each node.
    edges : sequence of (source, target, rel, n_orders)
        Edges between node ids.
    width, height : int
        Canvas size in SVG units.
    seed : int
        Seed of the spring layout (same input, same picture).

    Returns
    -------
    dict
        ``width``, ``height``, ``nodes`` (x, y, r, fill, label, title, show_label),
        ``edges`` (x1, y1, x2, y2, width, rel), ``legend`` (entity, fill).
    """
    if not nodes:
        return {"width": width, "height": height, "nodes": [], "edges": [], "legend": []}
    index = {n["id"]: i for i, n in enumerate(nodes)}
    source = np.array([index[s] for s, _t, _rel, _n in edges], dtype=np.int64)
    target = np.array([index[t] for _s, t, _rel, _n in edges], dtype=np.int64)
    x, y = spring_layout(len(nodes), source, target, seed=seed)
    pos = {n["id"]: (float(x[i]), float(y[i])) for i, n in enumerate(nodes)}
    xs, ys = x.tolist(), y.tolist()
    margin = 40.0

    def scale(value: float, low: float, high: float, size: int) -> float:
        if high - low < 1e-9:
            return size / 2
        return round(margin + (value - low) / (high - low) * (size - 2 * margin), 1)

    (x_low, x_high), (y_low, y_high) = (min(xs), max(xs)), (min(ys), max(ys))
    at = {
        nid: (scale(x, x_low, x_high, width), scale(y, y_low, y_high, height)) for nid, (x, y) in pos.items()
    }
    label_all = len(nodes) <= _LABEL_ALL_UNDER
    drawn_nodes = [
        {
            "x": at[n["id"]][0],
            "y": at[n["id"]][1],
            "r": _RADIUS.get(n["entity"], 8.0),
            "fill": ENTITY_COLOURS.get(n["entity"], "#888888"),
            "entity": n["entity"],
            "label": _short(n["label"]),
            "title": f"{n['entity']}: {n['label']}",
            "show_label": label_all or n["entity"] != "buyer",
            # Labels of nodes near the right edge go to their left, inside the picture.
            "anchor": "end" if at[n["id"]][0] > width - 130 else "start",
        }
        for n in nodes
    ]
    drawn_edges = [
        {
            "x1": at[s][0],
            "y1": at[s][1],
            "x2": at[t][0],
            "y2": at[t][1],
            "rel": rel,
            "width": round(min(1.0 + math.log1p(max(n_orders, 1)) * 0.6, 5.0), 2),
        }
        for s, t, rel, n_orders in edges
    ]
    present = sorted(
        {n["entity"] for n in nodes}, key=lambda e: list(ENTITY_COLOURS).index(e) if e in ENTITY_COLOURS else 99
    )
    legend = [{"entity": e, "fill": ENTITY_COLOURS.get(e, "#888888")} for e in present]
    return {"width": width, "height": height, "nodes": drawn_nodes, "edges": drawn_edges, "legend": legend}


# Bin widths to try for the timeline, smallest first, and how to label a bin.
_BINS: tuple[tuple[timedelta, str, str], ...] = (
    (timedelta(hours=1), "hour", "%m-%d %H:00"),
    (timedelta(hours=6), "6 hours", "%m-%d %H:00"),
    (timedelta(days=1), "day", "%Y-%m-%d"),
    (timedelta(days=7), "week", "%Y-%m-%d"),
    (timedelta(days=30), "30 days", "%Y-%m-%d"),
)
_MAX_BINS = 150
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timeline_picture(
    times: Sequence[datetime], *, highlight: Sequence[bool] | None = None, width: int = 760, height: int = 180
) -> dict[str, Any] | None:
    """A histogram of order times: bars per hour, day, week ... whichever gives at most 150 bars.

    Parameters
    ----------
    times : sequence of datetime
        Order times (timezone-aware).
    highlight : sequence of bool, optional
        Per time, whether it belongs to the highlighted part of each bar (orders with target sellers).

    Returns
    -------
    dict or None
        ``width``, ``height``, ``bars`` (x, y, w, h, count, hy, hh, highlighted, label), ``unit``,
        ``peak``, ``axis`` (x, text) and the plot box; None when there are no times.
    """
    if not times:
        return None
    first, last = min(times), max(times)
    step, unit, fmt = _BINS[-1]
    for candidate in _BINS:
        if (last - first) / candidate[0] < _MAX_BINS:
            step, unit, fmt = candidate
            break
    start_bin = (first - _EPOCH) // step
    bins = [(t - _EPOCH) // step - start_bin for t in times]
    counts = Counter(bins)
    marked = Counter(b for b, h in zip(bins, highlight or [False] * len(bins), strict=True) if h)
    n_bins = max(counts) + 1
    left, right, top, bottom = 44.0, 12.0, 12.0, 28.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts.values())
    bar_w = plot_w / n_bins
    bars = []
    for i, count in sorted(counts.items()):
        h = count / peak * plot_h
        hh = marked[i] / peak * plot_h  # the highlighted part sits at the bottom of the bar
        start = _EPOCH + step * (start_bin + i)
        bars.append(
            {
                "x": round(left + i * bar_w, 2),
                "y": round(top + plot_h - h, 2),
                "w": round(max(bar_w * 0.85, 0.8), 2),
                "h": round(h, 2),
                "hy": round(top + plot_h - hh, 2),
                "hh": round(hh, 2),
                "count": count,
                "highlighted": marked[i],
                "label": start.strftime(fmt),
            }
        )
    axis = [{"x": left, "text": (_EPOCH + step * start_bin).strftime(fmt), "anchor": "start"}]
    if n_bins > 1:
        axis.append(
            {"x": left + plot_w, "text": (_EPOCH + step * (start_bin + n_bins - 1)).strftime(fmt), "anchor": "end"}
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "top": top,
        "plot_w": plot_w,
        "plot_h": plot_h,
        "baseline": top + plot_h,
        "bars": bars,
        "unit": unit,
        "peak": peak,
        "axis": axis,
    }

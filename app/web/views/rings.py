"""Rings: every ring of the latest run, filtered and sorted; pick one to open it."""

import datetime as dt

import pandas as pd
import streamlit as st

from app.web import data, ui

uri = data.store_uri()
run = ui.current_run(uri)
rings = data.ring_table(uri, run)
ui.header("Rings", f"Run {run['run_id']} · {len(rings)} rings · click a column header to sort, a row to open the ring")

row1 = st.columns([2, 2, 2, 2])
types = row1[0].multiselect("Type", sorted(rings["ring_type"].unique()), format_func=lambda t: ui.TYPE_NAMES.get(t, t))
changes = row1[1].multiselect("Change", ["new", "grown", "unchanged", "shrunk"])
labels = row1[2].multiselect("Label", list(ui.LABELS), format_func=lambda v: ui.LABELS[v])
seller = row1[3].text_input("Target seller contains", placeholder="seller id")
row2 = st.columns([2, 2, 4])
min_score = row2[0].slider("Minimum score", 0.0, 1.0, 0.0, 0.05)
min_size = row2[1].number_input("Minimum size (buyers + sellers)", min_value=0, value=0, step=1)
first = rings["first_order_at"].min()
last = rings["last_order_at"].max()
lo_default = first.date() if pd.notna(first) else dt.date.today()
hi_default = last.date() if pd.notna(last) else dt.date.today()
period = row2[2].date_input("Active between", value=(lo_default, hi_default))

shown = data.filter_rings(
    rings,
    types=types,
    changes=changes,
    labels=labels,
    seller=seller,
    min_score=min_score,
    min_size=min_size,
    period=period if isinstance(period, tuple) and len(period) == 2 else None,
)
st.caption(f"{len(shown)} of {len(rings)} rings")
ui.rings_table(
    shown,
    key="rings_table",
    columns=[
        "ring_id",
        "ring_type",
        "score",
        "size",
        "n_buyers",
        "n_orders",
        "target_seller_ids",
        "change",
        "label",
        "first_order_at",
        "last_order_at",
        "top_signals",
    ],
    max_height=560,
)

"""Overview: what the latest run found, what changed, and what still waits for a decision."""

import altair as alt
import pandas as pd
import streamlit as st

from app.web import data, ui

uri = data.store_uri()
run = ui.current_run(uri)
rings = data.ring_table(uri, run)
ui.header("Overview", "What the latest run found, what changed since the run before, and what waits for a decision.")

waiting = rings[rings["label"].isin(["undecided", "needs_review", "reopened"])]
cols = st.columns(5)
cols[0].metric("Rings", len(rings))
cols[1].metric("Brushing", int((rings["ring_type"] == "brushing").sum()))
cols[2].metric("Malicious buyers", int((rings["ring_type"] == "malicious_buyers").sum()))
cols[3].metric("New or grown", int(rings["change"].isin(["new", "grown"]).sum()))
cols[4].metric("Waiting for a decision", len(waiting))

left, right = st.columns(2)
with left:
    st.subheader("Rings by type and change since the last run")
    by_change = rings.assign(ring_type=rings["ring_type"].map(ui.TYPE_NAMES).fillna(rings["ring_type"]))
    by_change = by_change.groupby(["ring_type", "change"], as_index=False).size()
    st.altair_chart(
        alt.Chart(by_change)
        .mark_bar()
        .encode(
            x=alt.X("size:Q", title="rings"),
            y=alt.Y("ring_type:N", title=None),
            color=alt.Color(
                "change:N",
                scale=alt.Scale(domain=["new", "grown", "unchanged", "shrunk"], range=["#D55E00", "#E69F00", "#999999", "#56B4E9"]),
            ),
            tooltip=["ring_type", "change", "size"],
        )
        .properties(height=220),
        width="stretch",
    )
with right:
    st.subheader("Score distribution")
    st.altair_chart(
        alt.Chart(rings.assign(ring_type=rings["ring_type"].map(ui.TYPE_NAMES).fillna(rings["ring_type"])))
        .mark_bar()
        .encode(
            x=alt.X("score:Q", bin=alt.Bin(extent=[0, 1], step=0.05), title="score"),
            y=alt.Y("count():Q", title="rings"),
            color=alt.Color("ring_type:N", title="type"),
        )
        .properties(height=220),
        width="stretch",
    )

st.subheader("Waiting for a decision")
if waiting.empty:
    st.success("Every ring of this run has a decision.")
else:
    st.caption("Undecided, needs review, or dismissed before but grown since. Highest score first; pick one to open it.")
    ui.rings_table(
        waiting,
        key="waiting_table",
        columns=["ring_id", "ring_type", "score", "n_buyers", "n_orders", "target_seller_ids", "change", "label"],
        max_height=320,
    )

st.subheader("Run history")
history = []
for i, past in enumerate(data.runs(uri)[:20]):
    counts = data.run_ring_counts(uri, str(past["run_id"]))
    first, last = data.data_range(uri, str(past["run_id"]), newest=i == 0)
    history.append(
        {
            "run": str(past["run_id"]),
            "finished": pd.to_datetime(past.get("finished_at"), utc=True, errors="coerce"),
            "data from": first,
            "data to": last,
            "orders": past.get("n_orders"),
            "rings": counts["rings"],
            "brushing": counts.get("type:brushing", 0),
            "malicious buyers": counts.get("type:malicious_buyers", 0),
            "new": counts.get("change:new", 0),
            "grown": counts.get("change:grown", 0),
        }
    )
st.dataframe(
    pd.DataFrame(history),
    hide_index=True,
    width="stretch",
    column_config={
        "finished": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "data from": st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
        "data to": st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
    },
)

"""Search: any buyer, seller, device, address, phone, IP or payment account -> its rings and neighbourhood."""

import streamlit as st

from app.web import data, graph_view, ui

uri = data.store_uri()
run = ui.current_run(uri)
run_id = str(run["run_id"])
ui.header("Search", "Type what you have: ids, an address as written, a phone number (masked is fine), an IP.")

left, right = st.columns([4, 1])
if "search_q" not in st.session_state:
    st.session_state["search_q"] = st.query_params.get("q", "")  # a shared link carries the query
query = left.text_input("Search", key="search_q", placeholder="e.g. b123, 上海市浦东新区…, 138****5678, 10.0.0.7")
kind = right.selectbox("Kind", data.SEARCH_KINDS, format_func=lambda k: "any kind" if k == "any" else k)
if query.strip():
    st.query_params["q"] = query.strip()
else:
    st.query_params.pop("q", None)
    st.stop()

hits = data.lookup(uri, query.strip(), kind).hits
if hits.empty:
    st.warning("Nothing in the store matches. Check the kind, or try the id as it appears in the export.")
    st.stop()

st.caption(f"{len(hits)} match(es); pick one")
event = st.dataframe(
    hits[["kind", "display", "key", "n_buyers", "degree"]],
    key="search_hits",
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "display": st.column_config.TextColumn("As written", width="large"),
        "key": st.column_config.TextColumn("Stored key"),
        "n_buyers": st.column_config.NumberColumn("Buyers using it"),
        "degree": st.column_config.NumberColumn("Links"),
    },
)
rows = event.selection.rows
node_id = str(hits["node_id"].iloc[rows[0] if rows else 0])

st.subheader("Rings")
found = data.rings_of(uri, run_id, node_id)
if found.empty:
    st.text("In no ring of the latest run.")
else:
    found = found.merge(data.ring_table(uri, run)[["ring_id", "label"]], on="ring_id", how="left")
    ui.rings_table(
        found,
        key="search_rings",
        columns=["ring_id", "via", "ring_type", "score", "n_buyers", "target_seller_ids", "change", "label"],
    )

st.subheader("Neighbourhood")
picture = data.search_graph(uri, node_id)
st.echarts_chart(graph_view.echarts_spec(picture), height=460, alt="Neighbourhood of the search result")
if picture.truncated:
    st.caption("Only the 300 strongest links are drawn.")
st.dataframe(picture.edges, hide_index=True, width="stretch", height=240)

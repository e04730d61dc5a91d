"""Ring: the case file of one ring: graph, why it was flagged, evidence, members, decision."""

import streamlit as st

from app.web import auth, data, graph_view, panels, ui

uri = data.store_uri()
run = ui.current_run(uri)
run_id = str(run["run_id"])
access = auth.current()
rings = data.ring_table(uri, run)
ui.header("Ring case file")
if rings.empty:
    st.info("The latest run found no rings.")
    st.stop()

ids = rings["ring_id"].tolist()
wanted = st.query_params.get("ring") or st.session_state.get("ring_id") or ids[0]
if wanted not in ids:
    st.warning("That ring is not in the latest run (it may have dissolved); showing the top ring instead.")
    wanted = ids[0]
if st.session_state.get("ring_pick") != wanted:
    st.session_state["ring_pick"] = wanted  # the URL decides which ring is open


def _picked() -> None:
    st.query_params["ring"] = st.session_state["ring_pick"]
    st.session_state["ring_id"] = st.session_state["ring_pick"]


by_id = rings.set_index("ring_id")
names = {
    r: f"{r} · {ui.TYPE_NAMES.get(t, '')} · score {score:.2f}"
    for r, t, score in zip(ids, rings["ring_type"], rings["score"], strict=True)
}
st.selectbox("Ring", ids, key="ring_pick", on_change=_picked, format_func=names.__getitem__)
ring_id = wanted
st.query_params["ring"] = ring_id
ring = by_id.loc[ring_id]

status, *numbers = st.columns([3, 1, 1, 1, 1])
with status.container(horizontal=True):
    st.badge(ui.TYPE_NAMES.get(ring["ring_type"], "other"), color="red" if ring["ring_type"] == "malicious_buyers" else "orange")
    st.badge(ring["change"] if ring["change"] in ui.CHANGES else "change unknown", color="gray")
    st.badge(ui.LABELS.get(ring["label"], "–"), color=ui.LABEL_COLOURS.get(ring["label"], "gray"))
numbers[0].metric("Score", f"{ring['score']:.2f}")
numbers[1].metric("Buyers", int(ring["n_buyers"]))
numbers[2].metric("Sellers", int(ring["n_sellers"]))
numbers[3].metric("Orders", int(ring["n_orders"]))
if isinstance(ring["summary"], str) and ring["summary"]:
    st.text(ring["summary"])
st.text(
    f"Active {ui.fmt_time(ring['first_order_at'])} → {ui.fmt_time(ring['last_order_at'])}"
    f"   ·   target sellers: {ring['target_seller_ids'] or '–'}"
)

st.subheader("Why it was flagged")
panels.why_flagged(data.ring_evidence(uri, run_id, ring_id))

members = data.ring_members(uri, run_id, ring_id)
n_buyers = int((members["entity_type"] == "buyer").sum())
left, right = st.columns([3, 2])
with left:
    st.subheader("Graph")
    pages = data.graph_pages(n_buyers)
    page = 0
    if pages > 1:
        page = st.selectbox(
            "Buyers shown",
            range(pages),
            format_func=lambda p: f"{p * graph_view.MAX_GRAPH_BUYERS + 1}–{min((p + 1) * graph_view.MAX_GRAPH_BUYERS, n_buyers)} "
            f"of {n_buyers} (highest member score first)",
        )
    expanded = st.session_state.setdefault("expanded", {}).get(ring_id, [])
    graph = data.ring_graph(uri, run_id, ring_id, page, tuple(expanded))
    event = st.echarts_chart(
        data.ring_graph_spec(uri, run_id, ring_id, page, tuple(expanded)),
        key=f"graph_{ring_id}_{page}",
        on_select="rerun",
        height=560,
        alt=f"Graph of ring {ring_id}: buyers, sellers and the identifiers they share",
    )
    note = (
        f"{len(graph.nodes)} nodes. Red border: shared by several ring buyers. Grey: outside the ring (expanded). "
        "Click a node for details; scroll to zoom, drag to pan."
    )
    if graph.hidden_identifiers:
        note += f" {graph.hidden_identifiers} identifiers used by a single buyer are not drawn."
    st.caption(note)
with right:
    st.subheader("Selected node")
    node_id = graph_view.selected_node(event, graph.nodes)
    if node_id is None:
        st.caption("Click a node in the graph.")
    else:
        panels.node_details(graph, node_id, data.store_buyers(uri, node_id))
        if node_id not in expanded and st.button("Expand its neighbours", icon=":material/open_in_full:"):
            st.session_state["expanded"][ring_id] = [*expanded, node_id]
            st.rerun()

st.subheader("Evidence")
orders = data.ring_orders(uri, run_id, ring_id)
# Lazy tabs: only the open panel runs and renders (a ring page stays quick however much evidence it has).
tabs = st.tabs(
    ["Order timeline", "Amount vs price", "Ratings and reviews", "Refunds", "Waybills", "Account ages", "Members"],
    key="evidence_tab",
    on_change="rerun",
)
if tabs[0].open:
    with tabs[0]:
        bins, busiest = data.ring_timeline(uri, run_id, ring_id)
        panels.timeline(orders, bins, busiest)
if tabs[1].open:
    with tabs[1]:
        panels.amounts(orders)
if tabs[2].open:
    with tabs[2]:
        panels.reviews(orders)
if tabs[3].open:
    with tabs[3]:
        panels.refunds(orders)
if tabs[4].open:
    with tabs[4]:
        panels.waybills(orders)
if tabs[5].open:
    with tabs[5]:
        panels.accounts(data.ring_accounts(uri, run_id, ring_id))
if tabs[6].open:
    with tabs[6]:
        panels.members(members, orders, data.ring_accounts(uri, run_id, ring_id))

st.subheader("Decision")
left, right = st.columns([2, 3])
with left:
    if access is None or not access.can_decide:
        st.info("Read-only access: you can review this ring but not record decisions.")
    else:
        with st.form("decision", clear_on_submit=True):
            choice = st.radio("Decision", list(data.DECISIONS), format_func=data.DECISIONS.get, horizontal=True)
            note = st.text_area("Note", placeholder="What convinced you (kept with the decision)")
            analyst = st.text_input("Analyst", value=access.name, placeholder="your name")
            if st.form_submit_button("Record decision", type="primary"):
                if not analyst.strip():
                    st.error("Enter your name: every decision says who made it.")
                else:
                    data.record_decision(uri, ring_id, choice, analyst, note)
                    st.toast("Decision recorded.")
                    st.rerun()
with right:
    st.caption("History")
    panels.decision_history(data.decision_history(uri, ring_id))

st.subheader("Download")
files = data.ring_export(uri, run_id, ring_id)
reports = data.report_formats()
cols = st.columns(len(files) + len(reports))
for col, fmt in zip(cols, reports, strict=False):
    col.download_button(
        f"Report ({fmt.upper()})",
        data.report_builder(uri, run_id, ring_id, fmt),
        file_name=f"{ring_id}.{fmt}",
        mime="text/html" if fmt == "html" else "application/pdf",
        icon=":material/description:",
        type="primary" if fmt == "html" else "secondary",
        on_click="ignore",  # a download changes nothing on the page; a rerun would only re-render it
    )
for col, (name, build) in zip(cols[len(reports) :], files.items(), strict=True):
    col.download_button(
        name,
        build,  # written on the click, like the reports
        file_name=f"{ring_id}_{name}",
        mime="application/json" if name.endswith(".json") else "text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
if reports:
    st.caption("Reports mask personal data (names, phones, addresses) as the export does.")

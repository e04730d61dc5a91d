"""The Ring page's panels: each takes loaded frames and renders one part of the case file.

Data-derived text only reaches the screen through ``st.text``,
``st.dataframe`` and chart specs (see :mod:`app.web.ui`).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app.web import evidence
from app.web.graph_view import ENTITY_STYLE, RingGraph

__all__ = [
    "why_flagged",
    "node_details",
    "timeline",
    "amounts",
    "reviews",
    "refunds",
    "waybills",
    "accounts",
    "members",
    "decision_history",
]

WIDELY_SHARED = 50  # an identifier more buyers than this use (a parcel station, carrier NAT) proves little


def why_flagged(signals: pd.DataFrame, *, top: int = 6) -> None:
    """The heaviest signals, in plain words with their numbers."""
    if signals.empty:
        st.info("This ring carries no evidence rows.")
        return
    view = signals.head(top)[["explanation", "value", "strength", "weight", "signal"]]
    st.dataframe(
        view,
        hide_index=True,
        width="stretch",
        column_config={
            "explanation": st.column_config.TextColumn("Why", width="large"),
            "signal": st.column_config.TextColumn("Signal", width="small"),
            "value": st.column_config.NumberColumn("Value", format="%.3g"),
            "strength": st.column_config.ProgressColumn("Unusual", min_value=0.0, max_value=1.0, format="%.2f"),
            "weight": st.column_config.ProgressColumn("Share of score", min_value=0.0, max_value=1.0, format="%.2f"),
        },
    )
    if len(signals) > top:
        with st.expander(f"All {len(signals)} signals"):
            st.dataframe(signals.drop(columns="ring_id"), hide_index=True, width="stretch")


def node_details(graph: RingGraph, node_id: str, store_buyers: int | None = None) -> None:
    """What the analyst clicked: its identity, how widely it is shared, and its links in the picture.

    ``store_buyers`` (buyers in the whole store using the identifier) fills in
    a picture that left it unknown.
    """
    row = graph.nodes.set_index("node_id").loc[node_id].copy()
    if store_buyers is not None and pd.isna(row["n_buyers"]):
        row["n_buyers"] = store_buyers
    kind = ENTITY_STYLE.get(row["entity"], (row["entity"],))[0]
    st.caption(kind)
    st.text(str(row["display"]))
    if str(row["display"]) != str(row["key"]):
        st.caption("stored key")
        st.code(str(row["key"]), language=None)
    facts = {
        "role in ring": row["role"] or ("outside the ring" if not row["in_ring"] else "–"),
        "member score": f"{row['score']:.2f}" if pd.notna(row["score"]) else "–",
        "ring buyers linked": int(row["n_ring_buyers"]),
        "buyers in the store using it": "–" if pd.isna(row["n_buyers"]) else int(row["n_buyers"]),
    }
    st.dataframe(pd.DataFrame({"fact": list(facts), "value": [str(v) for v in facts.values()]}), hide_index=True, width="stretch")
    if pd.notna(row["n_buyers"]) and int(row["n_buyers"]) > WIDELY_SHARED:
        st.warning(
            f"Used by {int(row['n_buyers'])} buyers in the store: a parcel station, office or carrier network "
            "looks like this, so on its own it proves little."
        )
    links = graph.edges[(graph.edges["source"] == node_id) | (graph.edges["target"] == node_id)]
    if not links.empty:
        other = links["target"].where(links["source"] == node_id, links["source"])
        names = graph.nodes.set_index("node_id")["display"]
        st.dataframe(
            pd.DataFrame({"linked to": other.map(names).fillna(other), "link": links["rel"], "orders": links["n_orders"]}),
            hide_index=True,
            width="stretch",
            height=min(38 + 35 * len(links), 240),
        )


# The order timeline is the tab open by default, drawn on every run of the Ring page: its chart is a plain
# Vega-Lite spec, because building it through Altair (schema validation) costs a tenth of a second each time.
TIMELINE_SPEC = {
    # Vertical: bars spanning x to x2 would otherwise be read as horizontal and drawn 5 px thin at their count.
    "mark": {"type": "bar", "orient": "vertical"},
    "encoding": {
        "x": {"field": "bin", "type": "temporal", "title": None},
        "x2": {"field": "bin_end"},
        "y": {"field": "orders", "type": "quantitative", "title": "orders"},
        "color": {"field": "seller", "type": "nominal", "title": "seller"},
        "tooltip": [
            {"field": "bin", "type": "temporal", "title": "from"},
            {"field": "seller", "type": "nominal"},
            {"field": "orders", "type": "quantitative"},
        ],
    },
    "height": 260,
}


def timeline(orders: pd.DataFrame, bins: pd.DataFrame | None = None, busiest: tuple[int, pd.Timestamp | None] | None = None) -> None:
    """Orders over time per seller, with the busiest hour: bursts show as spikes.

    ``bins`` and ``busiest`` (:func:`evidence.timeline`, :func:`evidence.busiest_hour`
    of these orders) may come from a cache; they are computed when not given.
    """
    if orders.empty:
        st.info("No orders for this ring.")
        return
    count, start = busiest if busiest is not None else evidence.busiest_hour(orders)
    span = orders["created_at"].max() - orders["created_at"].min()
    cols = st.columns(3)
    cols[0].metric("Orders", len(orders))
    cols[1].metric("Busiest hour", count, help=f"starting {start:%Y-%m-%d %H:%M} UTC" if start is not None else None)
    cols[2].metric("Active span (days)", round(span.total_seconds() / 86400, 1))
    frame = bins if bins is not None else evidence.timeline(orders)
    st.vega_lite_chart(frame, TIMELINE_SPEC, width="stretch")


def amounts(orders: pd.DataFrame) -> None:
    """Amount paid against the listed value; brushing pays far from it, or the same token amount."""
    frame = evidence.amounts(orders)
    if frame.empty:
        st.info("No orders with both an amount and a listed price.")
        return
    summary = evidence.amount_summary(frame)
    cols = st.columns(3)
    cols[0].metric("Median paid / listed", f"{summary['median_ratio']:.2f}")
    cols[1].metric("Paid under half", f"{summary['under_half']:.0%}")
    cols[2].metric("Paid over double", f"{summary['over_double']:.0%}")
    top = float(max(frame["listed"].max(), frame["amount"].max()))
    diagonal = pd.DataFrame({"listed": [0.0, top], "amount": [0.0, top]})
    points = (
        alt.Chart(frame)
        .mark_circle(size=40, opacity=0.6)
        .encode(
            x=alt.X("listed:Q", title="listed value (price × quantity)"),
            y=alt.Y("amount:Q", title="amount paid"),
            color=alt.Color("seller_id:N", title="seller"),
            tooltip=["order_id:N", "buyer_id:N", "seller_id:N", "listed:Q", "amount:Q", alt.Tooltip("ratio:Q", format=".2f")],
        )
    )
    line = alt.Chart(diagonal).mark_line(color="#999999", strokeDash=[4, 4]).encode(x="listed:Q", y="amount:Q")
    st.altair_chart((line + points).properties(height=300), width="stretch")


def reviews(orders: pd.DataFrame) -> None:
    """Ratings, and review texts grouped by wording: templated praise or coordinated complaints."""
    left, right = st.columns([1, 2])
    with left:
        st.caption("Ratings")
        st.altair_chart(
            alt.Chart(evidence.rating_counts(orders))
            .mark_bar()
            .encode(x=alt.X("stars:N", sort=None, title=None), y=alt.Y("orders:Q"), tooltip=["stars", "orders"])
            .properties(height=220),
            width="stretch",
        )
    with right:
        groups = evidence.review_groups(orders)
        templated = int(groups.loc[groups["templated"], "orders"].sum()) if not groups.empty else 0
        st.caption(f"Review texts ({len(groups)} wordings; {templated} reviews share their wording with another buyer)")
        st.dataframe(
            groups,
            hide_index=True,
            width="stretch",
            height=260,
            column_config={
                "review_text": st.column_config.TextColumn("Review text", width="large"),
                "mean_rating": st.column_config.NumberColumn("Mean stars", format="%.1f"),
                "templated": st.column_config.CheckboxColumn("Same words, several buyers"),
            },
        )


def refunds(orders: pd.DataFrame) -> None:
    """Order outcomes and refund reasons as the buyers wrote them."""
    left, right = st.columns([1, 2])
    with left:
        st.caption("Order status")
        st.dataframe(
            evidence.refunds(orders),
            hide_index=True,
            width="stretch",
            column_config={"share": st.column_config.NumberColumn(format="percent")},
        )
    with right:
        st.caption("Refund reasons")
        reasons = evidence.refund_reasons(orders)
        if reasons.empty:
            st.text("No refund reasons.")
        else:
            st.dataframe(reasons, hide_index=True, width="stretch")


def waybills(orders: pd.DataFrame) -> None:
    """Logistics anomalies: reused or sequential waybills, empty parcels, instant receipt."""
    st.dataframe(
        evidence.waybill_checks(orders),
        hide_index=True,
        width="stretch",
        column_config={
            "share": st.column_config.ProgressColumn("Share of shipped orders", min_value=0.0, max_value=1.0, format="percent"),
            "meaning": st.column_config.TextColumn(width="large"),
        },
    )
    shipped = orders[orders["tracking_no"].notna()]
    with st.expander(f"Shipments ({len(shipped)})"):
        st.dataframe(
            shipped[["order_id", "buyer_id", "seller_id", "carrier", "tracking_no", "parcel_weight_g", "shipped_at", "confirmed_at"]],
            hide_index=True,
            width="stretch",
        )


def accounts(frame: pd.DataFrame) -> None:
    """How old the buyers' accounts were at their first ring order; sock puppets are young."""
    if frame.empty:
        st.info("No buyer accounts to show.")
        return
    buckets = frame["bucket"].value_counts().reindex(list(evidence.AGE_BUCKETS), fill_value=0)
    chart = pd.DataFrame({"age": buckets.index, "buyers": buckets.to_numpy()})
    left, right = st.columns([1, 2])
    with left:
        st.altair_chart(
            alt.Chart(chart)
            .mark_bar()
            .encode(x=alt.X("age:N", sort=None, title="account age at first ring order"), y="buyers:Q", tooltip=["age", "buyers"])
            .properties(height=240),
            width="stretch",
        )
    with right:
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            height=240,
            column_config={"age_days": st.column_config.NumberColumn("age (days)", format="%.0f")},
        )


def members(members_frame: pd.DataFrame, orders: pd.DataFrame, ages: pd.DataFrame) -> None:
    """Every member with its score, plus each buyer's orders in the ring and account age."""
    per_buyer = orders.groupby("buyer_id").agg(
        orders=("order_id", "size"), first_order=("created_at", "min"), last_order=("created_at", "max")
    )
    frame = members_frame.drop(columns="ring_id").merge(
        per_buyer, left_on="entity_id", right_index=True, how="left"
    ).merge(ages[["buyer_id", "age_days"]], left_on="entity_id", right_on="buyer_id", how="left")
    frame = frame.drop(columns="buyer_id").sort_values("member_score", ascending=False)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=360,
        column_config={
            "member_score": st.column_config.ProgressColumn("Member score", min_value=0.0, max_value=1.0, format="%.2f"),
            "age_days": st.column_config.NumberColumn("Account age (days)", format="%.0f"),
            "first_order": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "last_order": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )


def decision_history(history: pd.DataFrame) -> None:
    """Every decision on the ring, newest first (notes are shown as data)."""
    if history.empty:
        st.text("No decision yet.")
        return
    st.dataframe(
        history[["decided_at", "decision", "analyst", "note"]],
        hide_index=True,
        width="stretch",
        column_config={
            "decided_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
            "note": st.column_config.TextColumn(width="large"),
        },
    )

"""Page pieces every page shares: header, sidebar, the current run, the rings table.

Rendering rule for the whole explorer: text that came from data (ids, names,
addresses, review texts, reasons, notes) goes through ``st.text``,
``st.dataframe`` or chart specs, never through markdown or HTML. Markdown
elements (``st.title``, ``st.caption``, ``st.metric`` labels) only carry our
own words and numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.web import auth, data
from graph.errors import RingWatchError

__all__ = [
    "RING_PAGE",
    "header",
    "status_bar",
    "current_run",
    "fmt_time",
    "ring_columns",
    "rings_table",
    "open_ring",
    "LABELS",
    "LABEL_COLOURS",
    "CHANGES",
    "TYPE_NAMES",
]

RING_PAGE = "views/ring.py"
LABELS = {
    "undecided": "undecided",
    "confirmed": "confirmed",
    "dismissed": "dismissed",
    "needs_review": "needs review",
    "reopened": "reopened (grew after dismissal)",
}
LABEL_COLOURS = {"confirmed": "red", "dismissed": "green", "needs_review": "violet", "reopened": "orange"}
CHANGES = ("new", "grown", "shrunk", "unchanged")
TYPE_NAMES = {"brushing": "brushing", "malicious_buyers": "malicious buyers"}


def fmt_time(value: Any) -> str:
    """A UTC timestamp as ``2026-03-01 20:15 UTC`` ("–" when missing)."""
    ts = pd.to_datetime(value, utc=True, errors="coerce")
    return "–" if pd.isna(ts) else ts.strftime("%Y-%m-%d %H:%M UTC")


def header(title: str, caption: str = "") -> None:
    """The page title and a one-line caption (our words only)."""
    st.header(title, divider="gray")
    if caption:
        st.caption(caption)


def status_bar(access: auth.Access, uri: str) -> None:
    """One quiet line above every page: which store, which run, who is signed in."""
    try:
        run = data.latest_run(uri)
    except RingWatchError:  # the page itself shows the message
        run = None
    who = access.name or ("team member" if access.method == "password" else "local user")
    parts = [f"Store {data.display_uri(uri)}"]
    if run:
        parts.append(f"Run {run['run_id']} ({fmt_time(run.get('finished_at'))})")
    parts.append(f"{who} · {access.role}")
    left, right = st.columns([8, 1], vertical_alignment="center")
    left.text("   ·   ".join(parts))
    if access.method != "open" and right.button("Sign out", type="tertiary"):
        auth.sign_out(access)


def current_run(uri: str) -> dict[str, Any]:
    """The newest run; stops the page with a hint when the store has none or cannot be read."""
    try:
        run = data.latest_run(uri)
    except RingWatchError as exc:
        st.error(f"Cannot read the store: {exc}")
        st.stop()
    if run is None:
        st.info("No detection run in this store yet. Load orders with `ringwatch ingest`, then run `ringwatch detect`.")
        st.stop()
    return run


def ring_columns() -> dict[str, Any]:
    """Column formats shared by every rings table."""
    return {
        "ring_id": st.column_config.TextColumn("Ring", width="small"),
        "ring_type": st.column_config.TextColumn("Type"),
        "score": st.column_config.ProgressColumn("Score", min_value=0.0, max_value=1.0, format="%.2f"),
        "size": st.column_config.NumberColumn("Size", help="buyers + sellers"),
        "n_buyers": st.column_config.NumberColumn("Buyers"),
        "n_sellers": st.column_config.NumberColumn("Sellers"),
        "n_orders": st.column_config.NumberColumn("Orders"),
        "target_seller_ids": st.column_config.TextColumn("Target sellers"),
        "change": st.column_config.TextColumn("Change"),
        "label": st.column_config.TextColumn("Label"),
        "first_order_at": st.column_config.DatetimeColumn("First order", format="YYYY-MM-DD HH:mm"),
        "last_order_at": st.column_config.DatetimeColumn("Last order", format="YYYY-MM-DD HH:mm"),
        "top_signals": st.column_config.TextColumn("Top signals"),
        "via": st.column_config.TextColumn("Found via"),
    }


def rings_table(frame: pd.DataFrame, *, key: str, columns: list[str], max_height: int = 560) -> None:
    """A selectable rings table (as tall as its rows, up to ``max_height``); picking a row opens that ring."""
    height = min(38 + 35 * max(len(frame), 1), max_height)
    view = frame[columns].copy()
    if "ring_type" in view:
        view["ring_type"] = view["ring_type"].map(TYPE_NAMES).fillna(view["ring_type"])
    if "label" in view:
        view["label"] = view["label"].map(LABELS).fillna(view["label"])
    event = st.dataframe(
        view,
        key=key,
        hide_index=True,
        width="stretch",
        height=height,
        column_config=ring_columns(),
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = event.selection.rows
    if rows:
        open_ring(str(frame["ring_id"].iloc[rows[0]]))


def open_ring(ring_id: str) -> None:
    """Go to the Ring page on this ring (the id also goes into the URL, so reload and links keep it)."""
    st.session_state["ring_id"] = ring_id
    st.switch_page(RING_PAGE, query_params={"ring": ring_id})

"""The explorer's data: one store for the process, cached loaders keyed on plain values.

Pages call these functions with the store URI, a run id, a ring id; never
with frames or store objects, so ``st.cache_data`` can key on them. A run's
results never change once published, so they are cached without expiry
(bounded by ``max_entries``); runs and decisions change while the app is open
and expire after a few seconds, and recording a decision clears them at once.

The store comes from ``RINGWATCH_STORE`` (``ringwatch app --store`` sets it),
never from the command line.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import threading
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from app.web import evidence
from app.web.graph_view import (
    GRAPH_ORDER_COLUMNS,
    MAX_GRAPH_BUYERS,
    RingGraph,
    add_expansion,
    build_ring_graph,
    echarts_spec,
    neighbourhood_graph,
    orders_subgraph,
)
from graph.errors import RingWatchError
from graph.model import IDENTIFIER_COLUMNS
from graph.settings import get_settings
from graph.store import GraphStore, open_store, redact_uri

__all__ = [
    "store_uri",
    "store_session",
    "display_uri",
    "get_store",
    "runs",
    "latest_run",
    "rings",
    "ring_table",
    "filter_rings",
    "label_status",
    "labels",
    "decision_history",
    "record_decision",
    "ring_members",
    "ring_evidence",
    "ring_orders",
    "ring_timeline",
    "ring_accounts",
    "ring_graph",
    "ring_graph_spec",
    "graph_pages",
    "neighbourhood",
    "store_buyers",
    "search_keys",
    "search_graph",
    "lookup",
    "rings_of",
    "ring_export",
    "report_formats",
    "report_builder",
    "run_ring_counts",
    "prefetch",
    "data_range",
    "DECISIONS",
    "SEARCH_KINDS",
    "Lookup",
]

LIVE_TTL = 5  # seconds: runs and decisions change while the app is open
RESULT_CACHE = 16  # runs kept in memory per loader
ORDER_LIMIT = 50_000  # a ring page never pulls more orders than this
EXPAND_LIMIT = 60  # neighbours added when a node is expanded
DECISIONS = {"confirmed": "Confirm", "dismissed": "Dismiss", "needs_review": "Needs review"}
PREFETCH_ENV = "RINGWATCH_APP_PREFETCH"  # rings warmed per new run (0: off)
PREFETCH_DEFAULT = 10
log = logging.getLogger(__name__)
SEARCH_KINDS = ("any", "buyer", "seller", "device", "address", "phone", "ip", "payment")


# -- the store -------------------------------------------------------------------
def store_uri() -> str:
    """The store this app serves: ``RINGWATCH_STORE``, else the config file, else ``./ringwatch.duckdb``."""
    return get_settings().store


def display_uri(uri: str) -> str:
    """The URI without credentials, for the status line."""
    try:
        return get_store(uri).uri  # the store's own safe-to-log form
    except RingWatchError:
        return redact_uri(uri)


@st.cache_resource(show_spinner=False)
def get_store(uri: str) -> GraphStore:
    """The one store object of this process (it opens short connections per operation)."""
    return open_store(uri)


@contextlib.contextmanager
def store_session(uri: str) -> Iterator[None]:
    """One store connection for a whole page run, where the store offers it (the embedded store does).

    A page run makes a few store reads (runs, decisions, a ring's orders); one
    connection for all of them saves opening the database file each time. It is
    released when the run ends, so a batch can still take the file between runs.
    A store that cannot be opened is left to the page, which says so.
    """
    with contextlib.ExitStack() as stack:
        try:
            session = getattr(get_store(uri), "session", None)
            if callable(session):
                stack.enter_context(session())
        except RingWatchError:
            pass  # the page reads the store again and shows why it cannot
        yield


# -- runs and rings ----------------------------------------------------------------
@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def runs(uri: str) -> list[dict[str, Any]]:
    """All published runs, newest first."""
    return get_store(uri).runs()


def latest_run(uri: str) -> dict[str, Any] | None:
    """The newest run, or None when nothing was detected yet."""
    history = runs(uri)
    return history[0] if history else None


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


@st.cache_data(max_entries=RESULT_CACHE, show_spinner=False)
def rings(uri: str, run_id: str) -> pd.DataFrame:
    """The run's rings, highest score first, with a ``size`` column (buyers + sellers)."""
    frame = _frame(get_store(uri).read_results("rings", run_id))
    frame["size"] = frame["n_buyers"] + frame["n_sellers"]
    return frame


@st.cache_data(max_entries=RESULT_CACHE, show_spinner=False)
def _members(uri: str, run_id: str) -> pd.DataFrame:
    return _frame(get_store(uri).read_results("ring_members", run_id))


@st.cache_data(max_entries=RESULT_CACHE, show_spinner=False)
def _evidence(uri: str, run_id: str) -> pd.DataFrame:
    return _frame(get_store(uri).read_results("ring_evidence", run_id))


@st.cache_data(max_entries=256, show_spinner=False)
def ring_members(uri: str, run_id: str, ring_id: str) -> pd.DataFrame:
    """One ring's members, by entity type then member score (highest first)."""
    members = _members(uri, run_id)
    return members[members["ring_id"] == ring_id].reset_index(drop=True)


@st.cache_data(max_entries=256, show_spinner=False)
def ring_evidence(uri: str, run_id: str, ring_id: str) -> pd.DataFrame:
    """One ring's signals, heaviest first."""
    frame = _evidence(uri, run_id)
    return frame[frame["ring_id"] == ring_id].sort_values("weight", ascending=False).reset_index(drop=True)


@st.cache_data(max_entries=RESULT_CACHE, show_spinner=False)
def run_ring_counts(uri: str, run_id: str) -> dict[str, int]:
    """Rings per type and change in one run (for the run history)."""
    frame = rings(uri, run_id)
    counts = {"rings": len(frame)}
    counts.update({f"type:{k}": int(v) for k, v in frame["ring_type"].value_counts().items()})
    counts.update({f"change:{k}": int(v) for k, v in frame["change"].value_counts().items()})
    return counts


@st.cache_data(ttl=600, max_entries=RESULT_CACHE, show_spinner=False)
def data_range(uri: str, run_id: str, newest: bool = False) -> tuple[Any, Any]:
    """First and last order time a run saw: its own record, else (newest run only) the store's orders now."""
    run = next((r for r in runs(uri) if str(r["run_id"]) == run_id), {})
    for lo, hi in (("data_from", "data_to"), ("first_order_at", "last_order_at")):
        if run.get(lo) and run.get(hi):
            return pd.to_datetime(run[lo], utc=True), pd.to_datetime(run[hi], utc=True)
    if not newest:
        return None, None
    created = get_store(uri).read_table("orders", ["created_at"]).column("created_at").to_pandas()
    return (created.min(), created.max()) if len(created) else (None, None)


# -- decisions -------------------------------------------------------------------
@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _decisions(uri: str) -> pd.DataFrame:
    # Every decision, newest first: one store read serves the labels of all rings and each ring's history.
    return _frame(get_store(uri).decisions())


def labels(uri: str) -> pd.DataFrame:
    """The latest decision per ring (``ring_id, decision, analyst, note, decided_at``)."""
    return _decisions(uri).drop_duplicates("ring_id", keep="first").reset_index(drop=True)


def decision_history(uri: str, ring_id: str) -> pd.DataFrame:
    """Every decision on one ring, newest first."""
    frame = _decisions(uri)
    return frame[frame["ring_id"] == ring_id].reset_index(drop=True)


def record_decision(uri: str, ring_id: str, decision: str, analyst: str, note: str) -> None:
    """Store a decision and make every page see it at once."""
    get_store(uri).record_decision(ring_id, decision, analyst, note)
    _decisions.clear()


def label_status(frame: pd.DataFrame, latest: pd.DataFrame, run_finished_at: Any = None) -> pd.Series:
    """Each ring's label: undecided, confirmed, dismissed, needs_review, or reopened.

    A ring dismissed before this run that grew in it is ``reopened``: its
    membership changed materially, so the dismissal no longer covers it.
    """
    merged = frame[["ring_id", "change"]].merge(latest[["ring_id", "decision", "decided_at"]], on="ring_id", how="left")
    status = merged["decision"].fillna("undecided")
    if run_finished_at is not None:
        finished = pd.to_datetime(run_finished_at, utc=True, errors="coerce")
        if pd.notna(finished):
            stale = (merged["decision"] == "dismissed") & (merged["change"] == "grown") & (merged["decided_at"] < finished)
            status = status.where(~stale, "reopened")
    return pd.Series(status.to_numpy(), index=frame.index, name="label")


def ring_table(uri: str, run: dict[str, Any]) -> pd.DataFrame:
    """The run's rings with their label status (decisions are fresh, rings cached)."""
    frame = rings(uri, str(run["run_id"])).copy()
    frame["label"] = label_status(frame, labels(uri), run.get("finished_at"))
    prefetch(uri, str(run["run_id"]), tuple(frame.loc[frame["label"] == "undecided", "ring_id"]))
    return frame


_prefetched: set[tuple[str, str]] = set()  # (uri, run id) warmed by this process
_prefetch_lock = threading.Lock()


def prefetch(uri: str, run_id: str, ring_ids: tuple[str, ...]) -> None:
    """Warm the cache for the first rings of a run in a background thread, once per run and process.

    The first ring opened in a run reads the orders of all the run's ring
    buyers (:func:`_run_orders`: seconds at 1M orders on a busy machine); done
    here, in the background as soon as a page shows the run, no analyst waits
    for it. Analysts triage the highest-scored undecided rings first, so their
    pictures are drawn too. ``RINGWATCH_APP_PREFETCH`` sets how many (0: off).
    """
    count = int(os.environ.get(PREFETCH_ENV, PREFETCH_DEFAULT) or 0)
    with _prefetch_lock:
        if count <= 0 or not ring_ids or (uri, run_id) in _prefetched:
            return
        _prefetched.add((uri, run_id))
    wanted = ring_ids[:count]

    def warm() -> None:
        # One store connection for all of them: the database stays open between the reads, so a run whose
        # rings are read one by one pays for loading the orders table's columns once, not once per ring.
        with store_session(uri):
            for ring_id in wanted:
                try:
                    ring_graph_spec(uri, run_id, ring_id)
                    ring_orders(uri, run_id, ring_id)
                    ring_evidence(uri, run_id, ring_id)
                except RingWatchError as exc:  # a busy or moved store: pages load the ring on demand
                    log.warning("prefetch of ring %s stopped: %s", ring_id, exc)
                    return

    threading.Thread(target=warm, name=f"ringwatch-prefetch-{run_id}", daemon=True).start()


def filter_rings(
    frame: pd.DataFrame,
    *,
    types: Sequence[str] = (),
    changes: Sequence[str] = (),
    labels: Sequence[str] = (),
    seller: str = "",
    min_score: float = 0.0,
    min_size: int = 0,
    period: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """The rings matching the Rings page's filters (an empty choice means any).

    ``period`` keeps rings whose activity overlaps those days (rings without
    dates are kept); ``seller`` matches part of a target seller id.
    """
    keep = (frame["score"] >= min_score) & (frame["size"] >= min_size)
    if types:
        keep &= frame["ring_type"].isin(types)
    if changes:
        keep &= frame["change"].isin(changes)
    if labels:
        keep &= frame["label"].isin(labels)
    if seller.strip():
        keep &= frame["target_seller_ids"].fillna("").str.contains(seller.strip(), regex=False)
    if period is not None:
        start, end = period
        overlaps = (frame["last_order_at"].dt.date >= start) & (frame["first_order_at"].dt.date <= end)
        keep &= overlaps | frame["first_order_at"].isna()
    return frame[keep]


# -- one ring ----------------------------------------------------------------------
def _buyer_ids(members: pd.DataFrame) -> list[str]:
    buyers = members[members["entity_type"] == "buyer"].sort_values("member_score", ascending=False)
    return buyers["entity_id"].astype(str).tolist()


def _seller_ids(ring: pd.Series, members: pd.DataFrame) -> list[str]:
    sellers = members.loc[members["entity_type"] == "seller", "entity_id"].astype(str).tolist()
    targets = [s for s in str(ring.get("target_seller_ids") or "").split(";") if s]
    return sorted(set(sellers) | set(targets))


# The order columns the evidence panels use. A ring's orders lie all over the orders table, so a read costs
# by the column: only these are read (not chat texts, item ids or delivery times, which no panel shows).
ORDER_COLUMNS = [
    "order_id", "buyer_id", "seller_id", "created_at", "amount", "quantity", "item_price", "ip",
    "tracking_no", "carrier", "parcel_weight_g", "shipped_at", "confirmed_at", "status",
    "refund_reason", "rating", "review_text", "waybill_key",
]


# What the Ring page reads of its buyers' orders: the evidence's columns and the graph's.
RING_ORDER_COLUMNS = list(dict.fromkeys([*ORDER_COLUMNS, *GRAPH_ORDER_COLUMNS]))


RUN_BUYER_LIMIT = 20_000  # ring buyers of a run whose orders are read at once (more: each ring reads its own)
RUN_ORDER_LIMIT = 200_000  # ... and their orders kept in memory (about 130 MB at most)


@st.cache_resource(max_entries=2, show_spinner=False)
def _run_orders(uri: str, run_id: str) -> pd.DataFrame | None:
    """Every order of every ring buyer of the run, newest first (None when there are too many to keep).

    A ring's orders lie all over the orders table, so a store read costs by
    the column, not by the row: at 1M orders, the orders of all 4,191 ring
    buyers of a run (28k rows) cost about what one ring's orders cost (0.85
    against 0.7 CPU seconds). Read once per run, every ring of the run then
    opens from memory. Shared, never modified (``cache_resource``: a ring
    takes its slice without copying the whole frame).
    """
    members = _members(uri, run_id)
    buyers = sorted(set(members.loc[members["entity_type"] == "buyer", "entity_id"].astype(str)))
    if len(buyers) > RUN_BUYER_LIMIT:
        return None
    table = get_store(uri).orders_of(buyers, columns=RING_ORDER_COLUMNS, limit=RUN_ORDER_LIMIT + 1)
    return None if table.num_rows > RUN_ORDER_LIMIT else _frame(table)


@st.cache_data(max_entries=32, show_spinner=False)
def _buyer_orders(uri: str, run_id: str, ring_id: str) -> pd.DataFrame:
    """Every order of the ring's buyers (up to ``ORDER_LIMIT``), newest first: behind a ring's graph and evidence.

    Taken from the run's ring orders (:func:`_run_orders`), or read from the
    store for this ring alone when the run has too many to keep.
    """
    buyers = _buyer_ids(ring_members(uri, run_id, ring_id))
    run_orders = _run_orders(uri, run_id)
    if run_orders is not None:
        return run_orders[run_orders["buyer_id"].isin(buyers)].head(ORDER_LIMIT).reset_index(drop=True)
    return _frame(get_store(uri).orders_of(buyers, columns=RING_ORDER_COLUMNS, limit=ORDER_LIMIT))


@st.cache_data(max_entries=64, show_spinner=False)
def ring_orders(uri: str, run_id: str, ring_id: str, *, only_ring_sellers: bool = True) -> pd.DataFrame:
    """The ring buyers' orders (with the ring's sellers only, by default), newest first."""
    orders = _buyer_orders(uri, run_id, ring_id)[ORDER_COLUMNS]
    if only_ring_sellers:
        ring = rings(uri, run_id).set_index("ring_id").loc[ring_id]
        orders = evidence.ring_orders(orders, _seller_ids(ring, ring_members(uri, run_id, ring_id)))
    return orders.reset_index(drop=True)


@st.cache_data(max_entries=64, show_spinner=False)
def ring_timeline(uri: str, run_id: str, ring_id: str) -> tuple[pd.DataFrame, tuple[int, Any]]:
    """The ring's orders per time bin and seller, and its busiest hour (the timeline tab, open by default)."""
    orders = ring_orders(uri, run_id, ring_id)
    return evidence.timeline(orders), evidence.busiest_hour(orders)


@st.cache_data(max_entries=4, show_spinner=False)
def _accounts(uri: str, run_id: str) -> pd.DataFrame:
    # run_id keys the cache: accounts change when data is ingested, which a new run follows.
    return _frame(get_store(uri).read_table("buyers", ["buyer_id", "registered_at", "credit_level", "real_name_verified"]))


@st.cache_data(max_entries=64, show_spinner=False)
def ring_accounts(uri: str, run_id: str, ring_id: str) -> pd.DataFrame:
    """Account facts of the ring's buyers, with their age at the first ring order."""
    orders = ring_orders(uri, run_id, ring_id)
    buyers = _accounts(uri, run_id)
    ages = evidence.account_ages(buyers, orders)
    return ages.merge(buyers[["buyer_id", "credit_level", "real_name_verified"]], on="buyer_id", how="left")


def graph_pages(n_buyers: int) -> int:
    """How many pages of buyers the ring graph has."""
    return max(1, -(-n_buyers // MAX_GRAPH_BUYERS))


@st.cache_data(max_entries=4, show_spinner=False)
def _seller_names(uri: str, run_id: str) -> dict[str, str]:
    # run_id keys the cache: sellers change when data is ingested, which a new run follows.
    sellers = get_store(uri).read_table("sellers", ["seller_id", "name"])
    return {s: n for s, n in zip(sellers["seller_id"].to_pylist(), sellers["name"].to_pylist(), strict=True) if n}


@st.cache_data(max_entries=32, show_spinner=False)
def _base_graph(uri: str, run_id: str, ring_id: str, page: int) -> RingGraph:
    members = ring_members(uri, run_id, ring_id)
    buyers = _buyer_ids(members)[page * MAX_GRAPH_BUYERS : (page + 1) * MAX_GRAPH_BUYERS]
    orders = _buyer_orders(uri, run_id, ring_id)
    sub = orders_subgraph(orders, buyers, _seller_names(uri, run_id), truncated=len(orders) >= ORDER_LIMIT)
    return build_ring_graph(members, sub)


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def neighbourhood(uri: str, node_id: str, limit: int = EXPAND_LIMIT) -> Any:
    """One node's neighbours (``graph.store.Subgraph``) in the buyer-seller-identifier graph."""
    entity, _, key = node_id.partition(":")
    return get_store(uri).neighbourhood(entity, [key], limit=limit)


def store_buyers(uri: str, node_id: str) -> int | None:
    """How many buyers in the whole store use this identifier (None for buyers and sellers)."""
    if node_id.partition(":")[0] not in IDENTIFIER_COLUMNS:
        return None
    nodes = neighbourhood(uri, node_id).nodes.set_index("node_id")
    count = nodes.at[node_id, "n_buyers"] if node_id in nodes.index else None
    return None if count is None or pd.isna(count) else int(count)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def search_graph(uri: str, node_id: str, limit: int = 300) -> RingGraph:
    """The picture of one entity's neighbourhood."""
    return neighbourhood_graph(neighbourhood(uri, node_id, limit), node_id)


@st.cache_data(max_entries=32, show_spinner=False)
def ring_graph(uri: str, run_id: str, ring_id: str, page: int = 0, expanded: tuple[str, ...] = ()) -> RingGraph:
    """The picture of one page of a ring, with the nodes the analyst expanded."""
    graph = _base_graph(uri, run_id, ring_id, page)
    for node_id in expanded:
        if node_id.partition(":")[0] in ("buyer", "seller", *IDENTIFIER_COLUMNS):
            graph = add_expansion(graph, node_id, neighbourhood(uri, node_id))
    return graph


@st.cache_data(max_entries=32, show_spinner=False)
def ring_graph_spec(uri: str, run_id: str, ring_id: str, page: int = 0, expanded: tuple[str, ...] = ()) -> dict:
    """The ECharts option drawing :func:`ring_graph` (built once; it costs a quarter second at 400 nodes)."""
    return echarts_spec(ring_graph(uri, run_id, ring_id, page, expanded))


def ring_export(uri: str, run_id: str, ring_id: str) -> dict[str, Callable[[], bytes]]:
    """The ring as downloadable files (``members.csv``, ``evidence.csv``, ``ring.json``).

    Each file is a function that writes it when the analyst clicks (``st.download_button``
    with a callable): the frames are the page's cached ones, and serialising them on
    every page run would cost time and send every file to the browser unasked.
    """
    ring = rings(uri, run_id).set_index("ring_id").loc[ring_id]
    members = ring_members(uri, run_id, ring_id)
    signals = ring_evidence(uri, run_id, ring_id)
    history = decision_history(uri, ring_id)

    def document() -> bytes:
        doc = {
            "run_id": run_id,
            "ring": {"ring_id": ring_id, **{k: _plain(v) for k, v in ring.drop(labels=["size"], errors="ignore").items()}},
            "members": [{k: _plain(v) for k, v in r.items()} for r in members.drop(columns="ring_id").to_dict("records")],
            "evidence": [{k: _plain(v) for k, v in r.items()} for r in signals.drop(columns="ring_id").to_dict("records")],
            "decisions": [{k: _plain(v) for k, v in r.items()} for r in history.to_dict("records")],
        }
        return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")

    return {
        "members.csv": lambda: members.to_csv(index=False).encode("utf-8"),
        "evidence.csv": lambda: signals.to_csv(index=False).encode("utf-8"),
        "ring.json": document,
    }


@st.cache_resource(show_spinner=False)
def report_formats() -> tuple[str, ...]:
    """Report formats the installed reports package offers (``html``, ``pdf``); empty without it."""
    try:
        import graph.report  # noqa: F401, PLC0415 - optional: the explorer works without reports
    except ImportError:
        return ()
    from graph.report.pdf import find_browser  # noqa: PLC0415

    return ("html", "pdf") if find_browser() else ("html",)


def report_builder(uri: str, run_id: str, ring_id: str, fmt: str) -> Callable[[], bytes]:
    """A function that renders the ring's report (masked personal data) when the analyst clicks download.

    Rendering takes a moment (PDF prints through Chromium), so it runs only on
    the click (``st.download_button`` with a callable), never on page load.
    """
    store = get_store(uri)

    def build() -> bytes:
        from graph.report import html_to_pdf, ring_report_html  # noqa: PLC0415 - optional module

        html = ring_report_html(store, ring_id, run_id=run_id)
        if fmt == "html":
            return html.encode("utf-8")
        with tempfile.TemporaryDirectory(prefix="ringwatch-report-") as tmp:
            src, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
            src.write_text(html, encoding="utf-8")
            html_to_pdf([(src, pdf)])
            return pdf.read_bytes()

    return build


def _plain(value: Any) -> Any:
    """A JSON-ready scalar (timestamps as ISO 8601 UTC, missing as None)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


# -- search ------------------------------------------------------------------------
def _ingest_key(kind: str, text: str) -> str | None:
    """The key ingest would store this text under (``ingest.normalise.<kind>_keys``), if ingest is installed."""
    try:
        from ingest import normalise  # noqa: PLC0415 - optional: search works without it
    except ImportError:
        return None
    fn = getattr(normalise, f"{kind}_keys", None)
    if not callable(fn):
        return None
    return fn(pa.array([text], pa.string()))[0].as_py()


def search_keys(kind: str, text: str) -> list[str]:
    """The keys an analyst's text may be stored under for one kind, as ingest would normalise it.

    Uses :mod:`ingest.normalise` when present; otherwise tries the text as
    typed plus the obvious normal forms (trimmed, lower case, digits only for
    phones, canonical IP).
    """
    text = text.strip()
    if not text:
        return []
    keys = [text]
    key = _ingest_key(kind, text)
    if key:
        keys.insert(0, key)
    if kind in ("device", "payment", "address", "buyer", "seller"):
        keys.append(text.lower())
        keys.append(re.sub(r"\s+", "", text))
    if kind == "phone":
        digits = re.sub(r"[^\d*]", "", text)
        keys.append(digits)
        if len(digits) > 11 and digits.startswith("86"):  # country code typed in front
            keys.append(digits[2:])
    if kind == "ip":
        try:
            keys.append(str(ipaddress.ip_address(text)))
        except ValueError:
            pass
    return list(dict.fromkeys(k for k in keys if k))


def _guess_kinds(text: str) -> tuple[str, ...]:
    """Which kinds a free text may be: an IP is only an IP, a phone number only a phone."""
    try:
        ipaddress.ip_address(text.strip())
        return ("ip",)
    except ValueError:
        pass
    if re.fullmatch(r"\+?[\d\s\-*]{7,}", text.strip()):
        return ("phone", "buyer", "seller", "device", "payment")
    return ("buyer", "seller", "device", "payment", "address", "phone")


@dataclass
class Lookup:
    """What a search found: one row per matching entity (``node_id, kind, key, display, n_buyers, degree``)."""

    hits: pd.DataFrame


@st.cache_data(ttl=60, max_entries=128, show_spinner=False)
def lookup(uri: str, text: str, kind: str = "any") -> Lookup:
    """Find buyers, sellers or identifiers matching the text (normalised per kind)."""
    store = get_store(uri)
    kinds = _guess_kinds(text) if kind == "any" else (kind,)
    rows = []
    for k in kinds:
        keys = search_keys(k, text)
        if not keys:
            continue
        sub = store.neighbourhood(k, keys, limit=2000)
        linked = set(sub.edges["source"]) | set(sub.edges["target"])
        for key in keys:
            node_id = f"{k}:{key}"
            if node_id not in linked:
                continue
            degree = int(((sub.edges["source"] == node_id) | (sub.edges["target"] == node_id)).sum())
            node = sub.nodes[sub.nodes["node_id"] == node_id].iloc[0]
            rows.append(
                {
                    "node_id": node_id,
                    "kind": k,
                    "key": key,
                    "display": str(node["display"]),
                    "n_buyers": node["n_buyers"],
                    "degree": degree,
                }
            )
    hits = pd.DataFrame(rows, columns=["node_id", "kind", "key", "display", "n_buyers", "degree"])
    return Lookup(hits=hits.drop_duplicates("node_id").reset_index(drop=True))


@st.cache_data(max_entries=128, show_spinner=False)
def rings_of(uri: str, run_id: str, node_id: str) -> pd.DataFrame:
    """Rings that hold the entity, directly or through a buyer it links to (``ring_id, via`` + ring columns)."""
    entity, _, key = node_id.partition(":")
    members = _members(uri, run_id)
    direct = members[(members["entity_type"] == entity) & (members["entity_id"] == key)][["ring_id"]].assign(via="member")
    found = [direct]
    if entity != "buyer":
        sub = neighbourhood(uri, node_id, limit=2000)
        buyers = {n.partition(":")[2] for n in sub.edges["source"] if n.startswith("buyer:")}
        linked = members[(members["entity_type"] == "buyer") & members["entity_id"].isin(buyers)]
        found.append(linked[["ring_id"]].assign(via="buyer " + linked["entity_id"].astype(str)))
    hits = pd.concat(found, ignore_index=True).drop_duplicates("ring_id")
    ring_rows = rings(uri, run_id)
    return hits.merge(ring_rows, on="ring_id", how="inner").sort_values("score", ascending=False).reset_index(drop=True)

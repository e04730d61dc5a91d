"""Drawing a ring: which nodes to show, where to put them, and the ECharts spec.

Pure functions on pandas frames, no Streamlit: the cached loaders in
:mod:`app.web.data` call them, the pages only hand the spec to
``st.echarts_chart``. ECharts renders every string in the spec as plain text
(names, legend, tooltips are escaped), so text that came from buyers can go
into node names safely.

A ring's graph is its buyers, the sellers they buy from and the identifiers
(devices, addresses, phones, payment accounts, IPs) that bind them. An
identifier only one ring buyer uses explains nothing about the ring, so it is
counted but not drawn; one that several ring buyers share is drawn and
emphasised. Large rings are paged by buyer (highest member score first), so
the picture stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graph.layout import spring_layout
from graph.model import IDENTIFIER_COLUMNS
from graph.store.base import Subgraph

__all__ = [
    "RingGraph",
    "ENTITY_STYLE",
    "MAX_GRAPH_BUYERS",
    "MAX_GRAPH_NODES",
    "GRAPH_ORDER_COLUMNS",
    "orders_subgraph",
    "build_ring_graph",
    "add_expansion",
    "neighbourhood_graph",
    "NODE_COLUMNS",
    "echarts_spec",
    "selected_node",
]

# Buyers drawn per page of a large ring, and the node budget of one picture.
MAX_GRAPH_BUYERS = 300
MAX_GRAPH_NODES = 600

# entity -> (legend name, colour, symbol). Colour-blind safe palette (Okabe-Ito).
ENTITY_STYLE: dict[str, tuple[str, str, str]] = {
    "buyer": ("Buyer", "#0072B2", "circle"),
    "seller": ("Seller", "#D55E00", "roundRect"),
    "device": ("Device", "#009E73", "diamond"),
    "address": ("Address", "#CC79A7", "triangle"),
    "phone": ("Phone", "#E69F00", "diamond"),
    "payment": ("Payment", "#56B4E9", "diamond"),
    "ip": ("IP", "#999999", "triangle"),
    "ipnet": ("IP network", "#BBBBBB", "triangle"),
    "waybill": ("Waybill", "#F0E442", "rect"),
}
LINK_WIDTH = 0.6  # a link of one order; heavier links are drawn thicker
OUTSIDE_COLOUR = "#C8C8C8"  # nodes reached by expanding, not in the ring
SHARED_BORDER = "#B00020"

NODE_COLUMNS = [
    "node_id",
    "entity",
    "key",
    "display",
    "role",
    "score",
    "n_ring_buyers",
    "n_buyers",
    "in_ring",
    "shared",
    "x",
    "y",
]


@dataclass
class RingGraph:
    """What the Ring page draws.

    Attributes
    ----------
    nodes : pandas.DataFrame
        ``node_id`` (``"entity:key"``), ``entity``, ``key``, ``display``, ``role``,
        ``score`` (member score, NaN when not a member), ``n_ring_buyers`` (ring
        buyers drawn that use it), ``n_buyers`` (buyers in the whole store that
        use it, identifiers only), ``in_ring``, ``shared``, ``x``, ``y``.
        Row order is stable: expansions are appended, so a node keeps its index.
    edges : pandas.DataFrame
        ``source``, ``target`` (node ids), ``rel``, ``n_orders``.
    hidden_identifiers : int
        Identifiers used by a single drawn buyer, counted but not drawn.
    truncated : bool
        A store limit or the node budget cut the picture.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    hidden_identifiers: int = 0
    truncated: bool = False
    expanded: list[str] = field(default_factory=list)


# The order columns a ring's picture is drawn from: who bought from whom, and each identifier's key and raw value.
GRAPH_ORDER_COLUMNS = ["buyer_id", "seller_id", "created_at", *dict.fromkeys(c for pair in IDENTIFIER_COLUMNS.values() for c in pair)]


def _order_links(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order and thing it links its buyer to (``source, target, rel, raw, created_at``)."""
    source = "buyer:" + orders["buyer_id"].astype(str)
    parts = [
        pd.DataFrame(
            {
                "source": source,
                "target": "seller:" + orders["seller_id"].astype(str),
                "rel": "BOUGHT_FROM",
                "raw": None,
                "created_at": orders["created_at"],
            }
        )
    ]
    for kind, (col, raw) in IDENTIFIER_COLUMNS.items():
        has = orders[col].notna()
        parts.append(
            pd.DataFrame(
                {
                    "source": source[has],
                    "target": kind + ":" + orders.loc[has, col].astype(str),
                    "rel": "USED",
                    "raw": orders.loc[has, raw],
                    "created_at": orders.loc[has, "created_at"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def orders_subgraph(
    orders: pd.DataFrame, buyer_ids: list[str], seller_names: dict[str, str] | None = None, *, truncated: bool = False
) -> Subgraph:
    """The buyers' neighbourhood collapsed from their orders, shaped as ``store.neighbourhood("buyer", ...)`` returns it.

    The edges follow the store's rule (:data:`graph.model.IDENTIFIER_COLUMNS`):
    one ``USED`` edge per buyer and identifier key, one ``BOUGHT_FROM`` per
    buyer and seller, with the number of orders and the first and last order
    time. The Ring page reads these orders for its evidence anyway, so its
    picture needs no second store read. An identifier shows its most common
    spelling in these orders (ties: the smallest); ``n_buyers`` (store-wide)
    is left unknown, because it costs a scan of every order and only a
    clicked node shows it.

    Parameters
    ----------
    orders : pandas.DataFrame
        Orders with at least :data:`GRAPH_ORDER_COLUMNS`; those of other buyers are ignored.
    buyer_ids : list of str
        The buyers to draw (a buyer without orders is still a node).
    seller_names : dict, optional
        Seller id -> shop name, shown instead of the id.
    truncated : bool
        Passed on: the orders were cut by a read limit.
    """
    links = _order_links(orders[orders["buyer_id"].isin(buyer_ids)])
    edges = (
        links.groupby(["source", "target", "rel"], as_index=False, sort=False)
        .agg(n_orders=("created_at", "size"), first_seen=("created_at", "min"), last_seen=("created_at", "max"))
        .astype({"n_orders": "int64"})
        .sort_values(["n_orders", "source", "target"], ascending=[False, True, True], kind="stable")
        .reset_index(drop=True)
    )
    spellings = links.dropna(subset=["raw"]).groupby(["target", "raw"], as_index=False).size()
    spellings = spellings.sort_values(["target", "size", "raw"], ascending=[True, False, True]).drop_duplicates("target")
    display = dict(zip(spellings["target"], spellings["raw"], strict=True))
    display.update({f"seller:{s}": name for s, name in (seller_names or {}).items()})
    node_ids = sorted(set(edges["target"]) | {f"buyer:{b}" for b in buyer_ids})
    entity, key = zip(*(n.split(":", 1) for n in node_ids), strict=True) if node_ids else ((), ())
    nodes = pd.DataFrame(
        {
            "node_id": node_ids,
            "entity": list(entity),
            "key": list(key),
            "display": [display.get(n) or k for n, k in zip(node_ids, key, strict=True)],
            "n_buyers": pd.array([pd.NA] * len(node_ids), dtype=object),
        }
    )
    return Subgraph(nodes=nodes, edges=edges, truncated=truncated)


def _member_ids(members: pd.DataFrame) -> pd.Series:
    return members["entity_type"].astype(str) + ":" + members["entity_id"].astype(str)


def build_ring_graph(
    members: pd.DataFrame,
    sub: Subgraph,
    *,
    max_nodes: int = MAX_GRAPH_NODES,
    seed: int = 0,
) -> RingGraph:
    """Choose, describe and place the nodes of one ring (or one page of it).

    Parameters
    ----------
    members : pandas.DataFrame
        The ring's ``ring_members`` rows (``entity_type, entity_id, role, member_score``).
    sub : graph.store.base.Subgraph
        ``store.neighbourhood("buyer", buyer_ids)`` of the buyers to draw.
    max_nodes : int
        Node budget; beyond it the identifiers shared by the fewest ring buyers go first.
    seed : int
        Seed of the layout (the same ring is always drawn the same way).

    Returns
    -------
    RingGraph
    """
    member_ids = _member_ids(members)
    info = pd.DataFrame(
        {"node_id": member_ids, "role": members["role"].to_numpy(), "score": members["member_score"].to_numpy()}
    ).drop_duplicates("node_id")
    edges = sub.edges[["source", "target", "rel", "n_orders"]].copy()
    buyers = set(sub.nodes.loc[sub.nodes["entity"] == "buyer", "node_id"])
    edges = edges[edges["source"].isin(buyers)]
    per_target = edges.groupby("target")["source"].nunique()
    members_set = set(member_ids)

    # Keep what binds the ring: targets several drawn buyers reach, or that detection named as members.
    targets = pd.DataFrame({"node_id": per_target.index, "n_ring_buyers": per_target.to_numpy()})
    targets["member"] = targets["node_id"].isin(members_set)
    keep = targets[(targets["n_ring_buyers"] >= 2) | targets["member"]]
    budget = max(max_nodes - len(buyers), 0)
    truncated = bool(sub.truncated) or len(keep) > budget
    keep = keep.sort_values(["member", "n_ring_buyers", "node_id"], ascending=[False, False, True]).head(budget)
    is_seller = targets["node_id"].str.startswith("seller:")
    hidden = int((~targets["node_id"].isin(set(keep["node_id"])) & ~is_seller).sum())

    drawn = buyers | set(keep["node_id"])
    nodes = sub.nodes[sub.nodes["node_id"].isin(drawn)].copy()
    nodes = nodes.merge(info, on="node_id", how="left")
    nodes = nodes.merge(keep[["node_id", "n_ring_buyers"]], on="node_id", how="left")
    nodes["n_ring_buyers"] = nodes["n_ring_buyers"].fillna(0).astype("int64")
    nodes["n_buyers"] = pd.to_numeric(nodes["n_buyers"], errors="coerce")
    nodes["in_ring"] = True
    nodes["shared"] = ~nodes["entity"].isin(["buyer", "seller"]) & (nodes["n_ring_buyers"] >= 2)
    nodes["role"] = nodes["role"].fillna("")
    nodes = nodes.sort_values(["entity", "node_id"], kind="stable").reset_index(drop=True)
    edges = edges[edges["target"].isin(drawn)].reset_index(drop=True)

    index = pd.Series(np.arange(len(nodes)), index=nodes["node_id"])
    x, y = spring_layout(
        len(nodes), index[edges["source"]].to_numpy(), index[edges["target"]].to_numpy(), seed=seed
    )
    nodes["x"], nodes["y"] = x.astype(np.float64), y.astype(np.float64)
    return RingGraph(nodes=nodes[NODE_COLUMNS], edges=edges, hidden_identifiers=hidden, truncated=truncated)


def add_expansion(graph: RingGraph, anchor: str, sub: Subgraph) -> RingGraph:
    """Add a node's neighbours (from ``store.neighbourhood``) around it, keeping every other position.

    New nodes are appended (existing indices stay valid for a kept selection)
    and placed on a ring around ``anchor``; they are marked ``in_ring=False``.
    """
    nodes, edges = graph.nodes, graph.edges
    if anchor not in set(nodes["node_id"]):
        return graph
    known = set(nodes["node_id"])
    fresh = sub.nodes[~sub.nodes["node_id"].isin(known)].copy()
    ax, ay = nodes.loc[nodes["node_id"] == anchor, ["x", "y"]].iloc[0]
    span = float(np.ptp(nodes["x"]) + np.ptp(nodes["y"])) or 1.0
    angles = np.linspace(0, 2 * np.pi, num=len(fresh), endpoint=False)
    radius = 0.08 * span
    fresh = fresh.assign(
        role="",
        score=np.nan,
        n_ring_buyers=0,
        n_buyers=pd.to_numeric(fresh["n_buyers"], errors="coerce"),
        in_ring=False,
        shared=False,
        x=ax + radius * np.cos(angles),
        y=ay + radius * np.sin(angles),
    )
    new_edges = sub.edges[["source", "target", "rel", "n_orders"]]
    all_edges = pd.concat([edges, new_edges], ignore_index=True).drop_duplicates(["source", "target", "rel"])
    all_nodes = pd.concat([nodes, fresh[NODE_COLUMNS]], ignore_index=True) if len(fresh) else nodes
    return RingGraph(
        nodes=all_nodes,
        edges=all_edges.reset_index(drop=True),
        hidden_identifiers=graph.hidden_identifiers,
        truncated=graph.truncated or bool(sub.truncated),
        expanded=[*graph.expanded, anchor],
    )


def neighbourhood_graph(sub: Subgraph, focus: str, *, seed: int = 0) -> RingGraph:
    """The picture of one entity's neighbourhood (Search page); the entity itself is emphasised."""
    nodes = sub.nodes.reset_index(drop=True)
    nodes = nodes.assign(
        role="",
        score=np.nan,
        n_ring_buyers=0,
        n_buyers=pd.to_numeric(nodes["n_buyers"], errors="coerce"),
        in_ring=True,
        shared=nodes["node_id"] == focus,
    )
    index = pd.Series(np.arange(len(nodes)), index=nodes["node_id"])
    edges = sub.edges[sub.edges["source"].isin(index.index) & sub.edges["target"].isin(index.index)]
    edges = edges[["source", "target", "rel", "n_orders"]].reset_index(drop=True)
    x, y = spring_layout(len(nodes), index[edges["source"]].to_numpy(), index[edges["target"]].to_numpy(), seed=seed)
    nodes["x"], nodes["y"] = x.astype(np.float64), y.astype(np.float64)
    return RingGraph(nodes=nodes[NODE_COLUMNS], edges=edges, truncated=bool(sub.truncated))


def _label(row: dict) -> str:
    name = ENTITY_STYLE.get(row["entity"], (row["entity"],))[0]
    display = str(row["display"])
    if len(display) > 40:
        display = display[:39] + "…"
    return f"{name} {display}"


def _size(row: dict) -> float:
    if row["entity"] == "seller":
        return 26.0
    if row["entity"] == "buyer":
        score = row["score"]
        return 8.0 + 14.0 * (float(score) if pd.notna(score) else 0.0)
    return 7.0 + 4.0 * float(np.log2(max(int(row["n_ring_buyers"]), 1)))


def echarts_spec(graph: RingGraph, *, height_hint: int = 560) -> dict:
    """The ``st.echarts_chart`` option for a ring graph (node click selects; wheel zooms; drag pans).

    Colour and symbol say the role, size the member score (buyers) or how many
    ring buyers share it (identifiers); shared identifiers get a red border,
    nodes outside the ring are grey.
    """
    nodes = graph.nodes
    entities = [e for e in ENTITY_STYLE if e in set(nodes["entity"])]
    category = {e: i for i, e in enumerate(entities)}
    # ECharts draws links wrongly on tiny coordinates: spread the layout over 0..1000 (aspect kept).
    xs, ys = nodes["x"].to_numpy(dtype=float), nodes["y"].to_numpy(dtype=float)
    span = max(float(np.ptp(xs)) if len(xs) else 0.0, float(np.ptp(ys)) if len(ys) else 0.0) or 1.0
    xs = (xs - (xs.min() if len(xs) else 0.0)) * (1000.0 / span)
    ys = (ys - (ys.min() if len(ys) else 0.0)) * (1000.0 / span)
    data = []
    for r, x, y in zip(nodes.to_dict("records"), xs, ys, strict=True):
        _name, _colour, symbol = ENTITY_STYLE.get(r["entity"], (r["entity"], "#777777", "circle"))
        item: dict = {
            "id": r["node_id"],
            "name": _label(r),
            "x": round(float(x), 1),
            "y": round(float(y), 1),
            "symbol": symbol,
            "symbolSize": round(_size(r), 1),
            "category": category.get(r["entity"], 0),
            "value": round(float(r["score"]), 3) if pd.notna(r["score"]) else int(r["n_ring_buyers"]),
        }
        style: dict = {}
        if r["shared"]:
            style = {"borderColor": SHARED_BORDER, "borderWidth": 2}
        if not r["in_ring"]:
            style = {"color": OUTSIDE_COLOUR, "opacity": 0.8}
        if style:
            item["itemStyle"] = style
        if r["entity"] == "seller" or (r["shared"] and r["n_ring_buyers"] >= 3):
            item["label"] = {"show": True}
        data.append(item)
    # Links name their nodes by position in ``data`` (a few hundred nodes carry thousands of links, so
    # short links keep the spec small: it is copied, sent and parsed on every page run). A link of one
    # order takes the series' line width; heavier ones are drawn thicker.
    position = {node_id: i for i, node_id in enumerate(nodes["node_id"])}
    links = []
    for s, t, n in zip(graph.edges["source"], graph.edges["target"], graph.edges["n_orders"], strict=True):
        if s in position and t in position:
            link: dict = {"source": position[s], "target": position[t], "value": int(n)}
            if n > 1:
                link["lineStyle"] = {"width": round(LINK_WIDTH + 0.8 * float(np.log2(int(n))), 2)}
            links.append(link)
    categories = [
        {"name": ENTITY_STYLE[e][0], "itemStyle": {"color": ENTITY_STYLE[e][1]}, "symbol": ENTITY_STYLE[e][2]}
        for e in entities
    ]
    return {
        "animation": False,
        "tooltip": {"confine": True},
        "legend": [{"data": [c["name"] for c in categories], "top": 0, "type": "scroll"}],
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "selectedMode": "single",
                "top": 40,
                "bottom": 10,
                "categories": categories,
                "data": data,
                "links": links,
                "label": {"position": "right", "fontSize": 11},
                "labelLayout": {"hideOverlap": True},
                "lineStyle": {"color": "source", "opacity": 0.45, "width": LINK_WIDTH},
                "emphasis": {"focus": "adjacency", "lineStyle": {"width": 3}},
                "select": {"itemStyle": {"borderColor": "#000000", "borderWidth": 3}},
                "scaleLimit": {"min": 0.3, "max": 10},
            }
        ],
    }


def selected_node(event: object, nodes: pd.DataFrame) -> str | None:
    """The node id an ``st.echarts_chart`` selection points at, or None.

    Indices are not revalidated by Streamlit when the spec changes, so an
    index past the end means nothing is selected.
    """
    selection = getattr(event, "selection", None) or (event.get("selection") if isinstance(event, dict) else None)
    for group in (selection or {}).get("selected", []) or []:
        if group.get("data_type") == "node" and group.get("data_indices"):
            i = int(group["data_indices"][0])
            if 0 <= i < len(nodes):
                return str(nodes["node_id"].iloc[i])
    return None

"""What a report shows, read from the store: one run's rings and, per ring, everything around it.

:func:`load_run` reads what all reports of a run share (the rings, members,
evidence, analyst decisions, the previous run, earlier confirmed findings);
:func:`ring_context` adds what one ring needs (its orders, its graph
neighbourhood) and returns plain values, masked as asked, for the templates.
Nothing here formats HTML.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow.compute as pc

from graph import __version__
from graph.errors import ExportError
from graph.model import IDENTIFIER_KINDS, MEMBER_ENTITY_TYPES
from graph.report.mask import Masker
from graph.report.penalty import RuleSet, assess
from graph.report.svg import graph_picture, timeline_picture
from graph.store.base import GraphStore

__all__ = ["RunData", "load_run", "ring_context", "signal_label", "RING_TYPE_WORDS"]

# How a report names a ring type: evidence language, never a verdict.
RING_TYPE_WORDS: dict[str, dict[str, str]] = {
    "brushing": {
        "title": "Possible brushing ring",
        "consistent": "signals consistent with brushing (fake orders that boost a seller's sales, ratings or rank)",
    },
    "malicious_buyers": {
        "title": "Possible coordinated malicious buyers",
        "consistent": "signals consistent with coordinated abusive buying "
        "(refund abuse, negative-review attacks or extortion against the target sellers)",
    },
}
# Plain words for the signal names graph.score publishes (and the detector names it
# also lists as signals); unknown names are shown with spaces for underscores.
_SIGNAL_WORDS: dict[str, str] = {
    "shared_identifiers": "Accounts share identifiers few other accounts use",
    "target_concentration": "Orders concentrate on a few target shops",
    "target_dominance": "The ring placed a large part of its target shops' orders",
    "repeat_purchases": "The same accounts buy the same items again and again",
    "order_burst": "Many orders on a single day",
    "lockstep": "Accounts order at the same shops within the same hour or day, repeatedly",
    "silent_orders": "Orders placed without any chat with the seller",
    "price_gap": "Amounts paid far from the listed price",
    "fast_confirmation": "Receipt confirmed unusually fast after delivery",
    "five_star_reviews": "Uniform five-star ratings",
    "low_star_reviews": "One- and two-star ratings aimed at the target shops",
    "templated_reviews": "Review texts repeated across accounts",
    "waybill_reuse": "Waybill numbers used on more than one order",
    "missing_waybill": "Shipped orders without a waybill",
    "empty_parcels": "Parcels far lighter than the item (possible empty parcels)",
    "refunds": "Many refunds on orders to the target shops",
    "account_age": "Young accounts",
    "low_credit": "Low-credit accounts",
    "unverified_accounts": "Accounts without real-name verification",
    "identity": "Identity linkage grouped the accounts",
    "dense_block": "A dense block of accounts and shops (FRAUDAR)",
    "synchrony": "Accounts move in lockstep across repeated time windows",
}
_LIGHT_PARCEL_G = 50.0  # grams; an empty parcel (空包) weighs about this or less
# The order columns reports use: timestamps are slow to turn into Python, so read no others.
_ORDER_COLUMNS = (
    "order_id", "buyer_id", "seller_id", "item_id", "created_at", "amount", "item_price", "status",
    "chat_messages", "receiver_name", "receiver_phone", "ship_address", "address_key", "ip", "tracking_no",
    "parcel_weight_g", "rating", "review_text", "reviewed_at", "refund_reason",
)  # fmt: skip


def signal_label(signal: str) -> str:
    """A signal's name in plain words."""
    return _SIGNAL_WORDS.get(signal, signal.replace("_", " ").strip().capitalize())


def _split(value: str | None) -> list[str]:
    return [p for p in (value or "").split(";") if p]


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, str) and value:
        try:
            return _day(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


@dataclass
class RunData:
    """One detection run as the reports see it.

    Attributes
    ----------
    store : GraphStore
    run : dict
        The run's record from ``store.runs()``.
    rings : list of dict
        The run's rings, highest score first (optionally only the asked-for ones).
    members, evidence : dict of str to list of dict
        Rows of ``ring_members`` and ``ring_evidence`` per ring id, in store order.
    previous : dict of str to dict
        The previous run's rings by id (empty for a first run).
    decisions : dict of str to list of dict
        Analyst decisions per ring id, newest first.
    confirmed : dict of str to tuple of (date, list of str)
        Rings whose latest decision is ``confirmed``: the day and their target sellers
        (brushing rings only), from this run or earlier ones.
    data_range : tuple of datetime or None
        First and last order time in the store.
    rules : RuleSet
    mask : bool
    subset : bool
        Only some of the run's rings were asked for.
    """

    store: GraphStore
    run: dict[str, Any]
    rings: list[dict[str, Any]]
    members: dict[str, list[dict[str, Any]]]
    evidence: dict[str, list[dict[str, Any]]]
    previous: dict[str, dict[str, Any]]
    decisions: dict[str, list[dict[str, Any]]]
    confirmed: dict[str, tuple[date, list[str]]]
    data_range: tuple[datetime | None, datetime | None]
    rules: RuleSet
    mask: bool
    subset: bool = False
    version: str = __version__
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {r["ring_id"]: r for r in self.rings}
        self._hood: Neighbourhood | None = None
        self._orders: dict[str, list[dict[str, Any]]] | None = None

    def _buyers(self) -> list[str]:
        """Every buyer of the run's (selected) rings."""
        return sorted({m["entity_id"] for rows in self.members.values() for m in rows if m["entity_type"] == "buyer"})

    def neighbourhood(self) -> Neighbourhood:
        """The links around every buyer of the run's (selected) rings, read on first use."""
        if self._hood is None:
            self._hood = Neighbourhood.read(self.store, self._buyers())
        return self._hood

    def orders_of(self, buyers: list[str]) -> list[dict[str, Any]]:
        """The buyers' orders (the columns reports show; shared dicts: copy before changing one).

        Every ring buyer's orders are read in one store call on first use: a call costs a scan
        of the orders table however few buyers it names.
        """
        if self._orders is None:
            every = self._buyers()
            self._orders = defaultdict(list)
            for o in self.store.orders_of(every, columns=list(_ORDER_COLUMNS)).to_pylist() if every else []:
                self._orders[o["buyer_id"]].append(o)
        return [o for b in buyers for o in self._orders.get(b, [])]

    def read_all(self) -> None:
        """Read now what :func:`ring_context` would read on first use (before forking workers that
        must not touch the store)."""
        self.neighbourhood()
        self.orders_of([])

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id", ""))


def _group(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["ring_id"]].append(row)
    return dict(grouped)


@dataclass
class Neighbourhood:
    """The buyer-identifier-seller links around the rings' buyers, read once per export.

    Attributes
    ----------
    nodes : dict
        ``"<entity>:<key>"`` -> (raw display value, buyers in the whole store using it or None).
    edges : dict
        Buyer node id -> list of (target node id, rel, n_orders).
    truncated : bool
        The store's limit cut the links.
    """

    nodes: dict[str, tuple[str, int | None]]
    edges: dict[str, list[tuple[str, str, int]]]
    truncated: bool

    @classmethod
    def read(cls, store: GraphStore, buyers: Iterable[str]) -> Neighbourhood:
        ids = sorted(set(buyers))
        if not ids:
            return cls({}, {}, False)
        # One call for every ring: the store answers a big question about as fast as a small one.
        sub = store.neighbourhood("buyer", ids, limit=max(50_000, 60 * len(ids)))
        # Whole columns to Python at once: iterating a frame's rows costs seconds per 100k nodes.
        n, e = sub.nodes, sub.edges
        nodes = {
            node: (raw if isinstance(raw, str) and raw else str(key), _count(count))
            for node, key, raw, count in zip(
                n["node_id"].tolist(), n["key"].tolist(), n["display"].tolist(), n["n_buyers"].tolist(), strict=True
            )
        }
        edges: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for source, target, rel, n_orders in zip(
            e["source"].tolist(), e["target"].tolist(), e["rel"].tolist(), e["n_orders"].tolist(), strict=True
        ):
            edges[source].append((target, rel, int(n_orders)))
        return cls(nodes, dict(edges), bool(sub.truncated))


def _data_range(store: GraphStore, run: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The run's own record of the data range, else the orders' first and last time."""
    for lo, hi in (("data_from", "data_to"), ("first_order_at", "last_order_at")):
        if run.get(lo) and run.get(hi):
            parsed = [datetime.fromisoformat(str(run[k]).replace("Z", "+00:00")) for k in (lo, hi)]
            return parsed[0], parsed[1]
    created = store.read_table("orders", ["created_at"]).column("created_at")
    if len(created) == 0 or created.null_count == len(created):
        return None, None
    span = pc.min_max(created).as_py()
    return span["min"], span["max"]


def load_run(
    store: GraphStore,
    *,
    rules: RuleSet,
    run_id: str | None = None,
    ring_ids: Iterable[str] | None = None,
    mask: bool = True,
) -> RunData:
    """Read a run (default: the latest) and what its reports share.

    Raises
    ------
    graph.errors.ExportError
        No run is published, ``run_id`` is unknown, or a ring of ``ring_ids`` is not in the run.
    """
    runs = store.runs()
    if not runs:
        raise ExportError("the store holds no detection run yet: run `ringwatch detect` (or `ringwatch batch`) first")
    index = 0
    if run_id is not None:
        ids = [str(r.get("run_id")) for r in runs]
        if run_id not in ids:
            raise ExportError(f"run {run_id!r} is not in the store; its runs are {ids[:10]}")
        index = ids.index(run_id)
    run = runs[index]
    rid = str(run["run_id"])
    rings = store.read_results("rings", rid).to_pylist()
    if ring_ids is not None:
        wanted = list(dict.fromkeys(ring_ids))
        known = {r["ring_id"] for r in rings}
        missing = [r for r in wanted if r not in known]
        if missing:
            raise ExportError(
                f"ring(s) {missing} are not in run {rid}; `ringwatch export` without --ring exports them all"
            )
        rings = [r for r in rings if r["ring_id"] in set(wanted)]
    keep = {r["ring_id"] for r in rings}
    members = _group(m for m in store.read_results("ring_members", rid).to_pylist() if m["ring_id"] in keep)
    evidence = _group(e for e in store.read_results("ring_evidence", rid).to_pylist() if e["ring_id"] in keep)
    previous: dict[str, dict[str, Any]] = {}
    if index + 1 < len(runs):
        previous = {r["ring_id"]: r for r in store.read_results("rings", str(runs[index + 1]["run_id"])).to_pylist()}
    decisions = _group(store.decisions().to_pylist())
    return RunData(
        store=store,
        run=run,
        rings=rings,
        members=members,
        evidence=evidence,
        previous=previous,
        decisions=decisions,
        confirmed=_confirmed(store, runs, decisions, index),
        data_range=_data_range(store, run),
        rules=rules,
        mask=mask,
        subset=ring_ids is not None,
    )


def _confirmed(
    store: GraphStore, runs: list[dict[str, Any]], decisions: dict[str, list[dict[str, Any]]], index: int
) -> dict[str, tuple[date, list[str]]]:
    """Confirmed brushing rings and their target sellers: each is one earlier offence of those sellers."""
    days = {
        ring: day
        for ring, rows in decisions.items()
        if rows and rows[0]["decision"] == "confirmed" and (day := _day(rows[0]["decided_at"])) is not None
    }
    found: dict[str, tuple[date, list[str]]] = {}
    # Look rings up from this run backwards; a ring keeps its id while it keeps its members.
    for run in runs[index:]:
        if len(found) == len(days):
            break
        for ring in store.read_results("rings", str(run["run_id"])).to_pylist():
            rid = ring["ring_id"]
            if rid in days and rid not in found and ring["ring_type"] == "brushing":
                found[rid] = (days[rid], _split(ring["target_seller_ids"]))
    return found


def _count(value: Any) -> int | None:
    """An integer from a frame cell that may be NA, NaN or a numpy number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _json_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _finding_day(data: RunData, ring: dict[str, Any]) -> date:
    """The day this ring would count as found: its confirmation, else the run's day, else its last order."""
    rows = data.decisions.get(ring["ring_id"], [])
    if rows and rows[0]["decision"] == "confirmed" and (day := _day(rows[0]["decided_at"])):
        return day
    for key in ("finished_at", "published_at", "started_at"):
        if day := _day(data.run.get(key)):
            return day
    return _day(ring["last_order_at"]) or date(1970, 1, 1)


def _ring_orders(data: RunData, ring: dict[str, Any], buyers: list[str], targets: list[str]) -> list[dict[str, Any]]:
    """The ring's orders, as detection counts them: its buyers' orders in its time span, oldest first.

    Each order gets ``target``: placed with one of the ring's target sellers.
    """
    if not buyers:
        return []
    orders = data.orders_of(buyers)
    lo, hi = ring["first_order_at"], ring["last_order_at"]
    if hi is not None:
        hi += timedelta(seconds=1)  # the ring's span may be kept to the second, order times finer
    wanted = set(targets)
    chosen = [
        {**o, "target": o["seller_id"] in wanted}
        for o in orders
        if (lo is None or o["created_at"] >= lo) and (hi is None or o["created_at"] < hi)
    ]
    return sorted(chosen, key=lambda o: (o["created_at"], o["order_id"]))


def ring_context(
    data: RunData,
    ring_id: str,
    *,
    max_orders: int = 200,
    max_rows: int = 50,
    max_graph_buyers: int = 60,
    files: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything one ring's report shows, masked as ``data.mask`` says.

    Parameters
    ----------
    data : RunData
    ring_id : str
    max_orders : int
        Orders listed (the rest are counted).
    max_rows : int
        Reviews, refunds, members and identifiers listed.
    max_graph_buyers : int
        Buyers drawn in the graph picture (highest member scores first).
    files : dict, optional
        Links to other formats of the same report (``{"pdf": "R1.pdf"}``).
    """
    ring = data.by_id[ring_id]
    masker = Masker(enabled=data.mask)
    members = data.members.get(ring_id, [])
    buyers = [m["entity_id"] for m in members if m["entity_type"] == "buyer"]
    targets = _split(ring["target_seller_ids"])
    sellers = list(dict.fromkeys([*targets, *(m["entity_id"] for m in members if m["entity_type"] == "seller")]))

    hood = data.neighbourhood()
    edges = [(f"buyer:{b}", t, rel, n) for b in buyers for t, rel, n in hood.edges.get(f"buyer:{b}", [])]
    display: dict[str, str] = {}  # node id -> label, masked
    n_buyers_of: dict[str, int] = {}
    for node in {f"buyer:{b}" for b in buyers} | {t for _s, t, _r, _n in edges}:
        entity, key = node.split(":", 1)
        raw, count = hood.nodes.get(node, (key, None))
        # An ipnet node's raw column is an IP of the network: show the network itself.
        display[node] = masker.learn(entity, key if entity == "ipnet" else raw, key) or key
        if count is not None:
            n_buyers_of[node] = count
    for m in members:
        if m["entity_type"] not in ("buyer", "seller"):
            masker.learn(m["entity_type"], m["entity_id"])

    orders = _ring_orders(data, ring, buyers, targets)
    for o in orders:  # raw spellings of the ring's identifiers, so free text can be scrubbed of them
        masker.learn("address", o["ship_address"], o["address_key"])
        masker.learn("phone", o["receiver_phone"])
        masker.learn("ip", o["ip"])
        masker.learn("waybill", o["tracking_no"])

    signals = [
        {
            "signal": e["signal"],
            "label": signal_label(e["signal"]),
            "value": e["value"],
            "strength": e["strength"],
            "weight": e["weight"],
            "explanation": masker.text(e["explanation"]),
        }
        for e in data.evidence.get(ring_id, [])
    ]
    words = RING_TYPE_WORDS.get(
        ring["ring_type"], {"title": "Possible ring", "consistent": "unusual coordinated activity"}
    )
    return {
        "ring": _summary(data, ring, targets, display, masker),
        "words": words,
        "signals": [s for s in signals if _counts(s)],
        "other_signals": [s for s in signals if not _counts(s)],
        "graph": _graph(edges, hood.truncated, members, sellers, display, max_graph_buyers),
        "timeline": timeline_picture(
            [o["created_at"] for o in orders if o["created_at"] is not None],
            highlight=[o["target"] for o in orders if o["created_at"] is not None],
        ),
        "members": _members(members, masker, display, max_rows),
        "identifiers": _shared_identifiers(edges, hood.truncated, display, n_buyers_of, max_rows),
        "orders": _orders(orders, masker, max_orders),
        "reviews": _reviews(orders, masker, max_rows),
        "refunds": _refunds(orders, masker, max_rows),
        "decisions": [{**d, "note": masker.text(d["note"])} for d in data.decisions.get(ring_id, [])],
        "penalty": _penalty(data, ring, orders, targets, display),
        "run": run_metadata(data),
        "files": files or {},
    }


def _counts(signal: dict[str, Any]) -> bool:
    """A signal worth a row of "why it was flagged": it carries part of the score or stands out."""
    return (signal["weight"] or 0) >= 0.005 or (signal["strength"] or 0) >= 0.5


def _summary(
    data: RunData, ring: dict[str, Any], targets: list[str], display: dict[str, str], masker: Masker
) -> dict[str, Any]:
    prev = data.previous.get(ring["ring_id"])
    if prev is not None:
        change_detail = (
            f"previous run: {prev['n_buyers']} buyers, {prev['n_orders']} orders, score {prev['score']:.2f}; "
            f"now {ring['n_buyers']} buyers, {ring['n_orders']} orders, score {ring['score']:.2f}"
        )
    elif ring["change"] == "new":
        change_detail = "first found in this run"
    else:
        change_detail = ""
    first, last = ring["first_order_at"], ring["last_order_at"]
    return {
        **ring,
        "targets": [{"id": s, "name": display.get(f"seller:{s}", s)} for s in targets],
        "signals": _split(ring["top_signals"]),
        "methods_list": _split(ring.get("methods")),
        "summary": masker.text(ring.get("summary")),
        "span_seconds": (last - first).total_seconds() if first and last else None,
        "change_detail": change_detail,
    }


def _graph(
    edges: list[tuple[str, str, str, int]],
    truncated: bool,
    members: list[dict[str, Any]],
    sellers: list[str],
    display: dict[str, str],
    max_buyers: int,
) -> dict[str, Any] | None:
    """The ring's buyers, the identifiers at least two of them share, and the ring's sellers."""
    buyers = [m for m in members if m["entity_type"] == "buyer"]
    ranked = sorted(buyers, key=lambda m: (-(m["member_score"] or 0), m["entity_id"]))
    if not ranked:
        return None
    shown = {f"buyer:{m['entity_id']}" for m in ranked[:max_buyers]}
    member_ids = {f"{m['entity_type']}:{m['entity_id']}" for m in members}
    seller_ids = {f"seller:{s}" for s in sellers}
    users: dict[str, set[str]] = defaultdict(set)
    for source, target, _rel, _n in edges:
        if source in shown:
            users[target].add(source)
    keep = {
        t
        for t, who in users.items()
        if t in seller_ids or (t.split(":", 1)[0] != "seller" and (len(who) >= 2 or t in member_ids))
    }
    nodes = sorted(shown) + sorted(keep)
    drawn = [{"id": n, "entity": n.split(":", 1)[0], "label": display.get(n, n.split(":", 1)[1])} for n in nodes]
    picture = graph_picture(drawn, [e for e in edges if e[0] in shown and e[1] in keep])
    picture["buyers_shown"] = len(shown)
    picture["buyers_total"] = len(ranked)
    picture["truncated"] = truncated
    return picture


def _members(members: list[dict[str, Any]], masker: Masker, display: dict[str, str], cap: int) -> dict[str, Any]:
    order = {t: i for i, t in enumerate(MEMBER_ENTITY_TYPES)}
    rows = sorted(members, key=lambda m: (order.get(m["entity_type"], 99), -(m["member_score"] or 0), m["entity_id"]))
    counts = Counter(m["entity_type"] for m in members)

    def shown_id(m: dict[str, Any]) -> str | None:
        if m["entity_type"] in ("buyer", "seller"):
            return m["entity_id"]
        # Identifiers as the graph shows them (raw spelling, masked), else masked from the key.
        return display.get(f"{m['entity_type']}:{m['entity_id']}") or masker.identifier(
            m["entity_type"], m["entity_id"]
        )

    shown = [{**m, "entity_id": shown_id(m)} for m in rows[:cap]]
    return {"rows": shown, "total": len(rows), "counts": sorted(counts.items(), key=lambda kv: order.get(kv[0], 99))}


def _shared_identifiers(
    edges: list[tuple[str, str, str, int]],
    truncated: bool,
    display: dict[str, str],
    n_buyers_of: dict[str, int],
    cap: int,
) -> dict[str, Any]:
    """Identifiers used by two or more of the ring's buyers: the links an analyst checks first."""
    users: dict[str, set[str]] = defaultdict(set)
    orders: Counter[str] = Counter()
    for source, target, rel, n in edges:
        if rel == "USED" and target.split(":", 1)[0] in IDENTIFIER_KINDS:
            users[target].add(source.split(":", 1)[1])
            orders[target] += n
    shared = [(node, who) for node, who in users.items() if len(who) >= 2]
    shared.sort(key=lambda nw: (-len(nw[1]), nw[0]))
    rows = [
        {
            "kind": node.split(":", 1)[0],
            "value": display.get(node, node.split(":", 1)[1]),
            "ring_buyers": len(who),
            "store_buyers": n_buyers_of.get(node),
            "orders": orders[node],
            "examples": sorted(who)[:5],
        }
        for node, who in shared[:cap]
    ]
    return {"rows": rows, "total": len(shared), "truncated": truncated}


def _orders(orders: list[dict[str, Any]], masker: Masker, cap: int) -> dict[str, Any]:
    rows = [
        {
            "created_at": o["created_at"],
            "order_id": o["order_id"],
            "buyer_id": o["buyer_id"],
            "seller_id": o["seller_id"],
            "item_id": o["item_id"],
            "amount": o["amount"],
            "item_price": o["item_price"],
            "status": o["status"],
            "chat_messages": o["chat_messages"],
            "receiver": masker.name(o["receiver_name"]),
            "phone": masker.phone(o["receiver_phone"]),
            "address": masker.address(o["ship_address"], o["address_key"]),
            "ip": masker.ip(o["ip"]),
            "waybill": masker.waybill(o["tracking_no"]),
            "weight": o["parcel_weight_g"],
            "target": o["target"],
        }
        for o in orders[:cap]
    ]
    return {
        "rows": rows,
        "total": len(orders),
        "to_targets": sum(1 for o in orders if o["target"]),
        "hidden": max(len(orders) - cap, 0),
        "silent": sum(1 for o in orders if o["chat_messages"] == 0),
        "light": sum(1 for o in orders if o["parcel_weight_g"] is not None and o["parcel_weight_g"] <= _LIGHT_PARCEL_G),
        "light_grams": _LIGHT_PARCEL_G,
        "amount": sum(o["amount"] or 0.0 for o in orders),
    }


def _reviews(orders: list[dict[str, Any]], masker: Masker, cap: int) -> dict[str, Any]:
    reviewed = [o for o in orders if o["rating"] is not None or (o["review_text"] or "").strip()]
    stars = Counter(o["rating"] for o in reviewed if o["rating"] is not None)
    texts: dict[str, set[str]] = defaultdict(set)
    for o in reviewed:
        text = re.sub(r"\s+", " ", (o["review_text"] or "").strip())
        if text:
            texts[text].add(o["buyer_id"])
    repeated = sorted(((t, len(b)) for t, b in texts.items() if len(b) >= 2), key=lambda tb: (-tb[1], tb[0]))
    rows = [
        {
            "at": o["reviewed_at"] or o["created_at"],
            "order_id": o["order_id"],
            "buyer_id": o["buyer_id"],
            "seller_id": o["seller_id"],
            "rating": o["rating"],
            "text": masker.text(o["review_text"]),
        }
        for o in reviewed[:cap]
    ]
    return {
        "rows": rows,
        "total": len(reviewed),
        "hidden": max(len(reviewed) - cap, 0),
        "stars": [(s, stars.get(s, 0)) for s in range(5, 0, -1)],
        "repeated": [{"text": masker.text(t), "buyers": n} for t, n in repeated[:10]],
    }


def _refunds(orders: list[dict[str, Any]], masker: Masker, cap: int) -> dict[str, Any]:
    refunded = [o for o in orders if o["status"] == "refunded" or (o["refund_reason"] or "").strip()]
    reasons = Counter((o["refund_reason"] or "").strip() or "(no reason given)" for o in refunded)
    rows = [
        {
            "at": o["created_at"],
            "order_id": o["order_id"],
            "buyer_id": o["buyer_id"],
            "seller_id": o["seller_id"],
            "amount": o["amount"],
            "status": o["status"],
            "reason": masker.text(o["refund_reason"]),
        }
        for o in refunded[:cap]
    ]
    return {
        "rows": rows,
        "total": len(refunded),
        "hidden": max(len(refunded) - cap, 0),
        "reasons": [
            {"reason": masker.text(r), "count": n} for r, n in sorted(reasons.items(), key=lambda rn: (-rn[1], rn[0]))
        ],
    }


def _penalty(
    data: RunData, ring: dict[str, Any], orders: list[dict[str, Any]], targets: list[str], display: dict[str, str]
) -> dict[str, Any]:
    """Each target seller's exposure under the rule set (brushing rings only: there the sellers gain)."""
    rules = data.rules
    base = {"rules": rules, "applicable": ring["ring_type"] == "brushing", "sellers": []}
    if not base["applicable"]:
        return base
    finding = _finding_day(data, ring)
    for seller in targets:
        mine = [o for o in orders if o["seller_id"] == seller]
        earlier = [
            day for rid, (day, sellers) in data.confirmed.items() if rid != ring["ring_id"] and seller in sellers
        ]
        exposure = assess(
            rules,
            seller_id=seller,
            trade_times=[o["created_at"] for o in mine],
            items=[o["item_id"] for o in mine],
            earlier_findings=earlier,
            finding=finding,
        )
        base["sellers"].append({"name": display.get(f"seller:{seller}", seller), "exposure": exposure})
    return base


def run_metadata(data: RunData) -> dict[str, Any]:
    """What the report says about the run that produced it (the run's own timestamps, never now)."""
    skip = {"run_id", "finished_at", "started_at"}
    return {
        "run_id": data.run_id,
        "started_at": data.run.get("started_at"),
        "finished_at": data.run.get("finished_at"),
        "data_from": data.data_range[0],
        "data_to": data.data_range[1],
        "version": data.version,
        "masked": data.mask,
        "rules": data.rules,
        "parameters": [(k, _json_value(v)) for k, v in sorted(data.run.items()) if k not in skip],
    }

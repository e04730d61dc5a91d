"""The ground truth: ``truth.json`` (expected counts, rings, look-alikes) and ``truth_buyers.csv``.

Counts describe what the files hold (from the ``Tally``), so a correct ingest
reproduces them; rings and look-alike groups list buyers by id.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .arrays import bytes_text, decoded, distinct_rows
from .clock import DAYS, END, START, TZ
from .files import Writer
from .lookalikes import LOOKALIKE_KINDS
from .rings import Ring
from .tally import Tally
from .texts import identifier_text
from .waybills import Waybills
from .world import World

__all__ = ["build_truth", "write_truth", "write_truth_buyers"]


def build_truth(w: World, tally: Tally, bills: Waybills, rings: list[Ring], lookalikes: list[dict],
                seed: int, orders: int) -> dict[str, Any]:
    """The ground truth: expected counts of what was written, the planted rings, the look-alike groups."""
    dev = np.flatnonzero(tally.device)
    ip = np.flatnonzero(tally.ip)
    pay = np.flatnonzero(tally.payment)
    d, i, p = w.devices, w.ips, w.payments
    expected = {
        "Buyer": w.n_buyers,
        "Seller": w.n_sellers,
        "Item": len(w.item_seller),
        "Order": orders,
        "Address": int(tally.addr.sum()),
        "Device": distinct_rows(d["kind"][dev], d["hi"][dev], d["lo"][dev]),
        "IP": distinct_rows(i["ver"][ip].astype(np.uint64), i["hi"][ip], i["lo"][ip]),
        "IPNetwork": distinct_rows(i["ver"][ip].astype(np.uint64), w.ip_net(ip)),
        "Phone": tally.phones(),
        "Payment": distinct_rows(p["hi"][pay], p["lo"][pay]),
        "Waybill": bills.count,
    }
    ring_list = []
    for r in rings:
        pools = {}
        for kind, ids_ in sorted(r.pools.items()):
            ids_ = np.asarray(ids_, np.int64)
            pools[kind] = sorted(set(identifier_text(w, kind, ids_).to_pylist()))
        t = r.frame["t"]
        ring_list.append({
            "ring_id": r.ring_id, "ring_type": r.ring_type, "tactic": r.tactic,
            "buyers": sorted(decoded(w.buyer_ids[r.buyers])),
            "target_seller_ids": sorted(decoded(w.seller_ids[r.targets])),
            "n_orders": len(t),
            "first_order_at": datetime.fromtimestamp(int(t.min()), TZ).isoformat(),
            "last_order_at": datetime.fromtimestamp(int(t.max()), TZ).isoformat(),
            "identifiers": pools,
        })
    return {
        "seed": seed,
        "orders": orders,
        "generator": "ringwatch.generate/1",
        "period": {"first_day": datetime.fromtimestamp(START, TZ).date().isoformat(), "days": DAYS,
                   "export_at": datetime.fromtimestamp(END, TZ).isoformat()},
        "expected_counts": expected,
        "expected_edge_counts": {**tally.edges, "IN_NETWORK": expected["IP"], "LISTED_BY": expected["Item"]},
        "expected_counts_orders_only": {"Phone": tally.order_phones},
        "notes": {
            "Address": "distinct canonical addresses; typing variants of one address count once",
            "Phone": "distinct receiver_phone and buyers.phone values after digits-only normalisation "
                     "(+86 dropped); a masked phone is its own identifier; receiver phones alone: "
                     "expected_counts_orders_only",
            "Buyer": "every buyer is listed in the buyers file; all ring members placed orders",
            "expected_edge_counts": "order edges: orders carrying the column; USED (buyer-identifier) not given",
        },
        "rings": ring_list,
        "lookalikes": lookalikes,
    }


def write_truth(truth: dict[str, Any], path: Path) -> None:
    """JSON with one ring or look-alike group per line: readable, diffable, written fast."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("{\n")
        for n, (key, value) in enumerate(truth.items()):
            end = ",\n" if n < len(truth) - 1 else "\n"
            if isinstance(value, list):
                rows = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
                fh.write(f' "{key}": [\n{rows}\n ]{end}' if value else f' "{key}": []{end}')
            else:
                fh.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{end}")
        fh.write("}\n")


def write_truth_buyers(w: World, rings: list[Ring], lookalike_mask: np.ndarray, path: Path) -> None:
    """Every buyer once, sorted by id: its ring (if any) and its look-alike kinds (``;``-separated)."""
    ring_idx = np.zeros(w.n_buyers, np.int64)  # 0 = no ring
    for k, r in enumerate(rings):
        ring_idx[r.buyers] = k + 1
    masks, inverse = np.unique(lookalike_mask, return_inverse=True)
    labels = [";".join(sorted(k for b, k in enumerate(LOOKALIKE_KINDS) if m >> b & 1)) or None for m in masks]
    order = np.argsort(w.buyer_ids, kind="stable")
    ring_of = ring_idx[order]

    def strings(values: list[str | None]) -> pa.Array:
        return pa.array(values, pa.string())

    table = pa.table({
        "buyer_id": bytes_text(w.buyer_ids[order]),
        "ring_id": strings([None] + [r.ring_id for r in rings]).take(pa.array(ring_of)),
        "ring_type": strings([None] + [r.ring_type for r in rings]).take(pa.array(ring_of)),
        "tactic": strings([None] + [r.tactic for r in rings]).take(pa.array(ring_of)),
        "lookalike": strings(labels).take(pa.array(inverse.ravel()[order])),
    })
    Writer("csv").write(table, path)

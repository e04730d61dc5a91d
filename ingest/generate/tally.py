"""What the written orders hold, tallied chunk by chunk: distinct identifiers and per-buyer facts.

The truth's ``expected_counts`` and look-alike groups, and the buyers file's
registration dates, come from here, so they describe what was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .world import World

__all__ = ["ORDER_EDGES", "Tally"]

# Order edges of graph/model.py and the order column that carries each.
ORDER_EDGES = {"PLACED": "buyer_id", "SOLD_BY": "seller_id", "CONTAINS": "item_id", "SHIPPED_TO": "ship_address",
               "USED_DEVICE": "device_id", "FROM_IP": "ip", "RECEIVER_PHONE": "receiver_phone",
               "PAID_WITH": "payment_account", "SHIPPED_AS": "tracking_no"}


@dataclass
class Tally:
    """Distinct identifiers seen, for ``expected_counts``, and per-buyer facts for the buyers file."""

    w: World
    addr: np.ndarray = field(init=False)
    device: np.ndarray = field(init=False)
    ip: np.ndarray = field(init=False)
    phone_full: np.ndarray = field(init=False)
    phone_masked: np.ndarray = field(init=False)
    payment: np.ndarray = field(init=False)
    first_t: np.ndarray = field(init=False)
    n_orders: np.ndarray = field(init=False)
    used: np.ndarray = field(init=False)
    nat: np.ndarray = field(init=False)
    fav: np.ndarray = field(init=False)
    flash: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDER_EDGES, 0))
    order_phones: int = 0

    def __post_init__(self) -> None:
        w = self.w
        self.addr = np.zeros(w.addresses.n, bool)
        self.device = np.zeros(w.devices.n, bool)
        self.ip = np.zeros(w.ips.n, bool)
        self.phone_full = np.zeros(w.phones.n, bool)
        self.phone_masked = np.zeros(1000 * 10**4, bool)  # prefix * 10^4 + last four digits
        self.payment = np.zeros(w.payments.n, bool)
        self.first_t = np.full(w.n_buyers, np.iinfo(np.int64).max)
        self.n_orders = np.zeros(w.n_buyers, np.int32)
        self.used = np.zeros(w.n_buyers, np.int32)
        # The busiest carrier NAT IPs (first of the largest pools) are listed as look-alikes.
        pools = np.argsort(-w.nat_n.ravel(), kind="stable")[:4]
        self.nat_ips = w.nat0.ravel()[pools]
        self.nat = np.zeros((w.n_buyers, len(self.nat_ips)), bool)
        self.fav = np.zeros(w.n_buyers, np.int32)

    def phones(self) -> int:
        """Distinct phone keys so far: full numbers, and masked ones by their visible digits."""
        return len(np.unique(self.w.phones["number"][self.phone_full])) + int(self.phone_masked.sum())

    def see_phones(self, ids: np.ndarray, masked: np.ndarray) -> None:
        """Count phones written: full numbers by id, masked ones by prefix and last four digits."""
        number = self.w.phones["number"][ids[masked]]
        self.phone_full[ids[~masked]] = True
        self.phone_masked[(number // 10**8) * 10**4 + number % 10**4] = True

    def add(self, f: dict[str, np.ndarray], table: pa.Table) -> None:
        """Tally a written chunk: its frame as rendered, and its orders table for the edge counts."""
        for rel, col in ORDER_EDGES.items():
            self.edges[rel] += len(table) - table[col].null_count
        b = f["buyer"]
        np.minimum.at(self.first_t, b, f["t"])
        np.add.at(self.n_orders, b, 1)
        np.bitwise_or.at(self.used, b, f["used"])
        self.addr[self.w.addr_canon[f["addr"][f["addr"] >= 0]]] = True
        self.device[f["device"][f["device"] >= 0]] = True
        self.ip[f["ip"][f["ip"] >= 0]] = True
        self.see_phones(f["phone"], f["masked"])
        self.payment[f["pay"][f["pay"] >= 0]] = True
        for k, ip in enumerate(self.nat_ips):
            self.nat[b[f["ip"] == ip], k] = True
        fav = (f["item"] == self.w.fav_item[b]) & (f["ring"] < 0)
        np.add.at(self.fav, b[fav], 1)

"""A chunk's order frame rendered as the typed orders table of the contract (CONTRACT.md section 1).

Statuses, timestamps and waybills follow from the frame's delays and the
export time; identifiers are typed as the buyer types them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrays import as_text, bytes_text, join, mix, scatter, take
from .clock import DAY, END, business_hours
from .lexicon import CARRIER_NAMES, FRAGS, REASONS
from .texts import address_text, device_text, ip_text, payment_text, person_text, phone_text
from .waybills import Waybills
from .world import World

__all__ = ["render_orders"]


def render_orders(w: World, f: dict[str, np.ndarray], rng: np.random.Generator, bills: Waybills,
                  next_id: int) -> tuple[pa.Table, int]:
    """The typed orders table of a chunk (timestamps as epoch seconds; formatting is per file format),
    and the last order id. Clears ``f["pay"]`` where no payment is written, so the tally counts the file."""
    n = len(f["t"])
    t = f["t"]
    seller = w.item_seller[f["item"]]
    virtual = w.item_virtual[f["item"]]
    ship = np.where(virtual, t + f["ship_d"], business_hours(rng, t + f["ship_d"]))
    deliv = np.where(virtual, ship, business_hours(rng, ship + f["deliv_d"]))
    done = deliv + f["conf_d"]  # confirmation, or the refund for refunded orders
    refunded = (f["refund"] >= 0) & (done <= END)
    recent = t > END - DAY
    status = np.select(
        [f["cancel"] | (f["unpaid"] & ~recent), f["unpaid"], ship > END, deliv > END, refunded, done > END],
        ["cancelled", "created", "paid", "shipped", "refunded", "delivered"], "completed")
    paid = ~f["unpaid"] & ~(f["cancel"] & (rng.random(n) < 0.4))
    shipped = np.isin(status, ["shipped", "delivered", "completed", "refunded"])
    delivered = np.isin(status, ["delivered", "completed", "refunded"])
    confirmed = status == "completed"
    review_at = done + f["rev_d"]
    reviewed = (f["rating"] > 0) & (confirmed | (status == "refunded")) & (review_at <= END)
    tracked = shipped & ~virtual
    number = bills.assign(rng, np.where(tracked, f["carrier"], -1), ship, seller, f["buyer"],
                          np.where(tracked, f["block"], -1), f["pos"])
    last = np.select([reviewed, confirmed | refunded, delivered, shipped], [review_at, done, deliv, ship], t)
    upd = f["upd"] & (last <= END)
    ids = next_id + np.cumsum(rng.integers(1, 20_000, n))

    addr_ok = f["addr"] >= 0
    addr_var = mix(f["buyer"], w.addr_canon[np.maximum(f["addr"], 0)], 1)
    text = pa.array(np.zeros(0, np.int64)).cast(pa.string())
    if addr_ok.any():
        rows = np.flatnonzero(addr_ok)
        text = address_text(w, f["addr"][rows], addr_var[rows])
    review = join(*(take(FRAGS, f[c]) for c in ("f1", "f2", "f3", "f4")))
    review = pc.if_else(pa.array(reviewed & (f["f2"] + f["f1"] > 0)), review, pa.scalar(None, pa.string()))
    dev_ok = f["device"] >= 0
    ip_ok = f["ip"] >= 0
    pay_ok = (f["pay"] >= 0) & paid
    claimed = refunded | ((f["refund"] >= 0) & delivered)  # once refunded, or pending after delivery
    f["pay"] = np.where(pay_ok, f["pay"], -1)  # the tally counts what is written
    cols = {
        "order_id": as_text(ids),
        "buyer_id": bytes_text(w.buyer_ids[f["buyer"]]),
        "seller_id": bytes_text(w.seller_ids[seller]),
        "created_at": pa.array(t),
        "amount": pa.array(f["amount"] / 100).cast(pa.decimal128(12, 2)),
        "item_id": bytes_text(w.item_ids[f["item"]]),
        "quantity": pa.array(f["qty"], pa.int32()),
        "item_price": pa.array(f["price"] / 100).cast(pa.decimal128(12, 2)),
        "ship_address": scatter(addr_ok, text),
        "receiver_name": person_text(w, f["person"]),
        "receiver_phone": phone_text(w, f["phone"], f["masked"], mix(f["buyer"], f["phone"], 2)),
        "device_id": scatter(dev_ok, device_text(w, f["device"][dev_ok])),
        "ip": scatter(ip_ok, ip_text(w, f["ip"][ip_ok])),
        "payment_account": scatter(pay_ok, payment_text(w, f["pay"][pay_ok])),
        "tracking_no": Waybills.text(f["carrier"], number),
        "carrier": scatter(tracked, take(CARRIER_NAMES, f["carrier"][tracked])),
        "parcel_weight_g": pa.array(f["weight"], mask=~tracked | np.isnan(f["weight"])),
        "shipped_at": pa.array(ship, mask=~shipped),
        "delivered_at": pa.array(deliv, mask=~delivered),
        "confirmed_at": pa.array(done, mask=~confirmed),
        "status": pa.array(status),
        "refund_reason": scatter(claimed, take(REASONS, f["refund"][claimed])),
        "rating": pa.array(f["rating"], pa.int8(), mask=~reviewed),
        "review_text": review,
        "reviewed_at": pa.array(review_at, mask=~reviewed),
        "chat_messages": pa.array(f["chat"], pa.int32()),
        "updated_at": pa.array(np.minimum(last + rng.integers(1, 600, n), END) * 1000, mask=~upd),
    }
    return pa.table(cols), int(ids[-1]) if n else next_id

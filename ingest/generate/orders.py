"""Orders as frames of numbers: one honest order model, bent by tactics, rendered later.

A frame is a dict of numpy columns (``FRAME``): ids into the world's tables,
epoch seconds, and delays in seconds after the previous step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import vocab as V
from .arrays import lognormal, pick_column
from .clock import DAY, DAYS, DOUBLE_11, DOUBLE_12, HOUR, HOUR_W, START, day_weights, local_times
from .lexicon import CITY_REGION, CLAIM0, FRAG0, fragments
from .tally import Tally
from .world import World

__all__ = ["FRAME", "at_list_price", "base_orders", "chunk_plan", "concat", "honest_chunk", "honest_text", "select",
           "set_quantity"]

# Order frame columns. Times are epoch seconds; delays are seconds after the previous step.
FRAME = {
    "t": np.int64, "buyer": np.int64, "item": np.int64, "qty": np.int32, "price": np.int64, "amount": np.int64,
    "addr": np.int64, "person": np.int64, "phone": np.int64, "masked": bool, "device": np.int64, "ip": np.int64,
    "pay": np.int64, "carrier": np.int64, "weight": np.float64, "ship_d": np.int64, "deliv_d": np.int64,
    "conf_d": np.int64, "rev_d": np.int64, "cancel": bool, "unpaid": bool, "refund": np.int64, "rating": np.int8,
    "f1": np.int64, "f2": np.int64, "f3": np.int64, "f4": np.int64, "chat": np.int32, "upd": bool,
    "ring": np.int64, "block": np.int64, "pos": np.int64, "used": np.int64,
}


def concat(frames: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not frames:
        return {k: np.zeros(0, dt) for k, dt in FRAME.items()}
    return {k: np.concatenate([f[k] for f in frames]).astype(dt, copy=False) for k, dt in FRAME.items()}


def select(frame: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in frame.items()}


def base_orders(w: World, rng: np.random.Generator, buyer: np.ndarray, item: np.ndarray,
                t: np.ndarray) -> dict[str, np.ndarray]:
    """Orders as the buyer would place them honestly: the one starting point of every order."""
    n = len(buyer)
    seller = w.item_seller[item]
    virtual = w.item_virtual[item]
    f: dict[str, np.ndarray] = {"t": t.astype(np.int64), "buyer": buyer, "item": item}
    qty = np.ones(n, np.int32)
    more = rng.random(n) < 0.14
    qty[more] += np.minimum(rng.geometric(0.55, int(more.sum())), 19)
    f["qty"] = qty
    day = (t - START) // DAY
    promo = (((day >= 61) & (day <= DOUBLE_11 + 1)) | (day == DOUBLE_12)) & (rng.random(n) < 0.4)
    price = w.item_cents[item]
    price = np.where(promo, np.round(price * rng.uniform(0.7, 0.95, n), -1) - 10 * (rng.random(n) < 0.5), price)
    f["price"] = np.maximum(price, 1)
    value = f["price"] * qty
    coupon = rng.choice(np.array([300, 500, 1000, 2000, 3000, 5000]), n) * (rng.random(n) < 0.2)
    coupon = np.where(coupon <= 0.3 * value, coupon, 0)
    fee = rng.choice(np.array([400, 500, 600, 800, 1000]), n) * ((value < 3900) & (rng.random(n) < 0.25))
    f["amount"] = np.maximum(value - coupon + fee * ~virtual, 1)

    slot = pick_column(rng, w.addr_w[buyer])
    f["addr"] = np.where(virtual, -1, w.addr[buyer, slot])
    used = (1 << slot) * ~virtual
    dslot = pick_column(rng, w.dev_w[buyer])
    f["device"] = np.where(rng.random(n) < 0.02, -1, w.dev[buyer, dslot])
    used |= 1 << (3 + dslot)
    islot = pick_column(rng, w.ip_w[buyer])
    u = rng.random(n)
    u = np.where(islot == 0, u**1.8, u)  # a few NAT IPs of a pool carry most of its traffic
    f["ip"] = np.where(rng.random(n) < 0.01, -1, w.ip_start[buyer, islot] + (u * w.ip_n[buyer, islot]).astype(np.int64))
    used |= 1 << (6 + islot)
    pslot = pick_column(rng, w.phone_w[buyer])
    f["phone"] = w.phone[buyer, pslot]
    used |= 1 << (9 + pslot)
    yslot = pick_column(rng, w.pay_w[buyer])
    f["pay"] = w.pay[buyer, yslot]
    used |= 1 << (12 + yslot)
    f["used"] = used
    main = w.hh_main[w.hh[buyer]]
    f["person"] = np.where(pslot == 2, w.person[main], w.person[buyer])
    f["masked"] = rng.random(n) < 0.85
    f["carrier"] = np.where(virtual, -1, w.seller_carrier[seller, (rng.random(n) < 0.12).astype(int)])
    weight = w.item_weight[item] * qty * lognormal(rng, 1.0, 0.12, n) + rng.uniform(15, 180, n)
    f["weight"] = np.where(virtual | (rng.random(n) < 0.15), np.nan, np.round(weight))

    # Logistics: ship within a day or so, deliver in 1-4 days by distance, confirm by hand or automatically.
    f["ship_d"] = np.where(virtual, rng.integers(5, 600, n), lognormal(rng, 20 * HOUR, 0.7, n)).astype(np.int64)
    f["ship_d"] += np.where(day == DOUBLE_11, rng.integers(0, 2 * DAY, n), 0)
    near = CITY_REGION[w.buyer_city[buyer]] == CITY_REGION[w.seller_city[seller]]
    f["deliv_d"] = np.where(virtual, 0, np.where(near, lognormal(rng, 26 * HOUR, 0.35, n),
                                                 lognormal(rng, 60 * HOUR, 0.35, n))).astype(np.int64)
    mode = rng.random(n)
    auto = np.maximum(10 * DAY - f["deliv_d"], HOUR) + rng.integers(0, HOUR, n)
    f["conf_d"] = np.select([virtual, mode < 0.1, mode < 0.62],
                            [rng.integers(60, 2 * DAY, n), lognormal(rng, 1.5 * HOUR, 1.0, n),
                             lognormal(rng, 1.5 * DAY, 0.9, n)], auto).astype(np.int64)
    f["rev_d"] = lognormal(rng, 1 * DAY, 1.2, n).astype(np.int64)
    state = rng.random(n)
    f["cancel"] = state < 0.03
    f["unpaid"] = (state >= 0.03) & (state < 0.045)
    refund = (state >= 0.045) & (state < 0.085) & ~virtual
    # Parcels do get lost or arrive short: some honest refunds use the claims abusers use.
    reason = np.where(rng.random(n) < 0.08, CLAIM0 + rng.integers(0, len(V.REFUND_REASONS_CLAIM), n),
                      rng.integers(0, CLAIM0, n))
    f["refund"] = np.where(refund, reason, -1)

    # Reviews: stars mostly five; texts varied; a share left to the platform's default text.
    r = rng.random(n)
    manual = r < 0.45
    default = (r >= 0.45) & (r < 0.72)
    stars = rng.choice(np.arange(1, 6), n, p=[0.04, 0.02, 0.05, 0.14, 0.75]).astype(np.int8)
    stars[refund & manual] = rng.choice(np.arange(1, 6), int((refund & manual).sum()), p=[.45, .2, .15, .1, .1])
    f["rating"] = np.where(manual, stars, np.where(default, 5, 0)).astype(np.int8)
    f["f1"], f["f2"], f["f3"], f["f4"] = honest_text(rng, f["rating"], default)
    f["rev_d"] = np.where(default, 15 * DAY + rng.integers(0, HOUR, n), f["rev_d"])
    f["chat"] = np.where(rng.random(n) < 0.5, 0, np.minimum(rng.geometric(0.3, n), 40)).astype(np.int32)
    f["upd"] = rng.random(n) < 0.35
    f["ring"] = np.full(n, -1)
    f["block"] = np.full(n, -1)
    f["pos"] = np.full(n, -1)
    return {k: np.asarray(f[k]).astype(dt, copy=False) for k, dt in FRAME.items()}


def set_quantity(w: World, f: dict[str, np.ndarray], qty: Any) -> None:
    """Change the quantity of orders; the parcel weighs accordingly (the amount is the caller's)."""
    qty = np.broadcast_to(np.asarray(qty, np.int32), f["qty"].shape)
    per_item = w.item_weight[f["item"]]
    f["weight"] = np.round(f["weight"] * (per_item * qty + 100) / (per_item * f["qty"] + 100))  # 100 g: packing
    f["qty"] = qty.copy()


def at_list_price(w: World, f: dict[str, np.ndarray], qty: Any) -> None:
    """Orders of ``qty`` items paid at the listed price: no promotion, coupon or shipping fee."""
    set_quantity(w, f, qty)
    f["price"] = w.item_cents[f["item"]]
    f["amount"] = f["price"] * f["qty"]


def honest_text(rng: np.random.Generator, rating: np.ndarray, default: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(rating)
    f1, f2, f3, f4 = (np.zeros(n, np.int64) for _ in range(4))
    style = rng.random(n)
    pos = (rating >= 4) & ~default
    long = pos & (style < 0.55)
    f1[long] = fragments(rng, "open", int(long.sum()))
    f2[long] = fragments(rng, "pos", int(long.sum()))
    two = long & (rng.random(n) < 0.5)
    f3[two] = fragments(rng, "pos2", int(two.sum()))
    f4[long] = fragments(rng, "close", int(long.sum()))
    short = pos & (style >= 0.55) & (style < 0.85)
    f2[short] = fragments(rng, "short", int(short.sum()))
    f2[default] = FRAG0["default"] + (rng.random(int(default.sum())) < 0.4)
    neutral = rating == 3
    f2[neutral] = fragments(rng, "neutral", int(neutral.sum()))
    neg = (rating > 0) & (rating <= 2)
    f2[neg] = fragments(rng, "neg", int(neg.sum()))
    two = neg & (rng.random(n) < 0.4)
    f3[two] = fragments(rng, "neg2", int(two.sum()))
    f4[neg] = fragments(rng, "negclose", int(neg.sum()))
    return f1, f2, f3, f4


def chunk_plan(rng: np.random.Generator, n_honest: int, n_chunks: int,
               special_t: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Honest orders per day for each chunk (chunks follow time), and the chunk of each planted order."""
    day_counts = rng.multinomial(n_honest, day_weights())
    bounds = [k * n_honest // n_chunks for k in range(n_chunks + 1)]
    end = np.cumsum(day_counts)
    start = end - day_counts
    per_chunk = [np.clip(end, a, b) - np.clip(start, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    day = np.clip((special_t - START) // DAY, 0, DAYS - 1)
    special_chunk = np.minimum(start[day] * n_chunks // max(n_honest, 1), n_chunks - 1)
    return per_chunk, special_chunk


def honest_chunk(w: World, rng: np.random.Generator, counts: np.ndarray, tally: Tally) -> dict[str, np.ndarray]:
    """Honest orders for the given per-day counts, with the midnight flash sales of Double 11 and 12."""
    days = np.repeat(np.arange(DAYS), counts)
    n = len(days)
    t = local_times(rng, days, HOUR_W)
    festival = np.flatnonzero(days == DOUBLE_11)  # a third of Double 11 is bought in its first hour
    t[festival] = local_times(rng, days[festival], np.r_[30.0, HOUR_W[1:]])
    buyer = np.searchsorted(w.buyer_cdf, rng.random(n) * w.buyer_cdf[-1], side="right")
    item = np.searchsorted(w.item_cdf, rng.random(n) * w.item_cdf[-1], side="right")
    loyal = (w.fav_item[buyer] >= 0) & (rng.random(n) < w.loyalty[buyer])
    item = np.where(loyal, w.fav_item[buyer], item)
    flash = np.zeros(n, bool)
    for day, items in w.flash.items():
        share = 0.25 if day == DOUBLE_11 else 0.15
        rows = np.flatnonzero((days == day) & (rng.random(n) < share))
        flash[rows] = True
        item[rows] = items[np.minimum(rng.geometric(0.3, len(rows)) - 1, len(items) - 1)]
        t[rows] = START + day * DAY + np.minimum(rng.exponential(45, len(rows)), 1800).astype(np.int64)
        first = rows[t[rows] - (START + day * DAY) < 300]
        for it in np.unique(item[first]):
            tally.flash.setdefault((day, int(it)), set()).update(int(b) for b in buyer[first[item[first] == it]])
    f = base_orders(w, rng, buyer, item, t)
    f["chat"][flash] = 0  # nobody chats at midnight of a flash sale
    return f

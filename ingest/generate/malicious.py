"""Coordinated malicious buyers (恶意买家): negative-review attacks, refund abuse, extortion.

Each tactic takes the ``Planter`` and a ``RingPlan`` and returns the ring's
orders, members, target sellers and shared identifier pools (``Planted``).
"""

from __future__ import annotations

import numpy as np

from . import vocab as V
from .arrays import lognormal
from .clock import DAY, DAYS, HOUR, HOUR_W
from .lexicon import CITY_REGION, CLAIM0
from .orders import honest_text
from .planter import Planted, Planter
from .plans import RingPlan

__all__ = ["extortion", "negative_review", "refund_abuse"]


def negative_review(planter: Planter, plan: RingPlan) -> Planted:
    """A competitor's accounts buy a successful shop's items and leave one-star reviews in a burst."""
    w, rng = planter.w, planter.rng
    home = planter.city()
    b = planter.members(plan.n_members, (1.0, 8.0), (0, 0), (0.5, 1.5), city=home)
    s = planter.sellers(1, (0.03, 0.5))  # a successful competitor
    its = planter.items(int(s[0]), int(rng.integers(1, 4)))
    n = plan.n_orders
    day = planter.days(n, (3, DAYS - 14), int(rng.integers(1, 4)))
    f, owner = planter.base(b, plan.orders, its[rng.integers(0, len(its), n)], day, HOUR_W)
    region = CITY_REGION[home]
    pools = {"device": w.new_devices(int(rng.integers(1, 5))),
             "ip": w.new_v4(np.full(2, region), np.full(2, int(rng.integers(1, 3)))),
             "address": w.new_homes(np.full(2, home))}
    planter.share(f, "device", pools["device"], rng.uniform(0.4, 0.75), owner)
    planter.share(f, "ip", pools["ip"], rng.uniform(0.4, 0.7))
    planter.share(f, "addr", pools["address"], rng.uniform(0.1, 0.3))
    # One-star reviews land in a burst a day or two after the goods arrive.
    confirm = f["t"] + f["ship_d"] + f["deliv_d"] + f["conf_d"]
    burst = np.quantile(confirm, 0.8) + rng.uniform(0, 0.5) * DAY
    f["rev_d"] = np.maximum(burst + rng.uniform(0, 1.5 * DAY, n) - confirm, 600).astype(np.int64)
    f["rating"] = np.where(rng.random(n) < 0.8, 1, 2).astype(np.int8)
    tpls = planter.templates(int(rng.integers(2, 6)), negative=True)
    tpl = tpls[rng.integers(0, len(tpls), n)]
    copy = rng.random(n) < 0.7
    _, g2, g3, g4 = honest_text(rng, f["rating"], np.zeros(n, bool))
    f["f1"][:] = 0
    f["f2"], f["f3"], f["f4"] = (np.where(copy, tpl[:, k], g) for k, g in ((1, g2), (2, g3), (3, g4)))
    refund = rng.random(n) < 0.2
    f["refund"] = np.where(refund, rng.choice([3, 4], n), -1)
    planter.silent(f, 0.9)
    return f, b, s, pools


def refund_abuse(planter: Planter, plan: RingPlan) -> Planted:
    """Serial 'empty parcel' / 'missing item' / 'not received' claims against several shops."""
    w, rng = planter.w, planter.rng
    home = planter.city()
    b = planter.members(plan.n_members, (0.5, 4.0), (0, 0), (1.0, 3.0), city=home)
    s = planter.sellers(plan.n_targets, (0.02, 0.6))
    n = plan.n_orders
    item = planter.spread_items(s, n, 3)
    day = planter.days(n, (0, DAYS - 10), int(rng.integers(14, 61)))
    f, owner = planter.base(b, plan.orders, item, day, HOUR_W)
    pools = {"device": w.new_devices(int(rng.integers(1, 4))),
             "address": w.new_homes(np.full(int(rng.integers(1, 4)), home)),
             "phone": w.new_phones(int(rng.integers(1, 3))), "payment": w.new_payments(int(rng.integers(1, 3))),
             "ip": w.new_v4(np.full(2, CITY_REGION[home]), np.full(2, 1))}
    planter.share(f, "device", pools["device"], rng.uniform(0.6, 0.9), owner)
    planter.share(f, "addr", pools["address"], rng.uniform(0.6, 0.9), owner)
    planter.share(f, "phone", pools["phone"], rng.uniform(0.5, 0.8))
    planter.share(f, "pay", pools["payment"], rng.uniform(0.3, 0.6), owner)
    planter.share(f, "ip", pools["ip"], rng.uniform(0.4, 0.7))
    claim = rng.random(n) < rng.uniform(0.75, 0.95)
    f["refund"] = np.where(claim, CLAIM0 + rng.integers(0, len(V.REFUND_REASONS_CLAIM), n), -1)
    f["conf_d"] = np.where(claim, lognormal(rng, 8 * HOUR, 0.8, n), f["conf_d"]).astype(np.int64)
    low = rng.random(n) < 0.3
    f["rating"] = np.where(low, rng.integers(1, 3, n), np.where(claim, 0, f["rating"])).astype(np.int8)
    f["f1"], f["f2"], f["f3"], f["f4"] = honest_text(rng, f["rating"], np.zeros(n, bool))
    planter.silent(f, 0.75)
    return f, b, s, pools


def extortion(planter: Planter, plan: RingPlan) -> Planted:
    """A small group buys from a few shops, rates one star and asks for refunds."""
    w, rng = planter.w, planter.rng
    b = planter.members(plan.n_members, (1.0, 6.0), (0, 0), (0.5, 1.5), city=planter.city())
    s = planter.sellers(plan.n_targets, (0.1, 0.7))
    n = plan.n_orders
    item = planter.spread_items(s, n, 2)
    day = planter.days(n, (0, DAYS - 12), int(rng.integers(5, 21)))
    f, owner = planter.base(b, plan.orders, item, day, HOUR_W)
    pools = {"device": w.new_devices(1), "phone": w.new_phones(1)}
    planter.share(f, "device", pools["device"], rng.uniform(0.6, 0.9))
    planter.share(f, "phone", pools["phone"], rng.uniform(0.6, 0.9))
    f["rating"] = np.where(rng.random(n) < 0.85, 1, 2).astype(np.int8)
    f["f1"], f["f2"], f["f3"], f["f4"] = honest_text(rng, f["rating"], np.zeros(n, bool))
    f["refund"] = np.where(rng.random(n) < 0.5, rng.choice([3, 4, 6], n), -1)
    f["chat"] = rng.integers(0, 4, n).astype(np.int32)
    return f, b, s, pools

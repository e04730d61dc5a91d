"""Brushing tactics (刷单): fake orders that boost sellers.

Each tactic takes the ``Planter`` and a ``RingPlan`` and returns the ring's
orders, members, target sellers and shared identifier pools (``Planted``).
"""

from __future__ import annotations

import numpy as np

from . import vocab as V
from .arrays import lognormal, ranks
from .clock import DAYS, FARM_W, HOUR, HOUR_W, WORK_W
from .lexicon import CARRIER_SHARE, CITIES, CITY_REGION, N_REGIONS, draw_cities
from .orders import at_list_price, honest_text
from .planter import Planted, Planter
from .plans import RingPlan

__all__ = ["click_farm", "empty_parcel", "low_and_slow", "seller_swap", "sock_puppet"]


def sock_puppet(planter: Planter, plan: RingPlan) -> Planted:
    """A shop's own accounts (马甲) buy a few of its items again and again, in campaigns, in working hours."""
    w, rng = planter.w, planter.rng
    s = planter.sellers(1, (0.3, 1.0))
    b = planter.members(plan.n_members, None, (1, 120), (0.03, 0.4), city=w.seller_city[s[0]])
    its = planter.items(int(s[0]), int(rng.integers(1, 4)))
    n = plan.n_orders
    # A few campaigns of days of heavy buying, during the shop's working hours.
    camps = [planter.days(1, (2, DAYS - 20), 1)[0] for _ in range(int(rng.integers(1, 4)))]
    day = np.array(camps)[rng.integers(0, len(camps), n)] + rng.integers(0, int(rng.integers(3, 11)), n)
    hour_w = WORK_W if rng.random() < 0.7 else HOUR_W
    f, owner = planter.base(b, plan.orders, its[rng.integers(0, len(its), n)], day, hour_w)
    city = w.seller_city[s[0]]
    pools = {
        "device": w.new_devices(max(1, round(len(b) / rng.uniform(2, 5)))),
        "address": w.new_homes(np.full(int(rng.integers(1, 4)), city)),
        "phone": w.new_phones(int(rng.integers(1, 3))),
        "payment": w.new_payments(int(rng.integers(1, 4))),
        "ip": w.new_v4(np.full(2, CITY_REGION[city]), np.full(2, int(rng.integers(1, 3)))),
    }
    for col, key in (("device", "device"), ("addr", "address"), ("phone", "phone"), ("pay", "payment"),
                     ("ip", "ip")):
        planter.share(f, col, pools[key], rng.uniform(0.7, 0.95), owner)
    at_list_price(w, f, np.where(rng.random(n) < 0.9, 1, 2))
    f["ship_d"] = lognormal(rng, 4 * HOUR, 0.6, n).astype(np.int64)
    planter.fast_confirm(f, 2 * HOUR)
    f["rev_d"] = lognormal(rng, 1 * HOUR, 1.0, n).astype(np.int64)
    planter.five_stars(f, planter.templates(int(rng.integers(2, 5))), 0.75)
    planter.silent(f, 0.9)
    return f, b, s, pools


def click_farm(planter: Planter, plan: RingPlan) -> Planted:
    """One pool of accounts (刷单团伙) serves several client shops, a burst of days per client."""
    w, rng = planter.w, planter.rng
    b = planter.members(plan.n_members, (0.3, 5.0), (0, 0), (0.2, 1.0))
    clients = planter.sellers(plan.n_targets, (0.15, 1.0))
    n = plan.n_orders
    owner = np.repeat(np.arange(len(b)), plan.orders)
    # Each member's orders go to distinct clients; each client's campaign is a burst of 1-4 days.
    client = (rng.integers(0, len(clients), len(b))[owner] + ranks(plan.orders)) % len(clients)
    start = np.array([planter.days(1, (2, DAYS - 12), 1)[0] for _ in clients])
    length = rng.integers(1, 5, len(clients))
    day = start[client] + (rng.random(n) * length[client]).astype(int)
    pushed = [planter.items(int(c), int(rng.integers(1, 3))) for c in clients]
    item = planter.pick(pushed, client)
    f, _ = planter.base(b, plan.orders, item, day, FARM_W)
    region = int(rng.integers(0, N_REGIONS))
    n_ip = int(rng.integers(4, 17))
    farm_ips = w.new_networks(np.array([region]), np.ones(1, int), np.array([n_ip]))[0] + np.arange(n_ip)
    cities = draw_cities(rng, int(rng.integers(2, 6)))
    pools = {
        "device": w.new_devices(max(2, round(len(b) / rng.uniform(3, 8)))),
        "ip": farm_ips,
        "address": w.new_homes(cities[rng.integers(0, len(cities), max(2, round(len(b) / rng.uniform(2, 6))))]),
        "phone": w.new_phones(max(2, round(len(b) / rng.uniform(3, 6)))),
        "payment": w.new_payments(max(1, len(b) // 8)),
    }
    planter.share(f, "device", pools["device"], rng.uniform(0.8, 0.97))  # farm phones rotate
    planter.share(f, "ip", pools["ip"], rng.uniform(0.55, 0.85))
    planter.share(f, "addr", pools["address"], rng.uniform(0.6, 0.9), owner)
    planter.share(f, "phone", pools["phone"], rng.uniform(0.5, 0.8), owner)
    planter.share(f, "pay", pools["payment"], rng.uniform(0.2, 0.4), owner)
    f["person"] = w.new_persons(n) if rng.random() < 0.5 else f["person"]
    at_list_price(w, f, 1)
    planter.fast_confirm(f, 3 * HOUR, 1.0)
    f["rev_d"] = lognormal(rng, 3 * HOUR, 1.0, n).astype(np.int64)
    planter.five_stars(f, planter.templates(int(rng.integers(3, 9))), 0.7)
    planter.silent(f, 0.75)
    return f, b, clients, pools


def low_and_slow(planter: Planter, plan: RingPlan) -> Planted:
    """A few orders per account over weeks to one shop; little shared but how the amount is paid."""
    w, rng = planter.w, planter.rng
    b = planter.members(plan.n_members, (0.5, 8.0), (0, 0), (0.5, 2.5))
    s = planter.sellers(1, (0.1, 0.8))
    its = planter.items(int(s[0]), int(rng.integers(1, 3)))
    n = plan.n_orders
    length = int(rng.integers(21, 57))
    day = planter.days(n, (0, DAYS - 8), length)
    f, _ = planter.base(b, plan.orders, its[rng.integers(0, len(its), n)], day, HOUR_W)
    fresh = w.new_devices(max(1, round(n * 0.8)))  # emulators / borrowed phones: a new device most times
    planter.share(f, "device", fresh, rng.uniform(0.5, 0.8))
    # The one thing in common besides the shop: how the paid amount relates to the listed price.
    at_list_price(w, f, 1)
    rule = rng.integers(0, 3)
    if rule == 0:
        f["amount"] = f["price"] - int(rng.choice([300, 500, 800, 1000, 1500]))
    elif rule == 1:
        f["amount"] = np.round(f["price"] * rng.choice([0.8, 0.85, 0.9]))
    else:
        f["amount"] = np.full(n, int(rng.choice([990, 1990, 2990, 3990, 990 * 5])))
    f["amount"] = np.maximum(f["amount"], 1)
    planter.fast_confirm(f, 12 * HOUR, 1.0)
    f["rating"] = np.where(rng.random(n) < 0.9, 5, 4).astype(np.int8)
    f["f1"], f["f2"], f["f3"], f["f4"] = honest_text(rng, f["rating"], rng.random(n) < 0.2)
    planter.silent(f, 0.6)
    return f, b, s, {"device": fresh}


def empty_parcel(planter: Planter, plan: RingPlan) -> Planted:
    """Bursts of orders shipped as empty parcels (空包) to strangers, on waybills bought in blocks."""
    w, rng = planter.w, planter.rng
    base = planter.city()
    b = planter.members(plan.n_members, None, (5, 200), (0.1, 0.5), city=base)
    s = planter.sellers(plan.n_targets, (0.3, 1.0))
    n = plan.n_orders
    item = planter.spread_items(s, n, (1, 4))
    nb = int(rng.integers(1, 4))
    bursts = np.array([planter.days(1, (2, DAYS - 12), 1)[0] for _ in range(nb)])
    burst = rng.integers(0, nb, n)
    day = bursts[burst] + rng.integers(0, 3, n)
    f, owner = planter.base(b, plan.orders, item, day, FARM_W)
    pools = {"device": w.new_devices(int(rng.integers(1, 6))), "payment": w.new_payments(int(rng.integers(1, 4))),
             "ip": w.new_v4(np.full(3, CITY_REGION[base]), np.full(3, rng.integers(0, 3)))}
    planter.share(f, "device", pools["device"], rng.uniform(0.6, 0.85), owner)
    planter.share(f, "pay", pools["payment"], rng.uniform(0.6, 0.9), owner)
    planter.share(f, "ip", pools["ip"], rng.uniform(0.5, 0.8))
    # Parcels go to strangers' addresses bought in bulk (some of them real buyers' homes).
    honest_home = w.addr[rng.integers(0, w.n_buyers, n), 0]
    f["addr"] = np.where(rng.random(n) < 0.3, honest_home, w.new_homes(rng.choice(len(CITIES), n)))
    f["phone"] = w.new_phones(n)
    f["person"] = w.new_persons(n)
    # Waybills: consecutive numbers bought in blocks, some reused for several orders.
    order = np.lexsort((f["t"], burst))
    carrier = int(rng.choice(len(V.CARRIERS), p=CARRIER_SHARE))
    f["carrier"][:] = carrier
    f["block"] = np.zeros(n, np.int64)
    f["pos"] = np.zeros(n, np.int64)
    reuse = rng.uniform(0.1, 0.35)
    for k in range(nb):
        rows = order[burst[order] == k]
        if not len(rows):
            continue
        fresh = rng.random(len(rows)) >= reuse
        fresh[0] = True
        pos = np.cumsum(fresh) - 1
        back = ~fresh
        pos[back] = (rng.random(int(back.sum())) * (pos[back] + 1)).astype(int)
        f["block"][rows] = len(planter.blocks)
        f["pos"][rows] = pos
        planter.blocks.append((carrier, int(fresh.sum())))
    f["weight"] = np.where(rng.random(n) < 0.2, np.nan, rng.uniform(5, 60, n).round())
    at_list_price(w, f, 1)
    far = rng.random(n) < 0.85
    f["amount"] = np.where(far, np.round(f["price"] * rng.uniform(0.03, 0.2, n)), f["price"])
    f["amount"] = np.maximum(f["amount"], 1)
    f["ship_d"] = lognormal(rng, 3 * HOUR, 0.6, n).astype(np.int64)
    f["deliv_d"] = lognormal(rng, 14 * HOUR, 0.4, n).astype(np.int64)  # too fast for the distance
    planter.fast_confirm(f, 10 * 60, 0.7)
    f["rev_d"] = lognormal(rng, 2 * HOUR, 1.0, n).astype(np.int64)
    planter.five_stars(f, planter.templates(int(rng.integers(2, 5))), 0.6)
    planter.silent(f, 0.95)
    return f, b, s, pools


def seller_swap(planter: Planter, plan: RingPlan) -> Planted:
    """Owners of small shops buy from each other's shops (互刷), never their own."""
    w, rng = planter.w, planter.rng
    b = planter.members(plan.n_members, (1.0, 6.0), (0, 0), (0.5, 1.5))
    shops = planter.sellers(plan.n_targets, (0.4, 1.0))
    own = np.arange(len(b)) % len(shops)  # each shop owner runs one or more accounts
    n = plan.n_orders
    owner = np.repeat(np.arange(len(b)), plan.orders)
    step = 1 + ranks(plan.orders) % (len(shops) - 1)
    shop = (own[owner] + step) % len(shops)  # never the own shop
    its = [planter.items(int(x), int(rng.integers(1, 4))) for x in shops]
    item = planter.pick(its, shop)
    day = planter.days(n, (0, DAYS - 10), int(rng.integers(10, 35)))
    f, _ = planter.base(b, plan.orders, item, day, HOUR_W)
    pools = {"device": w.new_devices(len(shops)), "address": w.new_homes(w.seller_city[shops]),
             "payment": w.new_payments(len(shops))}
    for col, key in (("device", "device"), ("addr", "address"), ("pay", "payment")):
        hit = rng.random(n) < rng.uniform(0.6, 0.9)
        f[col] = np.where(hit, pools[key][own[owner]], f[col])
    at_list_price(w, f, 1)
    planter.fast_confirm(f, 8 * HOUR, 1.0)
    f["rating"][:] = 5
    f["f1"], f["f2"], f["f3"], f["f4"] = honest_text(rng, f["rating"], rng.random(n) < 0.15)
    planter.silent(f, 0.7)
    return f, b, shops, pools

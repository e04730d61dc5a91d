"""Honest look-alikes: dense but innocent groups, planted (company gifts) or found, and listed in the truth.

Detection must not flag them; DOMAIN.md lists why each looks suspicious.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from .arrays import decoded, groups_of
from .clock import DAY, HOUR, START, TZ
from .lexicon import CAT_INDEX
from .orders import base_orders, concat, set_quantity
from .tally import Tally
from .texts import identifier_text
from .world import World

__all__ = ["LOOKALIKE_KINDS", "corporate_gifts", "lookalike_groups"]

LOOKALIKE_KINDS: tuple[str, ...] = ("parcel_station", "family", "office", "corporate_gift", "flash_sale_crowd",
                                    "second_hand_device", "carrier_nat", "repeat_customers")


def lookalike_groups(w: World, tally: Tally, gifts: list[dict],
                     ring_member: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Honest groups that look dense, with the identifiers they share (honest members only).

    Returns the truth records and a bit mask of look-alike kinds per buyer.
    """
    honest = (tally.n_orders > 0) & ~ring_member
    bits = {k: (tally.used >> k) & 1 == 1 for k in (1, 3, 4, 5)}  # used slot: work address; devices
    groups: list[tuple[str, np.ndarray, dict[str, Any]]] = []

    for c, stations in enumerate(w.campus_stations):
        members = np.flatnonzero((w.campus == c) & honest & bits[1])
        if len(members) >= 2:
            groups.append(("parcel_station", members, {"address": stations}))
    # Families: accounts of one household, sharing the home and often a device, phone or payment account.
    fam = np.flatnonzero(honest & (w.hh_size[w.hh] > 1))
    for h, members in groups_of(w.hh[fam], fam, 2):
        ident: dict[str, Any] = {"address": w.addr[members[:1], 0]}
        if w.hh_dev[h] >= 0 and bits[5][members].sum() >= 2:
            ident["device"] = w.hh_dev[h : h + 1]
        groups.append(("family", members, ident))
    # Offices: colleagues shipping to the office and ordering through its network.
    staff = np.flatnonzero(honest & bits[1] & (w.company >= 0))
    for c, members in groups_of(w.company[staff], staff, 8):
        ips = w.company_ip0[c] + np.arange(w.company_nip[c])
        groups.append(("office", members, {"address": w.company_office[c : c + 1], "ip": ips}))
    for g in gifts:
        day = (datetime.fromtimestamp(START, TZ) + timedelta(days=g["day"])).date().isoformat()
        groups.append(("corporate_gift", g["buyers"], {"address": np.array([g["address"]]),
                                                       "seller": decoded(w.seller_ids[[g["seller"]]]), "day": day}))
    for (day, item), buyers in sorted(tally.flash.items()):
        members = np.array(sorted(buyers), np.int64)
        members = members[~ring_member[members]]
        if len(members) >= 3:
            minute = datetime.fromtimestamp(START + day * DAY, TZ).isoformat(timespec="minutes")
            groups.append(("flash_sale_crowd", members, {"item": decoded(w.item_ids[[item]]), "minute": minute}))
    for first, second in w.resold:
        if honest[first] and honest[second] and bits[3][first] and bits[4][second]:
            groups.append(("second_hand_device", np.array([first, second]), {"device": w.dev[first : first + 1, 0]}))
    for k, ip in enumerate(tally.nat_ips):
        members = np.flatnonzero(tally.nat[:, k] & honest)
        if len(members) >= 2:
            groups.append(("carrier_nat", members, {"ip": np.array([ip])}))
    # Loyal customers: several honest buyers ordering one shop's consumables again and again.
    loyal = np.flatnonzero((tally.fav >= 3) & honest)
    for s, members in groups_of(w.item_seller[w.fav_item[loyal]], loyal, 3):
        groups.append(("repeat_customers", members, {"seller": decoded(w.seller_ids[[s]])}))

    # Render every identifier kind once, then hand out the texts.
    rendered_kinds = ("address", "device", "ip")
    texts: dict[str, dict[int, str]] = {}
    for kind in rendered_kinds:
        ids = np.unique(np.concatenate([np.asarray(g[2][kind], np.int64) for g in groups if kind in g[2]] or
                                       [np.zeros(0, np.int64)]))
        texts[kind] = dict(zip(ids.tolist(), identifier_text(w, kind, ids).to_pylist())) if len(ids) else {}
    out = []
    mask = np.zeros(w.n_buyers, np.int32)
    for kind, members, ident in groups:
        mask[members] |= 1 << LOOKALIKE_KINDS.index(kind)
        rendered = {k: ([texts[k][int(i)] for i in v] if k in rendered_kinds else v) for k, v in ident.items()}
        out.append({"kind": kind, "buyers": sorted(decoded(w.buyer_ids[members])),
                    "identifiers": rendered})
    return out, mask


def corporate_gifts(w: World, rng: np.random.Generator, taken: np.ndarray) -> tuple[dict, list[dict]]:
    """Companies buying gifts in bulk from one shop on one day: several accounts, one address, one IP."""
    frames, events = [], []
    n_events = max(1, w.n_orders // 25_000)
    free = np.ones(w.n_buyers, bool)
    free[taken] = False
    gifts = np.isin(w.seller_cat, [CAT_INDEX[c] for c in ("节日礼盒", "食品零食", "生鲜水果")])
    gift_sellers = np.flatnonzero(gifts & w.seller_physical)
    if not len(gift_sellers):
        gift_sellers = np.flatnonzero(w.seller_physical)
    employed = np.flatnonzero((w.company >= 0) & free)
    staff_of = dict(groups_of(w.company[employed], employed, 3))
    for c in rng.permutation(sorted(staff_of))[:n_events]:
        staff = staff_of[int(c)]
        k = int(rng.integers(3, min(len(staff), 12) + 1))
        buyers = rng.choice(staff, k, replace=False)
        seller = int(rng.choice(gift_sellers))
        its = w.physical_items(seller)[:2]
        day = int(rng.choice([rng.integers(14, 35), rng.integers(88, 100)]))  # before Mid-Autumn or New Year
        t = START + day * DAY + rng.integers(14 * HOUR, 16 * HOUR) + rng.integers(0, 2 * HOUR, k)
        f = base_orders(w, rng, buyers, its[rng.integers(0, len(its), k)], t)
        f["addr"][:] = w.company_office[c]
        f["ip"] = w.company_ip0[c] + rng.integers(0, w.company_nip[c], k)
        set_quantity(w, f, rng.integers(2, 21, k))
        f["amount"] = f["price"] * f["qty"]
        f["chat"] = rng.integers(1, 12, k).astype(np.int32)
        if rng.random() < 0.4:  # paid with the company card
            f["pay"][:] = f["pay"][0]
        f["cancel"][:] = False
        f["unpaid"][:] = False
        frames.append(f)
        events.append({"kind": "corporate_gift", "buyers": buyers, "seller": seller,
                       "address": int(w.company_office[c]), "day": day})
    return concat(frames), events

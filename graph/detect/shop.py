"""The shop's side: customer bases no chance would assemble.

The other detectors start from buyers (what they share, when they order).
Brushing is done *for a shop*, so some rings only show from the shop's side,
from the orders alone (thin exports get both views):

**Repeat customers.** Low-and-slow brushing spreads many accounts over weeks,
each buying a few times from one small shop: no pair of accounts acts
together often enough for synchrony, and devices rotate. What they share is
the shop: it has an unusual number of customers who come back. Every shop
with at least ``min_buyers`` repeat customers (two or more orders there)
proposes them as a group; its strength is how far the shop's repeat orders
exceed what the data set's own repeat rate predicts for that many
customers (Poisson surprise), ranked among all such shops. Loyal customers
of a good shop are proposed too: the evidence measured on the group (five
stars, shared devices, lockstep ...) decides, never the proposal.

**Shared customer bases** (sellers brushing for each other, 互刷; one pool of
accounts serving several small client shops). Two shops share a customer
when one account bought from both. Under a configuration model where each
account's shops are drawn in proportion to shop size, shops ``s`` and ``t``
share ``E = n_s n_t sum(d_b^2) / P^2`` customers by chance (``n`` customers
per shop, ``d_b`` shops per account, ``P`` account-shop pairs). A pair of
shops sharing far more (Poisson surprise beyond the Bonferroni bound for
every pair of shops that shares two or more customers, at ``max_chance``)
is linked; each connected group of linked shops proposes the accounts that
bought from two or more of its linked pairs' shops. Accounts active at very
many shops (beyond the ``heavy_quantile`` of shops per account) meet every
shop and are left out of the pairs, like crowds in synchrony.

**Bursts** (a new shop buying a reputation tier in ten days from recruited
accounts that each order once or twice: no one comes back). When orders
carry ``created_at``, a quiet shop's most surprising window of a few days
against its own rate proposes the accounts ordering there mostly inside it
(see ``_bursts``). Flash-sale crowds are proposed too; the evidence decides.
When orders carry ``rating``, the same search over a shop's one- and
two-star ratings proposes the accounts of a bad-review campaign: ratings
crowded into a few days far beyond the shop's own rate of low ratings.

A buyer's score is the strongest candidate it belongs to (0 outside any).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa

from graph.detect.base import Candidate, epoch_seconds, poisson_surprise
from graph.detect.identity import _frame, _index, factorize_sorted, midrank, pairs_within_groups
from graph.errors import ConfigError

__all__ = ["ShopDetector"]

_REQUIRED = ("buyer_id", "seller_id")
_BURST_DAYS = range(3, 15)  # window lengths searched: a few days up to two weeks
_BURST_CELLS = 4_000_000  # shop-days searched at once (memory, not results)


class ShopDetector:
    """Shops whose customers come back unusually often, and shops sharing customers beyond chance.

    Higher scores mean more suspicious.

    Parameters
    ----------
    min_buyers : int, default 2
        Fewest accounts a proposed group holds.
    max_chance : float, default 0.01
        Family-wise chance that two honest shops are linked by their shared
        customers (Bonferroni over the shop pairs sharing two or more).
        Also the family-wise chance that an honest shop shows a burst
        (Bonferroni over every shop and window searched).
    heavy_quantile : float, default 0.99
        Accounts active at more shops than this quantile of accounts are left
        out of shop pairs (they meet every shop).

    Attributes
    ----------
    scores_ : pd.Series
        Float 0..1 indexed by ``buyer_id`` (every buyer of the orders): the
        strength of the strongest candidate holding the buyer, 0 outside any.
    candidates_ : list[Candidate]
        ``details["signal"]`` is ``"repeat_customers"`` (one per shop),
        ``"shared_customers"`` (one per group of linked shops) or ``"burst"``
        (one per bursting shop); strongest first.
    shops_ : pd.DataFrame
        Per shop with repeat customers: ``seller_id, n_buyers, n_orders,
        n_repeat_buyers, expected_repeat_orders, surprise`` (nats), ``strength``.
    shop_pairs_ : pd.DataFrame
        Linked shop pairs: ``seller_a, seller_b, shared, expected, surprise``.

    Examples
    --------
    >>> orders = pd.DataFrame({"buyer_id": ["a", "a", "b", "b", "c"], "seller_id": ["s", "s", "s", "s", "s"]})
    >>> ShopDetector().fit(orders).candidates_[0].buyers
    ['a', 'b']
    """

    def __init__(self, *, min_buyers: int = 2, max_chance: float = 0.01, heavy_quantile: float = 0.99, seed: int = 0):
        self.min_buyers = min_buyers
        self.max_chance = max_chance
        self.heavy_quantile = heavy_quantile
        self.seed = seed  # no random step; kept for the detector contract

    def fit(self, orders: pd.DataFrame | pa.Table | None) -> ShopDetector:
        """Find repeat-customer groups and shared customer bases.

        Parameters
        ----------
        orders : DataFrame or pyarrow.Table
            The ``orders`` projection: ``buyer_id, seller_id`` and, for bursts,
            ``created_at``; rows missing buyer or seller are skipped.

        Returns
        -------
        ShopDetector
            ``self``, fitted.
        """
        if self.min_buyers < 2:
            raise ConfigError(f"min_buyers must be >= 2 (one account is no ring), got {self.min_buyers!r}")
        if not 0 < self.max_chance < 1:
            raise ConfigError(f"max_chance must be in (0, 1), got {self.max_chance!r}")
        frame = _frame(orders, "orders", _REQUIRED)
        frame = frame.loc[frame["buyer_id"].notna() & frame["seller_id"].notna()]
        buyer, buyer_ids = factorize_sorted(frame["buyer_id"])
        seller, seller_ids = factorize_sorted(frame["seller_id"])
        n_sellers = max(len(seller_ids), 1)
        keys, n_orders = np.unique(buyer * n_sellers + seller, return_counts=True)
        pair_buyer, pair_seller = keys // n_sellers, keys % n_sellers

        repeat = self._repeat_customers(pair_buyer, pair_seller, n_orders, buyer_ids, seller_ids)
        shared = self._shared_customers(pair_buyer, pair_seller, len(buyer_ids), buyer_ids, seller_ids)
        burst = self._bursts(frame, buyer, seller, buyer_ids, seller_ids)
        if "rating" in frame.columns:
            # A campaign of bad reviews: a shop's one- and two-star ratings crowded into a few
            # days, against its own low ratings outside them (a bad shop is low all year).
            low = (pd.to_numeric(frame["rating"], errors="coerce") <= 2).to_numpy()
            burst += self._bursts(frame.loc[low], buyer[low], seller[low], buyer_ids, seller_ids, "low_rating_burst")
        candidates = sorted(repeat + shared + burst, key=lambda c: (-c.strength, -len(c.buyers), c.buyers, c.sellers))
        held = pd.DataFrame({"buyer_id": [b for c in candidates for b in c.buyers],
                             "strength": np.repeat([c.strength for c in candidates], [len(c.buyers) for c in candidates])})
        best = held.groupby("buyer_id")["strength"].max()
        self.candidates_ = candidates
        self.scores_ = best.reindex(_index(buyer_ids), fill_value=0.0).astype(np.float64).rename("shop")
        return self

    def _repeat_customers(self, pair_buyer, pair_seller, n_orders, buyer_ids, seller_ids) -> list[Candidate]:
        n_sellers = len(seller_ids)
        buyers = np.bincount(pair_seller, minlength=n_sellers)
        orders = np.bincount(pair_seller, weights=n_orders, minlength=n_sellers)
        again = n_orders >= 2
        repeaters = np.bincount(pair_seller[again], minlength=n_sellers)
        # The data set's own repeat rate: orders beyond the first per customer and shop.
        rate = (orders.sum() - buyers.sum()) / max(buyers.sum(), 1)
        expected = buyers * rate
        surprise = poisson_surprise(orders - buyers, expected)
        shops = np.flatnonzero(repeaters >= self.min_buyers)
        strength = np.zeros(n_sellers)
        strength[shops] = midrank(surprise[shops])
        self.shops_ = pd.DataFrame({
            "seller_id": seller_ids[shops], "n_buyers": buyers[shops], "n_orders": orders[shops].astype(np.int64),
            "n_repeat_buyers": repeaters[shops], "expected_repeat_orders": np.round(expected[shops], 6),
            "surprise": np.round(surprise[shops], 6), "strength": np.round(strength[shops], 6),
        })
        frame = pd.DataFrame({"s": pair_seller[again], "b": pair_buyer[again]})
        frame = frame[np.isin(frame["s"].to_numpy(), shops)].sort_values(["s", "b"], kind="stable")
        out = []
        for s, rows in frame.groupby("s", sort=True):
            out.append(Candidate(
                method="shop",
                buyers=[str(b) for b in buyer_ids[rows["b"].to_numpy()]],
                sellers=[str(seller_ids[s])],
                strength=float(strength[s]),
                details={"signal": "repeat_customers", "n_buyers": int(buyers[s]), "n_orders": int(orders[s]),
                         "n_repeat_buyers": int(repeaters[s]), "surprise": round(float(surprise[s]), 6)},
            ))
        return out

    def _shared_customers(self, pair_buyer, pair_seller, n_buyers, buyer_ids, seller_ids) -> list[Candidate]:
        n_sellers = len(seller_ids)
        empty = pd.DataFrame({"seller_a": [], "seller_b": [], "shared": [], "expected": [], "surprise": []})
        self.shop_pairs_ = empty
        if len(pair_buyer) == 0:
            return []
        degree = np.bincount(pair_buyer, minlength=n_buyers)
        size = np.bincount(pair_seller, minlength=n_sellers).astype(np.float64)
        n_pairs = float(len(pair_buyer))
        chance = float((degree.astype(np.float64) ** 2).sum()) / n_pairs**2
        heavy = np.quantile(degree[degree > 0], self.heavy_quantile)
        use = (degree[pair_buyer] >= 2) & (degree[pair_buyer] <= heavy)
        # pair_buyer is sorted (keys were buyer-major), as pairs_within_groups needs.
        a, b, who = pairs_within_groups(pair_buyer[use], pair_seller[use])
        if len(a) == 0:
            return []
        key, inv, shared = np.unique(a * n_sellers + b, return_inverse=True, return_counts=True)
        sa, sb = key // n_sellers, key % n_sellers
        expected = size[sa] * size[sb] * chance
        surprise = poisson_surprise(shared, expected)
        tested = shared >= 2
        bound = math.log(max(int(tested.sum()), 1) / self.max_chance)
        linked = tested & (surprise >= bound)
        self.shop_pairs_ = pd.DataFrame({
            "seller_a": seller_ids[sa[linked]], "seller_b": seller_ids[sb[linked]], "shared": shared[linked],
            "expected": np.round(expected[linked], 9), "surprise": np.round(surprise[linked], 6),
        })
        if not linked.any():
            return []
        component = _components(sa[linked], sb[linked], n_sellers)
        pair_strength = np.zeros(len(key))
        pair_strength[tested] = midrank(surprise[tested])
        best = np.zeros(n_sellers)
        np.maximum.at(best, component[sa[linked]], pair_strength[linked])
        in_group = np.zeros(n_sellers, bool)
        in_group[sa[linked]] = in_group[sb[linked]] = True
        component = self._grow(component, in_group, a, b, who, size, chance, bound)
        # The accounts that bought from two or more shops of one group.
        inside = in_group[a] & in_group[b] & (component[a] == component[b])
        frame = pd.DataFrame({"c": component[a[inside]], "b": who[inside], "s1": a[inside], "s2": b[inside],
                              "z": surprise[inv[inside]]})
        out = []
        for c, grp in frame.groupby("c", sort=True):
            members = np.unique(grp["b"].to_numpy())
            if len(members) < self.min_buyers:
                continue
            shops = np.unique(np.concatenate([grp["s1"].to_numpy(), grp["s2"].to_numpy()]))
            out.append(Candidate(
                method="shop",
                buyers=sorted(str(x) for x in buyer_ids[members]),
                sellers=sorted(str(x) for x in seller_ids[shops]),
                strength=float(best[c]),
                details={"signal": "shared_customers", "n_shops": int(len(shops)),
                         "surprise": round(float(grp["z"].max()), 6)},
            ))
        return out


    @staticmethod
    def _grow(component, in_group, a, b, who, size, chance, bound) -> np.ndarray:
        """Let a shop outside every group join the group whose customers it shares beyond chance.

        One small client shop of a brushing pool may share only two accounts
        with each other client, too few for a pair, yet several with the
        pool's shops together. ``in_group`` is updated in place.
        """
        one = in_group[a] != in_group[b]
        if not one.any():
            return component
        group = np.where(in_group[a], component[a], component[b])[one]
        shop = np.where(in_group[a], b, a)[one]
        n = len(size)
        key = np.unique((group * n + shop) * (int(who.max()) + 1) + who[one]) // (int(who.max()) + 1)
        key, shared = np.unique(key, return_counts=True)
        group, shop = key // n, key % n
        group_size = np.bincount(component[in_group], weights=size[in_group], minlength=n)
        surprise = poisson_surprise(shared, size[shop] * group_size[group] * chance)
        ok = (shared >= 2) & (surprise >= bound)
        if not ok.any():
            return component
        # A shop drawn to several groups joins the one it shares most beyond chance.
        order = np.lexsort((group[ok], -surprise[ok], shop[ok]))
        first = np.r_[True, shop[ok][order][1:] != shop[ok][order][:-1]]
        joins, into = shop[ok][order][first], group[ok][order][first]
        component = component.copy()
        component[joins] = into
        in_group[joins] = True
        return component

    def _bursts(self, frame, buyer, seller, buyer_ids, seller_ids, signal: str = "burst") -> list[Candidate]:
        """Shops whose orders in a window of days far exceed their own rate, and the accounts behind it.

        A tier sprint recruits many accounts that each order once or twice,
        so no one comes back. Per shop, the window of 3 to 14 days whose order
        count is most surprising (Poisson) against the shop's orders outside
        it, spread by the market's own daily volume (sale days lift every
        shop), must clear the Bonferroni bound over all shops and windows
        searched at ``max_chance`` and hold most of the shop's orders. The
        accounts with most of their orders at the shop inside the window are
        proposed. Given only a shop's low-rated orders, the same search finds
        a campaign of bad reviews (``signal`` names which).
        """
        if "created_at" not in frame.columns or not frame["created_at"].notna().any():
            return []
        dated = frame["created_at"].notna().to_numpy()
        day = epoch_seconds(frame["created_at"][dated]) // 86_400
        first = int(day.min())
        day, buyer, seller = day - first, buyer[dated], seller[dated]
        n_days, n_sellers = int(day.max()) + 1, len(seller_ids)
        widths = [w for w in _BURST_DAYS if w < n_days]
        if not widths:
            return []
        market = np.r_[0, np.cumsum(np.bincount(day, minlength=n_days))]
        total = np.bincount(seller, minlength=n_sellers)
        best, expect = np.zeros(n_sellers), np.zeros(n_sellers)
        start, width, count = (np.zeros(n_sellers, np.int64) for _ in range(3))
        # Shops in blocks: a shop-by-day table of a long export with many shops would not fit at once.
        block = max(1, _BURST_CELLS // n_days)
        order = np.argsort(seller, kind="stable")
        bounds = np.searchsorted(seller[order], np.arange(0, n_sellers + block, block))
        for lo, a, b in zip(range(0, n_sellers, block), bounds[:-1], bounds[1:], strict=False):
            rows = np.arange(min(block, n_sellers - lo))
            sel = order[a:b]
            daily = np.bincount((seller[sel] - lo) * n_days + day[sel], minlength=len(rows) * n_days)
            cum = np.concatenate([np.zeros((len(rows), 1), np.int64), np.cumsum(daily.reshape(len(rows), n_days), axis=1)], axis=1)
            shops = slice(lo, lo + len(rows))
            for w in widths:
                inside = cum[:, w:] - cum[:, :-w]
                market_inside = market[w:] - market[:-w]
                # The shop's orders outside the window (at least one), at the market's inside/outside ratio.
                expected = np.maximum(cum[:, -1:] - inside, 1) * (market_inside / np.maximum(market[-1] - market_inside, 1))
                surprise = poisson_surprise(inside, expected)
                top = surprise.argmax(axis=1)
                top_surprise = surprise[rows, top]
                better = top_surprise > best[shops]
                best[shops][better], start[shops][better], width[shops][better] = top_surprise[better], top[better], w
                count[shops][better], expect[shops][better] = inside[rows, top][better], expected[rows, top][better]
        n_windows = sum(n_days - w + 1 for w in widths)
        active = np.flatnonzero(total > 0)
        strength = np.zeros(n_sellers)
        strength[active] = midrank(best[active])
        # A quiet shop's burst: the window holds most of the shop's orders. At a busy shop a
        # burst is a sale, or an attack whose accounts the other detectors already see.
        bursting = (best >= math.log(len(active) * n_windows / self.max_chance)) & (count * 2 > total)
        # Accounts whose orders at a bursting shop fall mostly inside its window.
        at = bursting[seller]
        b, s, d = buyer[at], seller[at], day[at]
        inside = (d >= start[s]) & (d < start[s] + width[s])
        key, where = np.unique(b * n_sellers + s, return_inverse=True)
        mostly = np.bincount(where, weights=inside, minlength=len(key)) * 2 > np.bincount(where, minlength=len(key))
        members = pd.DataFrame({"s": key[mostly] % n_sellers, "b": key[mostly] // n_sellers})
        out = []
        for s, grp in members.groupby("s", sort=True):
            if len(grp) < self.min_buyers:
                continue
            first_day = np.datetime64((first + int(start[s])) * 86_400, "s").astype("datetime64[D]")
            out.append(Candidate(
                method="shop",
                buyers=sorted(str(x) for x in buyer_ids[grp["b"].to_numpy()]),
                sellers=[str(seller_ids[s])],
                strength=float(strength[s]),
                details={"signal": signal, "first_day": str(first_day), "n_days": int(width[s]),
                         "n_orders": int(count[s]), "expected": round(float(expect[s]), 6),
                         "surprise": round(float(best[s]), 6)},
            ))
        return out


def _components(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Connected component label (smallest vertex of the component) of each vertex ``0..n-1``."""
    label = np.arange(n)
    while True:  # label propagation: each edge pulls both ends to the smaller label
        lo = np.minimum(label[u], label[v])
        new = label.copy()
        np.minimum.at(new, u, lo)
        np.minimum.at(new, v, lo)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new

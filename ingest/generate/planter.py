"""What every tactic builds a ring with: members, targets, items, days, shared identifiers, reviews.

A tactic (``brushing``, ``malicious``) starts from the members' honest orders
(``Planter.base``) and changes only what the tactic changes.
"""

from __future__ import annotations

import numpy as np

from graph.errors import ConfigError

from .arrays import lognormal
from .clock import DAY, START, YEAR, local_times
from .lexicon import CITY_REGION, FRAG0, N_REGIONS, draw_cities, fragments
from .orders import base_orders
from .world import World

__all__ = ["Planted", "Planter"]

# What a tactic returns: the ring's order frame, its member buyers, its target sellers, its shared identifier pools.
Planted = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[str, np.ndarray]]


class Planter:
    """Builds each ring's orders from a plan: members, targets, shared identifiers, behaviour."""

    def __init__(self, w: World, rng: np.random.Generator):
        self.w, self.rng = w, rng
        # Accounts are drawn in a random order, from the ring's region first where it has one.
        self.order = {-1: rng.permutation(np.flatnonzero(w.eligible))}
        region = CITY_REGION[w.buyer_city]
        for r in range(N_REGIONS):
            self.order[r] = self.order[-1][region[self.order[-1]] == r]
        self.next = dict.fromkeys(self.order, 0)
        self.in_ring = np.zeros(w.n_buyers, bool)
        rank = np.argsort(np.argsort(-w.seller_pop))
        self.seller_q = rank / max(1, w.n_sellers - 1)  # 0 = most popular
        self.blocks: list[tuple[int, int]] = []  # empty-parcel waybill blocks: (carrier, size)
        self.taken = np.zeros(w.n_sellers, bool)  # sellers already targeted by a ring

    def members(self, k: int, age_years: tuple[float, float] | None, gap_days: tuple[float, float],
                activity: tuple[float, float], city: int | None = None) -> np.ndarray:
        """Take k accounts (living near ``city`` if given); set when they registered and how much
        they shop honestly (camouflage)."""
        w, rng = self.w, self.rng
        taken: list[int] = []
        for key in ([int(CITY_REGION[city])] if city is not None else []) + [-1]:
            order, p = self.order[key], self.next[key]
            while len(taken) < k and p < len(order):
                if not self.in_ring[order[p]]:
                    taken.append(int(order[p]))
                    self.in_ring[order[p]] = True
                p += 1
            self.next[key] = p
        if len(taken) < k:
            raise ConfigError("too few buyers for the planned rings; generate more --orders")
        b = np.array(taken)
        if age_years is None:  # registered shortly before the first order
            w.reg_abs[b] = -1
            w.reg_gap[b] = (rng.uniform(*gap_days, k) * DAY).astype(np.int64)
        else:
            w.reg_abs[b] = START - (rng.uniform(*age_years, k) * YEAR).astype(np.int64)
        w.activity[b] = rng.uniform(*activity, k)
        return b

    def city(self) -> int:
        """Where a ring operates from: a city drawn by population."""
        return int(draw_cities(self.rng, 1)[0])

    def sellers(self, k: int, q: tuple[float, float]) -> np.ndarray:
        physical = self.w.seller_physical
        pool = np.flatnonzero((self.seller_q >= q[0]) & (self.seller_q <= q[1]) & physical & ~self.taken)
        if len(pool) < k:
            pool = np.flatnonzero(physical)
        s = self.rng.choice(pool, min(k, len(pool)), replace=False)
        self.taken[s] = True
        return s

    def items(self, seller: int, k: int) -> np.ndarray:
        """k of the seller's physical items (fewer if it has fewer): what the ring buys."""
        its = self.w.physical_items(seller)
        return self.rng.choice(its, min(k, len(its)), replace=False)

    def spread_items(self, sellers: np.ndarray, n: int, per_seller: int | tuple[int, int]) -> np.ndarray:
        """Items of n orders spread at random over the sellers, each seller's from a few of its items
        (``per_seller`` of them, or a number drawn per seller from that range)."""
        rng = self.rng
        its = [self.items(int(s), per_seller if isinstance(per_seller, int) else int(rng.integers(*per_seller)))
               for s in sellers]
        return self.pick(its, rng.integers(0, len(sellers), n))

    def pick(self, groups: list[np.ndarray], which: np.ndarray) -> np.ndarray:
        """For each entry of ``which``, a random element of ``groups[which]``."""
        sizes = np.array([len(g) for g in groups])
        flat = np.concatenate(groups)
        return flat[np.cumsum(sizes)[which] - sizes[which] + (self.rng.random(len(which)) * sizes[which]).astype(int)]

    def days(self, n: int, span: tuple[int, int], length: int) -> np.ndarray:
        """n day numbers in one window of ``length`` days starting somewhere in ``span``."""
        lo, hi = span
        start = int(self.rng.integers(lo, max(lo + 1, hi - length)))
        return start + self.rng.integers(0, length, n)

    def share(self, f: dict[str, np.ndarray], col: str, pool: np.ndarray, p: float,
              owner: np.ndarray | None = None) -> None:
        """Replace ``col`` by an identifier of the ring's pool in a share ``p`` of the orders.

        With ``owner`` (a member index per order) each member mostly sticks to
        "its" identifier of the pool; without, identifiers rotate.
        """
        rng, n = self.rng, len(f[col])
        if len(pool) == 0:
            return
        idx = rng.integers(0, len(pool), n)
        if owner is not None:
            idx = np.where(rng.random(n) < 0.75, owner % len(pool), idx)
        hit = rng.random(n) < p
        f[col] = np.where(hit, pool[idx], f[col])

    def five_stars(self, f: dict[str, np.ndarray], templates: np.ndarray, p_template: float) -> None:
        """Five-star reviews, most of them copies of the ring's few templates."""
        rng, n = self.rng, len(f["t"])
        f["rating"] = np.where(rng.random(n) < 0.95, 5, 4).astype(np.int8)
        r = rng.random(n)
        tpl = templates[rng.integers(0, len(templates), n)]
        use = r < p_template
        for k, col in enumerate(("f1", "f2", "f3", "f4")):
            f[col] = np.where(use, tpl[:, k], 0)
        short = (r >= p_template) & (r < p_template + (1 - p_template) / 2)
        f["f2"] = np.where(short, fragments(rng, "short", n), f["f2"])
        default = r >= p_template + (1 - p_template) / 2
        f["f2"] = np.where(default, FRAG0["default"], f["f2"])

    def templates(self, k: int, negative: bool = False) -> np.ndarray:
        """k review templates (fragments f1..f4 each): praise, or complaints without an opener."""
        groups = ("", "neg", "neg2", "negclose") if negative else ("open", "pos", "pos2", "close")
        return np.stack([fragments(self.rng, g, k) if g else np.zeros(k, np.int64) for g in groups], axis=1)

    def base(self, buyers: np.ndarray, per: np.ndarray, items: np.ndarray, days: np.ndarray,
             hour_w: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Honest-looking orders of the members (``per[k]`` of member k), to be bent by the tactic,
        and the member of each order."""
        owner = np.repeat(np.arange(len(buyers)), per)
        t = local_times(self.rng, days, hour_w)
        f = base_orders(self.w, self.rng, buyers[owner], items, t)
        f["cancel"][:] = False
        f["unpaid"][:] = False
        f["refund"][:] = -1
        f["used"][:] = 0
        return f, owner

    def fast_confirm(self, f: dict[str, np.ndarray], median_s: float, sigma: float = 0.8) -> None:
        """Receipt confirmed soon after delivery (nobody waits for goods that never mattered)."""
        f["conf_d"] = lognormal(self.rng, median_s, sigma, len(f["t"])).astype(np.int64) + 60

    def silent(self, f: dict[str, np.ndarray], p: float) -> None:
        """A share ``p`` of silent orders (默拍, no chat); the rest with a message or two."""
        n = len(f["chat"])
        f["chat"] = np.where(self.rng.random(n) < p, 0, self.rng.integers(1, 3, n)).astype(np.int32)

"""Which rings to plant: tactics, members and their number of ring orders, decided before any order exists."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["TACTICS", "RingPlan", "plan_rings"]

# tactic: ring type, mix weight, members (median, sigma, min, max).
TACTICS: dict[str, tuple[str, float, tuple[float, float, int, int]]] = {
    "sock_puppet": ("brushing", 0.20, (6, 0.5, 3, 30)),
    "click_farm": ("brushing", 0.10, (70, 0.6, 12, 500)),
    "low_and_slow": ("brushing", 0.14, (24, 0.5, 5, 150)),
    "empty_parcel": ("brushing", 0.12, (12, 0.6, 3, 90)),
    "seller_swap": ("brushing", 0.08, (8, 0.3, 3, 18)),
    "negative_review": ("malicious_buyers", 0.14, (20, 0.6, 4, 150)),
    "refund_abuse": ("malicious_buyers", 0.14, (6, 0.6, 3, 40)),
    "extortion": ("malicious_buyers", 0.08, (3.5, 0.2, 3, 6)),
}


@dataclass(frozen=True)
class RingPlan:
    """What one planted ring will be: tactic, members and their number of ring orders.

    Attributes
    ----------
    tactic : str
        ``sock_puppet``, ``click_farm``, ``low_and_slow``, ``empty_parcel``, ``seller_swap``,
        ``negative_review``, ``refund_abuse`` or ``extortion``.
    ring_type : str
        ``brushing`` or ``malicious_buyers``.
    orders : numpy.ndarray
        Ring orders per member (len = number of member accounts, each >= 1).
    n_targets : int
        Number of target sellers (clients of a click farm, shops of a swap group ...).
    """

    tactic: str
    ring_type: str
    orders: np.ndarray
    n_targets: int

    @property
    def n_members(self) -> int:
        return len(self.orders)

    @property
    def n_orders(self) -> int:
        return int(self.orders.sum())


def _plan_one(rng: np.random.Generator, tactic: str, members: int) -> RingPlan:
    m = members
    if tactic == "sock_puppet":
        orders, targets = 1 + rng.poisson(rng.uniform(7, 18), m), 1
    elif tactic == "click_farm":
        targets = int(rng.integers(3, 11))
        orders = 1 + rng.binomial(targets - 1, rng.uniform(0.3, 0.7), m)
    elif tactic == "low_and_slow":
        orders, targets = 1 + rng.binomial(3, 0.35, m), 1
    elif tactic == "empty_parcel":
        orders, targets = 1 + rng.poisson(rng.uniform(3, 9), m), int(rng.integers(1, 3))
    elif tactic == "seller_swap":
        targets = int(np.clip(round(m / rng.uniform(1.3, 2.2)), 3, m))
        orders = (targets - 1) + rng.binomial(targets - 1, 0.5, m)
    elif tactic == "negative_review":
        orders, targets = 1 + rng.binomial(1, 0.2, m), 1
    elif tactic == "refund_abuse":
        orders, targets = 3 + rng.poisson(rng.uniform(2, 7), m), int(rng.integers(3, 9))
    else:  # extortion
        orders, targets = 1 + rng.binomial(2, 0.4, m), int(rng.integers(1, 4))
    return RingPlan(tactic, TACTICS[tactic][0], np.asarray(orders, np.int64), targets)


def plan_rings(orders: int, seed: int | np.random.Generator = 0) -> list[RingPlan]:
    """Decide the rings to plant in a data set of ``orders`` orders.

    About 15-30 rings at 100k orders (growing as ``orders ** 0.75``) holding
    2-4 % of all orders. Every tactic appears once before tactics repeat; the
    first click farm is large (hundreds of accounts at 100k orders) and the
    first sock-puppet ring has three accounts, so sizes span 3 to hundreds.

    Parameters
    ----------
    orders : int
        Orders in the data set.
    seed : int or numpy.random.Generator
        Randomness.

    Returns
    -------
    list of RingPlan
    """
    rng = np.random.default_rng(seed)
    n_rings = max(2, round(rng.uniform(15, 30) * (orders / 1e5) ** 0.75))
    budget = orders * rng.uniform(0.02, 0.04)
    tactics = list(TACTICS)
    weights = np.array([v[1] for v in TACTICS.values()])
    chosen = list(rng.permutation(tactics))[:n_rings]
    chosen += list(rng.choice(tactics, n_rings - len(chosen), p=weights / weights.sum()))
    # Sizes: per-tactic lognormal, then all scaled together so that ring orders fill the budget.
    grow = float(np.clip((orders / 1e5) ** 0.35, 0.3, 2.5))
    raw = []
    for k, tactic in enumerate(chosen):
        median, sigma, lo, hi = TACTICS[tactic][2]
        if tactic == "click_farm" and tactic not in chosen[:k]:
            raw.append(median * grow * rng.uniform(2.5, 4.5))  # the big farm
        else:
            raw.append(median * math.exp(sigma * rng.standard_normal()))
    seeds = rng.integers(0, 2**63, len(chosen))  # the same draws at every scale
    plans: list[RingPlan] = []
    scale = 1.0
    for _ in range(6):
        plans = []
        for k, (tactic, r) in enumerate(zip(chosen, raw)):
            lo, hi = TACTICS[tactic][2][2:]
            m = int(np.clip(round(r * scale), lo, hi))
            if tactic == "sock_puppet" and tactic not in chosen[:k]:
                m = 3  # the smallest ring
            plans.append(_plan_one(np.random.default_rng(seeds[k]), tactic, m))
        total = sum(p.n_orders for p in plans)
        scale *= float(np.clip(budget / total, 0.5, 2.0))
        if abs(total - budget) < 0.1 * budget:
            break
    return plans

"""ShopDetector: the shop's side of brushing, from buyer and seller alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graph.detect.shop import ShopDetector
from graph.errors import ConfigError

SWAP_SHOPS = ["s200", "s201", "s202"]


def marketplace(seed: int = 0):
    """Background shoppers, a small shop with a few returning accounts, three tiny shops
    sharing one pool of accounts, a popular shop's one-time buyers and a flash-sale crowd."""
    rng = np.random.default_rng(seed)
    n = 8000
    shop = np.minimum(rng.zipf(1.4, n), 150) - 1
    rows = [(f"h{b:04d}", f"s{s:03d}") for b, s in zip(rng.integers(0, 4000, n), shop, strict=True)]
    slow = [f"slow{i}" for i in range(8)]  # each comes back to one small shop a few times
    rows += [(b, "s180") for b in slow for _ in range(int(rng.integers(2, 4)))]
    rows += [(f"h{b:04d}", "s180") for b in rng.integers(0, 4000, 6)]
    pool = [f"pool{i}" for i in range(6)]  # one pool buying from three tiny shops
    rows += [(b, s) for b in pool for s in rng.choice(SWAP_SHOPS, 2, replace=False)]
    rows += [(f"h{b:04d}", s) for s in SWAP_SHOPS for b in rng.integers(0, 4000, 2)]
    popular = [f"once{i}" for i in range(300)]  # a popular small shop: many honest one-time buyers
    rows += [(b, "s190") for b in popular]
    crowd = [f"h{b:04d}" for b in range(0, 4000, 10)]  # regulars who join one flash sale
    rows += [(b, "s001") for b in crowd]
    orders = pd.DataFrame(rows, columns=["buyer_id", "seller_id"])
    return orders.sample(frac=1.0, random_state=seed, ignore_index=True), slow, pool, popular, crowd


@pytest.fixture(scope="module")
def fitted():
    orders, slow, pool, popular, crowd = marketplace()
    return ShopDetector().fit(orders), slow, pool, popular, crowd


def _holding(detector, buyers, signal):
    return [c for c in detector.candidates_ if c.details["signal"] == signal and set(buyers) <= set(c.buyers)]


def test_accounts_returning_to_one_small_shop_are_proposed_together(fitted):
    detector, slow, *_ = fitted
    (cand,) = _holding(detector, slow, "repeat_customers")
    assert cand.sellers == ["s180"] and cand.method == "shop"
    assert len(cand.buyers) <= len(slow) + 6  # the shop's one-time customers are not in it


def test_a_pool_shared_by_tiny_shops_is_linked_beyond_chance(fitted):
    detector, _, pool, *_ = fitted
    (cand,) = _holding(detector, pool, "shared_customers")
    assert set(cand.sellers) == set(SWAP_SHOPS)
    assert set(cand.buyers) == set(pool)  # the shops' other customers bought from one shop only
    linked = detector.shop_pairs_
    assert set(linked["seller_a"]) | set(linked["seller_b"]) <= set(SWAP_SHOPS)  # background shops share by chance


def test_one_time_buyers_of_a_popular_shop_and_a_flash_sale_crowd_are_not_proposed(fitted):
    detector, _, _, popular, crowd = fitted
    proposed = {b for c in detector.candidates_ for b in c.buyers}
    assert not proposed & set(popular)
    assert not _holding(detector, crowd[:50], "repeat_customers")
    assert detector.scores_.reindex(popular).eq(0).all()


def test_scores_cover_every_buyer_and_follow_the_candidates(fitted):
    detector, slow, pool, *_ = fitted
    assert detector.scores_.between(0, 1).all()
    assert (detector.scores_.loc[slow + pool] > 0).all()
    best = max(c.strength for c in detector.candidates_ if set(slow) & set(c.buyers))
    assert detector.scores_.loc[slow].max() == pytest.approx(best)


def test_golden_tiny_seeded_case():
    orders = pd.DataFrame({
        "buyer_id": ["a", "a", "b", "b", "c", "x", "x", "y", "y", "z", "z", "q"],
        "seller_id": ["s1", "s1", "s1", "s1", "s1", "t1", "t2", "t1", "t2", "t1", "t2", "t3"],
    })
    detector = ShopDetector().fit(orders)
    got = [(c.details["signal"], c.buyers, c.sellers, round(c.strength, 3)) for c in detector.candidates_]
    assert got == [("repeat_customers", ["a", "b"], ["s1"], 0.5)]  # three accounts on two shops are not beyond chance
    assert detector.scores_.to_dict() == {"a": 0.5, "b": 0.5, "c": 0.0, "q": 0.0, "x": 0.0, "y": 0.0, "z": 0.0}


def test_same_orders_in_any_row_order_give_the_same_candidates():
    orders, *_ = marketplace(1)
    first = [(c.buyers, c.sellers, c.strength) for c in ShopDetector().fit(orders).candidates_]
    again = [(c.buyers, c.sellers, c.strength) for c in ShopDetector().fit(orders.iloc[::-1]).candidates_]
    assert first == again


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError):
        ShopDetector(min_buyers=1).fit(pd.DataFrame({"buyer_id": ["a"], "seller_id": ["s"]}))
    with pytest.raises(ConfigError):
        ShopDetector(max_chance=1.5).fit(pd.DataFrame({"buyer_id": ["a"], "seller_id": ["s"]}))


def test_a_burst_of_one_time_accounts_at_a_quiet_shop_is_proposed_and_a_steady_busy_shop_is_not():
    rng = np.random.default_rng(3)
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    day = lambda d: t0 + pd.to_timedelta(d, unit="D")  # noqa: E731
    n = 6000  # background: 60 days, busy shop b0 takes a steady fifth of the orders
    rows = [(f"h{b:04d}", "b0" if rng.random() < .2 else f"s{s:02d}", day(d))
            for b, s, d in zip(rng.integers(0, 3000, n), rng.integers(0, 40, n), rng.uniform(0, 60, n), strict=True)]
    rows += [(f"h{b:04d}", "quiet", day(d)) for b, d in zip(rng.integers(0, 3000, 8), rng.uniform(0, 60, 8), strict=True)]
    sprint = [f"r{i:02d}" for i in range(30)]  # recruited accounts, once or twice each in eight days
    rows += [(b, "quiet", day(d)) for b in sprint for d in rng.uniform(30, 38, int(rng.integers(1, 3)))]
    orders = pd.DataFrame(rows, columns=["buyer_id", "seller_id", "created_at"])
    bursts = [c for c in ShopDetector().fit(orders).candidates_ if c.details["signal"] == "burst"]
    assert [c.sellers for c in bursts] == [["quiet"]]
    assert set(sprint) <= set(bursts[0].buyers) and len(bursts[0].buyers) <= len(sprint) + 4  # not the shop's 8 others
    assert 3 <= bursts[0].details["n_days"] <= 14 and bursts[0].method == "shop"


def test_a_days_crowd_of_one_star_ratings_at_a_busy_shop_is_proposed_and_a_shop_rated_low_all_year_is_not():
    rng = np.random.default_rng(4)
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    day = lambda d: t0 + pd.to_timedelta(d, unit="D")  # noqa: E731
    n = 6000  # background over 60 days: b0 busy and fairly rated, "poor" rated low all along
    shops = rng.choice(["b0", "poor", *[f"s{s:02d}" for s in range(40)]], n, p=[0.1, 0.05] + [0.85 / 40] * 40)
    low_rate = np.where(shops == "poor", 0.5, 0.01)
    rows = [(f"h{b:04d}", s, day(d), 1 if rng.random() < p else 5)
            for b, s, d, p in zip(rng.integers(0, 3000, n), shops, rng.uniform(0, 60, n), low_rate, strict=True)]
    attackers = [f"x{i:02d}" for i in range(10)]  # one order each, one star, on one day
    rows += [(b, "b0", day(30 + rng.uniform(0, 1)), 1) for b in attackers]
    orders = pd.DataFrame(rows, columns=["buyer_id", "seller_id", "created_at", "rating"])
    campaigns = [c for c in ShopDetector().fit(orders).candidates_ if c.details["signal"] == "low_rating_burst"]
    assert [c.sellers for c in campaigns] == [["b0"]]
    assert set(attackers) <= set(campaigns[0].buyers) and len(campaigns[0].buyers) <= len(attackers) + 3
    no_ratings = orders.assign(rating=np.nan)
    assert not [c for c in ShopDetector().fit(no_ratings).candidates_ if c.details["signal"] == "low_rating_burst"]

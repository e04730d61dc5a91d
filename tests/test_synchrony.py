"""SynchronyDetector: rings act together again and again, crowds once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graph.detect.synchrony import SynchronyDetector, _lookup
from graph.errors import ConfigError, StoreError

T0 = pd.Timestamp("2026-03-01", tz="UTC")
GROUP_SELLERS = ["s140", "s141", "s142"]


def marketplace(seed: int = 0):
    """Background shoppers, a lockstep group, a flash-sale crowd, a solo burst and a loyal customer."""
    rng = np.random.default_rng(seed)
    n = 6000
    shop = np.minimum(rng.zipf(1.3, n), 150) - 1
    background = pd.DataFrame(
        {
            "buyer_id": [f"h{i:04d}" for i in rng.integers(0, 3000, n)],
            "seller_id": [f"s{i:03d}" for i in shop],
            "created_at": T0 + pd.to_timedelta(rng.uniform(0, 30 * 86400, n), unit="s"),
            "item_id": [f"s{s:03d}-i{i}" for s, i in zip(shop, rng.integers(0, 8, n))],
        }
    )
    rows = []
    group = [f"g{i}" for i in range(6)]
    for day in (2, 5, 9, 14, 20):
        for shop_id in GROUP_SELLERS:
            start = T0 + pd.Timedelta(days=day, hours=int(rng.integers(0, 24)))
            for b in group:
                rows.append((b, shop_id, start + pd.Timedelta(minutes=float(rng.uniform(0, 8))), f"{shop_id}-i0"))
    crowd = sorted(set(background["buyer_id"]))[:500]  # regular shoppers who also join one flash sale
    flash = T0 + pd.Timedelta(days=11, hours=16)
    rows += [(b, "s000", flash + pd.Timedelta(seconds=float(rng.uniform(0, 60))), "s000-i0") for b in crowd]
    burst = T0 + pd.Timedelta(days=3) + pd.to_timedelta(np.sort(rng.uniform(0, 2 * 86400, 30)), unit="s")
    rows += [("solo", "s120", t, "s120-i1") for t in burst]
    rows += [("loyal", "s001", T0 + pd.Timedelta(days=d, hours=9), "s001-i2") for d in range(0, 30, 2)]
    planted = pd.DataFrame(rows, columns=["buyer_id", "seller_id", "created_at", "item_id"])
    orders = pd.concat([background, planted], ignore_index=True)
    orders.insert(0, "order_id", [f"o{i}" for i in range(len(orders))])
    return orders.sample(frac=1.0, random_state=seed, ignore_index=True), group, crowd


@pytest.fixture(scope="module")
def fitted():
    orders, group, crowd = marketplace()
    return SynchronyDetector(seed=3).fit(orders), orders, group, crowd


def lockstep(detector):
    return [c for c in detector.candidates_ if c.details["signal"] == "lockstep"]


def test_group_ordering_together_on_five_days_is_found(fitted):
    detector, _, group, _ = fitted
    (found,) = [c for c in lockstep(detector) if set(group) & set(c.buyers)]
    assert found.buyers == group
    assert found.sellers == GROUP_SELLERS
    assert found.details["n_co_events"] >= 10
    assert found.details["n_windows"] >= 5
    assert len(found.details["example_windows"]) == 5
    assert found.strength == max(c.strength for c in lockstep(detector))
    assert detector.scores_[group].min() > detector.scores_.quantile(0.99)


def test_flash_sale_crowd_is_not_a_group(fitted):
    detector, _, group, crowd = fitted
    assert max(len(set(crowd) & set(c.buyers)) for c in lockstep(detector)) <= 2
    assert detector.signals_.loc[crowd, "lockstep"].mean() < 0.05
    assert detector.scores_[crowd].median() < detector.scores_[group].min()


def test_solo_burst_scores_high_against_the_population(fitted):
    detector, *_ = fitted
    pairs = detector.pair_scores_.set_index(["buyer_id", "seller_id"])
    solo = pairs.loc[("solo", "s120")]
    assert solo["n_orders"] == 30 and solo["n_active_days"] <= 3 and solo["n_same_item"] == 30
    assert solo["score"] == pairs["score"].max()
    assert solo["score"] > 0.99
    assert solo["score"] > pairs.loc[("loyal", "s001"), "score"]
    assert detector.scores_["solo"] > detector.scores_.quantile(0.99)
    assert any(c.details["signal"] == "repeat" and c.buyers == ["solo"] and c.sellers == ["s120"]
               for c in detector.candidates_)


def test_scores_cover_every_buyer_in_unit_interval(fitted):
    detector, orders, *_ = fitted
    assert set(detector.scores_.index) == set(orders["buyer_id"])
    assert detector.scores_.between(0, 1).all()
    assert detector.pair_scores_["score"].between(0, 1).all()
    assert (detector.pair_scores_["n_orders"] >= 2).all()
    assert detector.scores_.equals(detector.signals_.max(axis=1).rename("synchrony"))


def test_membership_is_a_partition(fitted):
    detector, orders, *_ = fitted
    membership = detector.membership_
    assert membership.index.is_unique and set(membership.index) == set(orders["buyer_id"])
    groups = membership.groupby(membership).groups
    for cand in lockstep(detector):
        assert list(groups[cand.details["community"]]) == cand.buyers


def test_same_seed_same_result_whatever_the_row_order(fitted):
    detector, orders, *_ = fitted
    again = SynchronyDetector(seed=3).fit(orders.sample(frac=1.0, random_state=11))
    pd.testing.assert_series_equal(detector.membership_, again.membership_)
    pd.testing.assert_series_equal(detector.scores_, again.scores_)
    assert detector.candidates_ == again.candidates_


def test_huge_events_are_not_expanded(fitted):
    _, orders, *_ = fitted
    detector = SynchronyDetector(max_bucket=50).fit(orders)
    assert detector.bucket_caps_ == {"1h": 50, "1D": 50}
    capped = SynchronyDetector(max_pairs=1000).fit(orders)
    assert max(capped.bucket_caps_.values()) < 50


@pytest.mark.parametrize(
    "columns", [["buyer_id", "seller_id", "created_at"], ["order_id", "buyer_id", "seller_id", "created_at"]]
)
def test_thin_export_without_items_still_finds_the_group(columns):
    orders, group, _ = marketplace()
    detector = SynchronyDetector(seed=3).fit(orders[columns])
    assert any(c.buyers == group for c in lockstep(detector))
    assert detector.pair_scores_["n_same_item"].isna().all()


@pytest.mark.parametrize(
    "data",
    [
        None,
        pd.DataFrame(),
        pd.DataFrame(columns=["buyer_id", "seller_id", "created_at"]),
        pa.table({"buyer_id": ["a"], "seller_id": ["s"], "created_at": pa.array([0], pa.timestamp("us", tz="UTC"))}),
        pd.DataFrame({"buyer_id": ["a", None], "seller_id": ["s", "s"],
                      "created_at": ["2026-03-01T10:00:00+08:00", "2026-03-01 10:00"], "item_id": [None, None]}),
    ],
)
def test_thin_or_absent_input_degrades(data):
    detector = SynchronyDetector().fit(data)
    assert detector.scores_.between(0, 1).all()
    assert detector.candidates_ == []


def test_projection_without_required_columns_is_a_store_error():
    with pytest.raises(StoreError, match="orders"):
        SynchronyDetector().fit(pd.DataFrame({"buyer_id": ["a"], "seller_id": ["s"]}))


def test_golden_case():
    at = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    orders = pd.DataFrame(
        [
            ("a", "s", at("2026-03-01 10:05")), ("a", "s", at("2026-03-03 10:10")), ("a", "s", at("2026-03-05 10:20")),
            ("b", "s", at("2026-03-01 10:15")), ("b", "s", at("2026-03-03 10:30")), ("b", "s", at("2026-03-05 10:40")),
            ("c", "s", at("2026-03-01 10:50")),
            ("e", "t", at("2026-03-02 12:00")), ("e", "t", at("2026-03-02 12:30")), ("e", "t", at("2026-03-04 09:00")),
        ],
        columns=["buyer_id", "seller_id", "created_at"],
    )
    detector = SynchronyDetector(windows=["1h"], seed=0).fit(orders)
    # a and b share 3 of their 3 hourly events (Jaccard 1); 3 co-events where chance expects 3 * 3 / 97.
    (pair,) = detector.pairs_.itertuples(index=False)
    assert (pair.buyer_a, pair.buyer_b, pair.n_events, pair.window) == ("a", "b", 3, "1h")
    assert (pair.similarity, pair.expected) == (pytest.approx(1.0), pytest.approx(9 / 97))
    # Repeat pairs, ranked on peak 24 h, median gap and shop share: (e, t) peak 2,
    # gaps 0.5 h and 44.5 h, share 1; (a, s) and (b, s) peak 1, share 3/7, gaps of
    # about 48 h, a little longer for b.
    table = detector.pair_scores_
    assert table[["buyer_id", "seller_id", "n_orders", "n_active_days", "burstiness"]].values.tolist() == [
        ["e", "t", 3, 2, 2], ["a", "s", 3, 3, 1], ["b", "s", 3, 3, 1]
    ]
    assert table["median_gap_hours"].tolist() == pytest.approx([22.5, 48 + 7.5 / 60, 48 + 12.5 / 60])
    assert table["score"].tolist() == pytest.approx([5 / 6, 1 / 2, 1 / 6])
    # Lockstep: a and b rank above c among the three buyers who met anyone; e met no one.
    assert detector.signals_["lockstep"].to_dict() == pytest.approx({"a": 2 / 3, "b": 2 / 3, "c": 0, "e": 0})
    # Repeat: only e's pair lies in the upper half (2 * 5/6 - 1).
    assert detector.signals_["repeat"].to_dict() == pytest.approx({"a": 0, "b": 0, "c": 0, "e": 2 / 3})
    assert detector.scores_.to_dict() == pytest.approx({"a": 2 / 3, "b": 2 / 3, "c": 0.0, "e": 2 / 3})
    (cand,) = detector.candidates_
    assert (cand.buyers, cand.sellers, cand.strength) == (["a", "b"], ["s"], 0.5)
    assert cand.details["n_co_events"] == 3
    assert cand.details["example_windows"] == [
        "2026-03-01T10:00:00+00:00", "2026-03-03T10:00:00+00:00", "2026-03-05T10:00:00+00:00"
    ]


@pytest.mark.parametrize("params", [{"min_events": 1}, {"windows": []}, {"windows": ["0s"]}, {"max_bucket": 1}])
def test_bad_parameters_are_config_errors(params):
    with pytest.raises(ConfigError):
        SynchronyDetector(**params).fit(None)


def test_lookup_finds_each_value_among_the_keys():
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 10**12, 5000))
    values = np.concatenate([rng.choice(keys, 20000), rng.integers(0, 10**12, 20000), [keys[0], keys[-1]]])
    at = np.searchsorted(keys, values).clip(0, len(keys) - 1)
    expected = np.where(keys[at] == values, at, -1)
    np.testing.assert_array_equal(_lookup(keys, values), expected)
    assert _lookup(keys[:0], values[:3]).tolist() == [-1, -1, -1]
    assert _lookup(keys, values[:0]).tolist() == []

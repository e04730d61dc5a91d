"""Evidence, calibration and scoring of rings (graph.score) on a small seeded market."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graph.errors import EmptyGraphError
from graph.rings import Ring
from graph.schema import BUYER_SCHEMA, ORDER_SCHEMA
from graph.score import (
    LINES,
    SIGNALS,
    combine_lines,
    Evidence,
    evaluate,
    keep_underpowered_whole,
    poisson_surprise,
    prepare,
    binding_users,
    screen,
    trim_to_evidence,
    z_threshold,
)

T0 = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
DAY = 86_400
RING = [f"ring{i}" for i in range(5)]
FAMILY = ["fam0", "fam1", "fam2"]
STATION = [f"stn{i:02d}" for i in range(60)]
TARGET = "s_new_shop"


def planted_market(seed: int = 0, *, ring: list[str] = RING, extra_rounds: int = 0) -> tuple[pa.Table, pa.Table]:
    """Orders and buyers of a small marketplace with one brushing ring and honest look-alikes.

    * 400 honest buyers order from 40 shops (popularity ~ 1/rank) over 60 days,
      with ordinary chat, ratings, prices, parcels and waybills;
    * the ring's accounts share one device and one payment account and, in 8
      rounds a few days apart (plus ``extra_rounds``), all order the same item
      from one new shop within half an hour: silent, five stars, the same text,
      a token price, near-empty parcels, receipt confirmed at once;
    * a household of three shares a laptop (device) and shops like anyone;
    * 60 honest buyers collect parcels at one campus station (address).
    """
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    sellers = [f"s{k:02d}" for k in range(40)]
    pop = 1.0 / np.arange(1, 41)
    pop /= pop.sum()
    texts = ["好评", "质量很好，会回购的", "物流很快", "不错", "还行吧", "和图片一样，满意", "孩子很喜欢", "包装严实"]
    honest = [f"b{k:03d}" for k in range(400)] + FAMILY + STATION

    def honest_order(buyer: str, t: int) -> dict:
        shop = sellers[rng.choice(40, p=pop)]
        item = f"{shop}-i{rng.integers(3)}"
        price = float(20 + 10 * (hash(item) % 17))
        delivered = t + int(rng.integers(1, 4)) * DAY
        rating = int(rng.choice([5, 4, 3, 2, 1], p=[0.7, 0.18, 0.06, 0.03, 0.03]))
        return {
            "buyer_id": buyer, "seller_id": shop, "created_at": t, "item_id": item, "item_price": price,
            "amount": price * (0.9 if rng.random() < 0.2 else 1.0), "chat_messages": int(rng.integers(0, 2) * rng.integers(1, 6)),
            "rating": rating, "review_text": str(rng.choice(texts)), "parcel_weight_g": float(rng.normal(500, 60)),
            "delivered_at": delivered, "confirmed_at": delivered + int(rng.integers(24, 200)) * 3600,
            "status": "refunded" if rng.random() < 0.03 else "completed",
        }

    for _ in range(2000):
        rows.append(honest_order(str(rng.choice(honest)), T0 + int(rng.integers(0, 60 * DAY))))
    for fam in FAMILY:
        for _ in range(6):
            rows.append(honest_order(fam, T0 + int(rng.integers(0, 60 * DAY))))
    for stn in STATION:
        rows.append(honest_order(stn, T0 + int(rng.integers(0, 60 * DAY))))
    for r in range(8 + extra_rounds):
        start = T0 + (3 + 7 * r) * DAY + int(rng.integers(0, 8 * 3600))
        for buyer in ring:
            t = start + int(rng.integers(0, 1800))
            rows.append({
                "buyer_id": buyer, "seller_id": TARGET, "created_at": t, "item_id": f"{TARGET}-i0", "item_price": 99.0,
                "amount": 1.0, "chat_messages": 0, "rating": 5, "review_text": "宝贝非常好，五星好评！",
                "parcel_weight_g": 15.0, "delivered_at": t + DAY, "confirmed_at": t + DAY + 1200, "status": "completed",
            })
    rows.sort(key=lambda r: (r["created_at"], r["buyer_id"]))
    device = {b: "dev-ring" for b in ring} | {f: "dev-family-laptop" for f in FAMILY}
    for i, r in enumerate(rows):
        r["order_id"] = f"o{i:06d}"
        r["quantity"] = 1
        r["tracking_no"] = r["waybill_key"] = f"YT{seed:02d}{i:09d}"
        r["device_key"] = r["device_id"] = device.get(r["buyer_id"], f"dev-{r['buyer_id']}")
        if r["buyer_id"] in ring:
            r["payment_key"] = r["payment_account"] = "pay-ring"
        if r["buyer_id"] in STATION:
            r["address_key"] = r["ship_address"] = "campus parcel station"
        for col in ("created_at", "delivered_at", "confirmed_at"):
            r[col] = datetime.fromtimestamp(r[col], UTC)
    orders = pa.Table.from_pylist([{n: r.get(n) for n in ORDER_SCHEMA.names} for r in rows], schema=ORDER_SCHEMA)
    buyer_rows = []
    for b in sorted({r["buyer_id"] for r in rows}):
        young = b in ring
        buyer_rows.append({
            "buyer_id": b,
            "registered_at": datetime.fromtimestamp(T0 - (5 if young else 400 + int(rng.integers(0, 900))) * DAY, UTC),
            "credit_level": 1 if young else int(rng.integers(3, 9)),
            "real_name_verified": not young,
        })
    buyers = pa.Table.from_pylist([{n: r.get(n) for n in BUYER_SCHEMA.names} for r in buyer_rows], schema=BUYER_SCHEMA)
    return orders, buyers


def identifiers_of(orders: pa.Table) -> pa.Table:
    """The buyer_identifiers projection (buyer_id, kind, key) of these orders."""
    frame = orders.select(["buyer_id", "device_key", "payment_key", "address_key"]).to_pandas()
    parts = []
    for kind, col in (("device", "device_key"), ("payment", "payment_key"), ("address", "address_key")):
        part = frame[["buyer_id", col]].dropna().drop_duplicates().rename(columns={col: "key"})
        parts.append(part.assign(kind=kind))
    import pandas as pd

    return pa.Table.from_pandas(pd.concat(parts)[["buyer_id", "kind", "key"]], preserve_index=False)


@pytest.fixture(scope="module")
def market():
    orders, buyers = planted_market()
    return prepare(orders, buyers=buyers, identifiers=identifiers_of(orders))


def _score_of(pop, buyers: list[str], method: str = "identity", n_tested: int = 50) -> tuple[float, object]:
    ev = evaluate(pop, [Ring(sorted(buyers), methods=[method], strengths={method: 0.9})], n_tested=n_tested)
    return (float(ev.scores[0]) if len(ev.scores) else 0.0), ev


def test_one_line_of_evidence_never_flags_two_strong_lines_do():
    single = np.eye(len(LINES))
    assert combine_lines(single).max() < 0.5
    two = np.zeros((1, len(LINES)))
    two[0, :2] = 1.0
    assert combine_lines(two)[0] >= 0.8
    assert combine_lines(np.ones((1, len(LINES))))[0] == pytest.approx(1.0)


def test_surprise_grows_with_the_evidence_and_the_threshold_with_the_tests():
    s = poisson_surprise(np.array([2.0, 10.0, 40.0]), np.array([2.0, 2.0, 2.0]))
    assert s[0] == 0 and 0 < s[1] < s[2]
    assert z_threshold(10) < z_threshold(10_000) < z_threshold(10_000_000)


def test_signals_follow_the_columns_that_are_filled(market):
    orders, _ = planted_market()
    thin = prepare(orders.select(["order_id", "buyer_id", "seller_id", "created_at"]))
    assert thin.available == ("target_concentration", "shared_targets", "lockstep")
    assert set(market.available) >= {"silent_orders", "five_star_reviews", "off_price_orders", "empty_parcels",
                                     "fast_confirmation", "shared_identifiers", "account_age", "low_credit"}
    assert set(market.available) <= {s.name for s in SIGNALS}


def test_planted_ring_scores_above_the_background(market):
    ring_score, ev = _score_of(market, RING)
    assert ring_score >= 0.5
    assert ev.types == ["brushing"]
    assert ev.targets == [[TARGET]]
    # Random honest buyers of the same number score nothing.
    rng = np.random.default_rng(3)
    for _ in range(5):
        honest = list(rng.choice([f"b{k:03d}" for k in range(400)], size=5, replace=False))
        assert _score_of(market, honest)[0] < ring_score
        assert _score_of(market, honest)[0] < 0.5


def test_every_number_is_explained_in_plain_language(market):
    _, ev = _score_of(market, RING)
    rows = ev.signals[ev.signals["ring"] == 0]
    top = rows[rows["signal"].isin(ev.top_signals[0])]
    assert len(top) == len(ev.top_signals[0]) > 0
    for _, row in top.iterrows():
        assert any(ch.isdigit() for ch in row["explanation"]), row["explanation"]
        assert 0 <= row["strength"] <= 1 and 0 <= row["weight"] <= 1
    assert rows["weight"].sum() == pytest.approx(1.0, abs=1e-3)
    assert "5 accounts" in ev.summaries[0]


def test_household_sharing_a_laptop_stays_below_half(market):
    assert _score_of(market, FAMILY)[0] < 0.5


def test_parcel_station_crowd_stays_below_half(market):
    assert _score_of(market, STATION)[0] < 0.5


def test_what_linked_pairs_do_together_counts_beyond_their_links_a_household_does_not():
    """Ten accounts ordering in lockstep: as one household (one device) the link explains their
    timing; as five pairs sharing rotated devices it explains only part of it."""
    ring = [f"pool{i}" for i in range(10)]
    orders, buyers = planted_market(ring=ring)
    others = identifiers_of(orders).to_pandas()
    others = others[~others["buyer_id"].isin(ring)]

    def lines_with(keys: list[str]):
        mine = pd.DataFrame({"buyer_id": ring, "kind": "device", "key": keys})
        idents = pa.Table.from_pandas(pd.concat([others, mine], ignore_index=True), preserve_index=False)
        pop = prepare(orders, buyers=buyers, identifiers=idents)
        ev = evaluate(pop, [Ring(sorted(ring), methods=["identity"], strengths={"identity": 0.9})], n_tested=50)
        return ev.lines.iloc[0]

    household = lines_with(["one-laptop"] * 10)
    pairs = lines_with([f"phone-{i // 2}" for i in range(10)])
    assert household["linkage"] == pytest.approx(pairs["linkage"], abs=0.05)
    assert household["lockstep"] < 0.2 < pairs["lockstep"]


def test_members_attached_only_by_identifiers_are_trimmed(market):
    """A household member that shares the ring's device but never ordered from its target is no ring member."""
    orders, buyers = planted_market()
    frame = orders.to_pandas()
    frame.loc[frame["buyer_id"] == "fam0", "device_key"] = "dev-ring"
    moved = pa.Table.from_pandas(frame, schema=ORDER_SCHEMA, preserve_index=False)
    pop = prepare(moved, buyers=buyers, identifiers=identifiers_of(moved))
    screened = screen(pop, [Ring(sorted(RING + ["fam0"]), methods=["identity"], strengths={"identity": 0.9})])
    assert [r.buyers for r in screened.rings] == [sorted(RING)]


def test_an_outsider_using_the_rings_device_is_named_with_the_identifiers_share():
    """A household member on the ring's device who never ordered from the target is no member,
    but is listed as a user of the ring's binding identifier (for the outsiders' ranking)."""
    orders, buyers = planted_market()
    frame = orders.to_pandas()
    frame.loc[frame["buyer_id"] == "fam0", "device_key"] = "dev-ring"
    moved = pa.Table.from_pandas(frame, schema=ORDER_SCHEMA, preserve_index=False)
    pop = prepare(moved, buyers=buyers, identifiers=identifiers_of(moved))
    ev = evaluate(pop, [Ring(sorted(RING), methods=["identity"], strengths={"identity": 0.9})], n_tested=50)
    near = binding_users(pop, ev)
    assert near["buyer_id"].tolist() == ["fam0"]
    assert near["share"].iloc[0] == pytest.approx(5 / 6, abs=1e-6)


def test_score_does_not_depend_on_how_many_honest_orders_surround_the_ring():
    """The same ring in a market twice as large keeps (about) the same score: no raw sums."""
    small, buyers = planted_market(seed=0)
    big_orders, big_buyers = planted_market(seed=0)
    extra, extra_buyers = planted_market(seed=7, ring=[])
    frame = extra.to_pandas()
    frame["order_id"] = "x" + frame["order_id"]
    frame["buyer_id"] = "x" + frame["buyer_id"]
    frame["waybill_key"] = "x" + frame["waybill_key"]
    bigger = pa.concat_tables([big_orders, pa.Table.from_pandas(frame, schema=ORDER_SCHEMA, preserve_index=False)])
    b2 = extra_buyers.to_pandas()
    b2["buyer_id"] = "x" + b2["buyer_id"]
    all_buyers = pa.concat_tables([big_buyers, pa.Table.from_pandas(b2, schema=BUYER_SCHEMA, preserve_index=False)])
    s_small = _score_of(prepare(small, buyers=buyers, identifiers=identifiers_of(small)), RING)[0]
    s_big = _score_of(prepare(bigger, buyers=all_buyers, identifiers=identifiers_of(bigger)), RING)[0]
    assert s_small >= 0.5 and s_big >= 0.5
    assert abs(s_small - s_big) <= 0.1


def _regulars_market(linked: int, *, heavy: int = 0):
    """The planted market plus a small new shop with 12 returning customers (3 ordinary orders
    each over weeks: no lockstep, no fake-looking behaviour). The first ``linked`` of them
    share devices two by two; ``heavy`` more unlinked regulars order there 12 times each."""
    orders, buyers = planted_market()
    frame = orders.to_pandas()
    template = frame[frame["seller_id"] == "s00"].iloc[0]
    regulars = [f"reg{i:02d}" for i in range(12)] + [f"heavy{i}" for i in range(heavy)]
    rows = []
    for k, b in enumerate(regulars):
        for j in range(12 if b.startswith("heavy") else 3):
            r = template.copy()
            t = pd.Timestamp(T0 + (2 + 17 * j + 3 * k % 13) * DAY + 3600 * k, unit="s", tz="UTC")
            r["order_id"], r["buyer_id"], r["seller_id"], r["created_at"] = f"x{k:02d}{j:02d}", b, "s_small", t
            r["delivered_at"], r["confirmed_at"] = t + pd.Timedelta(days=2), t + pd.Timedelta(days=5)
            r["item_id"], r["rating"], r["chat_messages"] = f"s_small-i{j % 2}", 5 if j % 3 else 4, j % 2
            r["waybill_key"] = r["tracking_no"] = f"W{k:03d}{j:02d}"
            r["device_key"] = r["device_id"] = f"dev-pair{k // 2}" if k < linked else f"dev-{b}"
            rows.append(r)
    more = pd.DataFrame(rows)
    table = pa.Table.from_pandas(pd.concat([frame, more], ignore_index=True), schema=ORDER_SCHEMA, preserve_index=False)
    old = datetime.fromtimestamp(T0 - 700 * DAY, UTC)
    extra = pa.Table.from_pylist([{"buyer_id": b, "registered_at": old, "credit_level": 6, "real_name_verified": True}
                                  for b in regulars], schema=BUYER_SCHEMA)
    people = pa.concat_tables([buyers, extra])
    return prepare(table, buyers=people, identifiers=identifiers_of(table)), regulars


def _signal(ev, name: str) -> float:
    rows = ev.signals[(ev.signals["ring"] == 0) & (ev.signals["signal"] == name)]
    return float(rows["strength"].iloc[0]) if len(rows) else 0.0


def test_many_separately_linked_customers_of_one_shop_are_linkage_evidence():
    """Eight of a small shop's twelve regulars sharing devices two by two is beyond what the
    same shops' other customers show; the same regulars without shared devices show nothing."""
    pop, regulars = _regulars_market(linked=8)
    ring = [Ring(regulars, methods=["shop"], strengths={"shop": 0.7})]
    ev = evaluate(pop, ring, n_tested=50, min_score=0.0)
    assert _signal(ev, "linked_members") >= 0.5
    text = ev.signals[ev.signals["signal"] == "linked_members"]["explanation"].iloc[0]
    assert "67% of the ring's 12 members" in text
    # Pairs linked two by two are no household: the link explains none of their shared shop.
    assert ev.lines["linkage"].iloc[0] > _signal(ev, "shared_identifiers")
    honest, regulars = _regulars_market(linked=0)
    ev = evaluate(honest, [Ring(regulars, methods=["shop"], strengths={"shop": 0.7})], n_tested=50)
    assert _signal(ev, "linked_members") == 0.0
    assert not len(ev.scores) or ev.scores[0] < 0.5


def test_the_shops_heavy_regulars_are_trimmed_from_a_ring_of_linked_accounts():
    """A ring whose case is its linked accounts (no fake-looking orders) keeps its linked members
    and drops the unlinked regulars who order far more often than any of them."""
    pop, regulars = _regulars_market(linked=8, heavy=2)
    ev = evaluate(pop, [Ring(regulars, methods=["shop"], strengths={"shop": 0.7})], n_tested=50, min_score=0.0)
    assert _signal(ev, "linked_members") >= 0.5
    [ring] = trim_to_evidence(pop, ev)
    assert "heavy0" not in ring.buyers and "heavy1" not in ring.buyers
    assert set(regulars[:8]) <= set(ring.buyers)


def test_a_few_members_meeting_at_one_small_shop_beyond_chance_make_it_a_target():
    """Five of twelve linked accounts each order once from a shop that only a handful of others
    use: that shop is the ring's target (not most members, not most of its orders), and the
    members who never ordered there are trimmed."""
    orders, buyers = planted_market()
    frame = orders.to_pandas()
    template = frame[frame["seller_id"] == "s00"].iloc[0]
    attackers, bystanders = [f"b{k:03d}" for k in range(5)], [f"b{k:03d}" for k in range(5, 12)]
    rows = []
    for k, b in enumerate(attackers + [f"b{k:03d}" for k in range(300, 305)] * 2):
        r = template.copy()
        t = pd.Timestamp(T0 + (5 + 3 * k) * DAY, unit="s", tz="UTC")
        r["order_id"], r["buyer_id"], r["seller_id"], r["created_at"] = f"y{k:03d}", b, "s_victim", t
        r["waybill_key"] = r["tracking_no"] = f"V{k:04d}"
        rows.append(r)
    table = pa.Table.from_pandas(pd.concat([frame, pd.DataFrame(rows)], ignore_index=True), schema=ORDER_SCHEMA,
                                 preserve_index=False)
    pop = prepare(table, buyers=buyers, identifiers=identifiers_of(table))
    screened = screen(pop, [Ring(sorted(attackers + bystanders), methods=["identity"], strengths={"identity": 0.9})])
    assert screened.targets == [["s_victim"]] or not screened.rings
    if screened.rings:
        assert screened.rings[0].buyers == sorted(attackers)


def test_a_ring_the_trim_cuts_to_a_weaker_minority_stays_whole_only_on_two_kinds_of_abuse(market):
    """When the per-member trim would leave a ring's minority that scores lower than the whole,
    the test lacked power (accounts with an order or two): the ring stays whole if it shows two
    or more kinds of strong abuse. A ring with one kind (a group buy's silent orders) is cut, and
    so is a ring the trim leaves mostly intact or whose rest scores as high."""
    whole = evaluate(market, [Ring(sorted(RING), methods=["identity"], strengths={"identity": 0.9})], n_tested=50)
    minority = [Ring(sorted(RING[:2]), methods=["identity"], strengths={"identity": 0.9})]
    after = evaluate(market, minority, n_tested=50, min_score=0.0)
    assert after.scores[0] < whole.scores[0]
    assert [r.buyers for r in keep_underpowered_whole(whole, minority, after)] == [sorted(RING)]
    # The rest making the case as well as the whole did: the cut members added nothing.
    as_strong = dataclasses.replace(after, scores=whole.scores.copy())
    assert keep_underpowered_whole(whole, minority, as_strong) == minority

    behaviour = whole.signals["signal"].isin([s.name for s in SIGNALS if s.line == "behaviour"])
    one_kind = whole.signals.assign(strength=whole.signals["strength"].where(
        ~behaviour | (whole.signals["signal"] == "silent_orders"), 0.0))
    silent_only = dataclasses.replace(whole, signals=one_kind)
    assert keep_underpowered_whole(silent_only, minority, after) == minority

    majority = [Ring(sorted(RING[:3]), methods=["identity"], strengths={"identity": 0.9})]
    after = evaluate(market, majority, n_tested=50, min_score=0.0)
    assert keep_underpowered_whole(whole, majority, after) == majority


def test_prepare_refuses_an_empty_store():
    with pytest.raises(EmptyGraphError, match="ingest"):
        prepare(ORDER_SCHEMA.empty_table())


def _with_group(rows_of, buyers_of=None, ident_rows=None):
    """The planted market plus the orders ``rows_of(rng)`` returns (dicts of ORDER_SCHEMA fields,
    epoch-second times), with their buyers registered long ago and optional identifier rows."""
    orders, buyers = planted_market()
    rng = np.random.default_rng(11)
    extra = rows_of(rng)
    n0 = orders.num_rows
    for i, r in enumerate(extra):
        r.setdefault("order_id", f"x{n0 + i:06d}")
        r.setdefault("quantity", 1)
        r.setdefault("status", "completed")
        if "tracking_no" not in r:
            r["tracking_no"] = r["waybill_key"] = f"GX{i:09d}"
        for col in ("created_at", "delivered_at", "confirmed_at"):
            if r.get(col) is not None:
                r[col] = datetime.fromtimestamp(r[col], UTC)
    more = pa.Table.from_pylist([{n: r.get(n) for n in ORDER_SCHEMA.names} for r in extra], schema=ORDER_SCHEMA)
    orders = pa.concat_tables([orders, more])
    new = sorted({r["buyer_id"] for r in extra})
    old = pa.Table.from_pylist([{
        "buyer_id": b, "registered_at": datetime.fromtimestamp(T0 - 700 * DAY, UTC), "credit_level": 6,
        "real_name_verified": True} for b in new], schema=BUYER_SCHEMA)
    idents = identifiers_of(orders)
    if ident_rows:
        idents = pa.concat_tables([idents, pa.Table.from_pylist(ident_rows, schema=idents.schema)])
    return prepare(orders, buyers=pa.concat_tables([buyers, old]), identifiers=idents), new


def _honest_fields(rng, t: int, item: str, price: float = 40.0) -> dict:
    delivered = t + int(rng.integers(1, 4)) * DAY
    return {
        "item_id": item, "item_price": price, "amount": price, "chat_messages": int(rng.integers(0, 2) * rng.integers(1, 6)),
        "rating": int(rng.choice([5, 4, 3, 2, 1], p=[0.7, 0.18, 0.06, 0.03, 0.03])), "review_text": "好评",
        "parcel_weight_g": float(rng.normal(500, 60)),
        "delivered_at": delivered, "confirmed_at": delivered + int(rng.integers(24, 200)) * 3600,
    }


def test_a_stock_phrase_thousands_write_is_no_template_and_loyal_regulars_stay_below_half():
    """Fifteen regulars re-order their favourite item from one shop for weeks and rate it with the
    stock phrase many honest buyers write: neither the phrase nor the habit makes them a ring."""
    shop = "s_regular_shop"

    def rows(rng):
        out = []
        for k in range(15):
            for _ in range(6):
                t = T0 + int(rng.integers(0, 60 * DAY))
                out.append({"buyer_id": f"reg{k:02d}", "seller_id": shop, "created_at": t,
                            **_honest_fields(rng, t, f"{shop}-i0")})
        # the shop's one-time customers
        for k in range(30):
            t = T0 + int(rng.integers(0, 60 * DAY))
            out.append({"buyer_id": f"once{k:02d}", "seller_id": shop, "created_at": t,
                        **_honest_fields(rng, t, f"{shop}-i{k % 3}")})
        return out

    pop, _ = _with_group(rows)
    regulars = [f"reg{k:02d}" for k in range(15)]
    score, ev = _score_of(pop, regulars, method="shop")
    assert score < 0.5
    if len(ev.scores):
        templated = ev.signals[ev.signals["signal"] == "templated_reviews"]
        assert (templated["strength"] == 0).all()
        assert (templated["value"] < 0.1).all()
    # The planted ring's own text, written by no one else, is a template; the same ring writing the
    # stock phrase instead shows none (the phrase says nothing about one author behind the accounts).
    _, ring_ev = _score_of(pop, RING)
    templated = ring_ev.signals[ring_ev.signals["signal"] == "templated_reviews"]
    assert templated["value"].iloc[0] == pytest.approx(1.0) and templated["strength"].iloc[0] > 0
    orders, buyers = planted_market()
    frame = orders.to_pandas()
    frame.loc[frame["buyer_id"].isin(RING), "review_text"] = "好评"
    stock = pa.Table.from_pandas(frame, schema=ORDER_SCHEMA, preserve_index=False)
    _, stock_ev = _score_of(prepare(stock, buyers=buyers, identifiers=identifiers_of(stock)), RING)
    templated = stock_ev.signals[stock_ev.signals["signal"] == "templated_reviews"]
    assert templated["value"].iloc[0] < 0.1 and templated["strength"].iloc[0] == 0


def test_a_companys_gift_order_in_one_afternoon_stays_below_half():
    """Five HR accounts on one office computer send sixty gifts from one shop in one afternoon,
    without chat: one sitting each is one decision, not sixty silent orders."""
    shop = "s_gift_shop"
    hr = [f"hr{k}" for k in range(5)]

    def rows(rng):
        out = []
        start = T0 + 20 * DAY + 14 * 3600
        for b in hr:
            for _ in range(12):
                t = start + int(rng.integers(0, 3 * 3600))
                out.append({"buyer_id": b, "seller_id": shop, "created_at": t,
                            **_honest_fields(rng, t, f"{shop}-gift", 88.0), "chat_messages": 0})
        for k in range(40):  # the shop's ordinary customers
            t = T0 + int(rng.integers(0, 60 * DAY))
            out.append({"buyer_id": f"gc{k:02d}", "seller_id": shop, "created_at": t,
                        **_honest_fields(rng, t, f"{shop}-i{k % 3}")})
        return out

    office = [{"buyer_id": b, "kind": "device", "key": "office-pc"} for b in hr]
    pop, _ = _with_group(rows, ident_rows=office)
    assert _score_of(pop, hr)[0] < 0.5


def test_neighbours_of_a_weekly_group_buy_sharing_a_pickup_point_stay_below_half():
    """Twenty neighbours order from one food shop within an hour of each other every week and
    collect at one pickup point: the place explains their timing, as a household's address does."""
    shop = "s_food_shop"
    group = [f"nb{k:02d}" for k in range(20)]

    def rows(rng):
        out = []
        for week in range(8):
            start = T0 + (2 + 7 * week) * DAY + 10 * 3600
            for b in group:
                t = start + int(rng.integers(0, 3600))
                out.append({"buyer_id": b, "seller_id": shop, "created_at": t,
                            **_honest_fields(rng, t, f"{shop}-veg{week % 2}", 15.0)})
        return out

    pickup = [{"buyer_id": b, "kind": "address", "key": "pickup point, building 3"} for b in group]
    pop, _ = _with_group(rows, ident_rows=pickup)
    assert _score_of(pop, group, method="synchrony")[0] < 0.5


def test_a_virtual_shops_orders_are_judged_by_that_shops_norm_not_by_a_physical_shops():
    """A family sharing a computer tops up game credit at a virtual-goods shop (no shop there ever
    ships a waybill) and buys at a physical shop: no waybill on the top-ups is that shop's norm."""
    family = ["vf0", "vf1", "vf2"]
    virtual, physical = "s_game_credit", "s_toy_shop"

    def rows(rng):
        out = []
        for b in family:
            for _ in range(6):
                t = T0 + int(rng.integers(0, 60 * DAY))
                out.append({"buyer_id": b, "seller_id": virtual, "created_at": t, "tracking_no": None,
                            "waybill_key": None, **_honest_fields(rng, t, f"{virtual}-i0"), "parcel_weight_g": None})
            for _ in range(4):
                t = T0 + int(rng.integers(0, 60 * DAY))
                out.append({"buyer_id": b, "seller_id": physical, "created_at": t, **_honest_fields(rng, t, f"{physical}-i0")})
        for k in range(4):  # the virtual shop's other customers
            t = T0 + int(rng.integers(0, 60 * DAY))
            out.append({"buyer_id": f"vc{k}", "seller_id": virtual, "created_at": t, "tracking_no": None,
                        "waybill_key": None, **_honest_fields(rng, t, f"{virtual}-i0"), "parcel_weight_g": None})
        for k in range(60):  # the physical shop's other customers
            t = T0 + int(rng.integers(0, 60 * DAY))
            out.append({"buyer_id": f"pc{k:02d}", "seller_id": physical, "created_at": t,
                        **_honest_fields(rng, t, f"{physical}-i{k % 3}")})
        return out

    pc = [{"buyer_id": b, "kind": "device", "key": "family-pc"} for b in family]
    pop, _ = _with_group(rows, ident_rows=pc)
    score, ev = _score_of(pop, family)
    assert score < 0.5
    if len(ev.scores):
        waybill = ev.signals[ev.signals["signal"] == "missing_waybill"]
        assert (waybill["strength"] == 0).all()


def test_one_heavy_regular_does_not_set_a_small_shops_norm_for_repeat_purchases():
    """Twelve accounts sharing devices two by two each come back to a small shop for the item they
    bought before; its other customers order once, except one regular who re-orders his item
    thirty times. Each customer is one observation of the shop's norm: the regular's habit is not
    what its customers do, and the accounts' repeat buying is a second line beside their links."""
    shop = "s_small_brushed"

    def rows(rng):
        out = []
        for k in range(12):
            for j in range(3):
                t = T0 + (5 + 17 * j + k) * DAY
                out.append({"buyer_id": f"back{k:02d}", "seller_id": shop, "created_at": t,
                            **_honest_fields(rng, t, f"{shop}-i{min(j, 1)}")})
        for j in range(30):
            t = T0 + 2 * j * DAY + 3600
            out.append({"buyer_id": "heavy", "seller_id": shop, "created_at": t, **_honest_fields(rng, t, f"{shop}-i2")})
        for k in range(20):
            t = T0 + int(rng.integers(0, 60 * DAY))
            out.append({"buyer_id": f"once{k:02d}", "seller_id": shop, "created_at": t,
                        **_honest_fields(rng, t, f"{shop}-i{k % 3}")})
        return out

    back = [f"back{k:02d}" for k in range(12)]
    pop, _ = _with_group(rows, ident_rows=[{"buyer_id": b, "kind": "device", "key": f"pair{k // 2}"}
                                           for k, b in enumerate(back)])
    ev = evaluate(pop, [Ring(back, methods=["shop"], strengths={"shop": 0.7})], n_tested=50, min_score=0.0)
    text = ev.signals[ev.signals["signal"] == "repeat_purchases"]["explanation"].iloc[0]
    assert "33% of the ring's 36 orders" in text
    assert _signal(ev, "repeat_purchases") >= 0.5, text  # pooled by order, the regular's habit set the norm
    assert ev.scores[0] >= 0.5


def test_a_ring_whose_case_stands_without_its_one_behaviour_signal_is_not_cut_by_it():
    """The per-member test of one behaviour signal cut most of two rings, and what is left scores
    lower. Linked accounts returning to one shop (linkage and coordination strong besides a fast
    confirmation) stay whole; neighbours of a group buy (silent orders, nothing else) stay cut."""
    linked, buy = [f"l{i}" for i in range(10)], [f"g{i}" for i in range(10)]
    lines = pd.DataFrame([[0.9, 0.8, 0.0, 0.6, 0.0], [0.0, 0.1, 0.1, 0.9, 0.0]], columns=list(LINES))
    signals = pd.DataFrame({"ring": [0, 0, 0, 1], "signal": ["linked_members", "repeat_purchases", "fast_confirmation",
                                                           "silent_orders"], "strength": [0.9, 0.8, 0.6, 0.9],
                            "value": [0.8, 0.7, 1.5, 0.9]})
    whole = dataclasses.replace(Evidence.empty(), rings=[Ring(linked), Ring(buy)], scores=np.array([0.8, 0.3]),
                                lines=lines, signals=signals)
    trimmed = [Ring(linked[:3]), Ring(buy[:3])]
    after = dataclasses.replace(Evidence.empty(), index=np.array([0, 1]), scores=np.array([0.3, 0.2]))
    kept = keep_underpowered_whole(whole, trimmed, after)
    assert kept[0].buyers == linked and kept[1].buyers == buy[:3]
    # A flash-sale crowd of thousands: its linked quarter and its few repeat orders are strong
    # against the shops' other customers by sheer numbers, and are the minority the trim kept.
    crowd = dataclasses.replace(whole, signals=signals.assign(value=[0.24, 0.16, 1.5, 0.9]))
    assert keep_underpowered_whole(crowd, trimmed, after)[0].buyers == linked[:3]
    one_minority = dataclasses.replace(whole, signals=signals.assign(value=[0.8, 0.16, 1.5, 0.9]))
    assert keep_underpowered_whole(one_minority, trimmed, after)[0].buyers == linked[:3]


def test_households_converging_on_the_same_few_shops_count_beyond_their_links_one_household_does_not():
    """Six accounts each ordering once from two or three of the same three new shops: as three
    households (each two accounts share a device and an address) the links explain what each
    household does, not why the three meet at the same shops; as one household they explain it."""
    swappers = [f"swap{i}" for i in range(6)]
    orders, buyers = planted_market(ring=[])
    frame = orders.to_pandas()
    template = frame[frame["seller_id"] == "s00"].iloc[0]
    rows = []
    for k, b in enumerate(swappers):
        for j in range(3 if k % 2 else 2):
            r = template.copy()
            r["order_id"], r["buyer_id"], r["seller_id"] = f"w{k}{j}", b, f"swap_shop{(k + j) % 3}"
            r["created_at"] = pd.Timestamp(T0 + (4 + 9 * j + k) * DAY, unit="s", tz="UTC")
            r["waybill_key"] = r["tracking_no"] = f"W{k}{j}"
            rows.append(r)
    table = pa.Table.from_pandas(pd.concat([frame, pd.DataFrame(rows)], ignore_index=True), schema=ORDER_SCHEMA,
                                 preserve_index=False)
    others = identifiers_of(table).to_pandas()
    others = others[~others["buyer_id"].isin(swappers)]

    def coordination_with(unit_of):
        mine = pd.concat([pd.DataFrame({"buyer_id": swappers, "kind": kind, "key": [f"{kind}-{unit_of(i)}" for i in range(6)]})
                          for kind in ("device", "address")])
        idents = pa.Table.from_pandas(pd.concat([others, mine], ignore_index=True), preserve_index=False)
        pop = prepare(table, buyers=buyers, identifiers=idents)
        ev = evaluate(pop, [Ring(swappers, methods=["shop"], strengths={"shop": 0.9})], n_tested=50, min_score=0.0)
        return ev.lines["coordination"].iloc[0] if len(ev.scores) else 0.0

    assert coordination_with(lambda i: i // 2) >= 0.5
    assert coordination_with(lambda i: 0) < 0.2



def test_buyer_codes_are_each_ids_position_whether_few_or_many_are_asked():
    ids = [f"b-{i}" for i in range(0, 60, 2)] + ["z", "ä-1", "丁", "丁丁", "B", "b-010", "b-", "Z9"]
    orders = pa.table({
        "order_id": [f"o{i}" for i in range(len(ids))], "buyer_id": ids, "seller_id": ["s1"] * len(ids),
        "created_at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * len(ids), pa.timestamp("us", tz="UTC")),
    })
    pop = prepare(orders)
    asked = ["丁", "nobody", "b-10", "b-1", "", "zz", "ä-1", "b-"]
    expected = [list(pop.buyer_ids).index(b) if b in ids else -1 for b in asked]
    for few in (asked[:2], asked[2:4], asked[4:6], asked[6:]):  # binary search
        assert pop.buyer_codes(few).tolist() == [expected[asked.index(b)] for b in few]
    assert pop.buyer_codes(asked * 3).tolist() == expected * 3  # hash lookup

"""FRAUDAR dense blocks: planted blocks are found through camouflage, the compiled
peel agrees with a plain Python one, and the detector keeps its contract."""

from __future__ import annotations

import heapq
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from graph.detect.base import Candidate
from graph.detect.dense import Block, DenseBlockDetector, peel
from graph.errors import EmptyGraphError


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b)


def orders(seed, *, camouflage="none", n_rows=400, n_cols=200, block=(20, 8), fill=0.9):
    """Buyer x seller edges: Zipf-popular sellers, a planted block on obscure sellers.

    ``camouflage`` adds, per planted buyer, as many orders as it has in the
    block: ``"random"`` with any seller, ``"biased"`` with sellers drawn by
    popularity, ``"top"`` with the most popular tenth only (Hooi et al. 2016, sec. 5).
    """
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_cols + 1)
    popularity /= popularity.sum()
    src = [np.repeat(np.arange(n_rows), rng.poisson(3, n_rows) + 1)]
    dst = [rng.choice(n_cols, src[0].size, p=popularity)]
    rows = rng.choice(n_rows, block[0], replace=False)
    cols = rng.choice(np.arange(n_cols // 2, n_cols), block[1], replace=False)
    bs, bd = np.meshgrid(rows, cols, indexing="ij")
    inside = rng.random(bs.shape) < fill
    src.append(bs[inside])
    dst.append(bd[inside])
    camo_src = np.repeat(rows, block[1])
    camo_dst = {
        "none": camo_src[:0],
        "random": rng.integers(0, n_cols, camo_src.size),
        "biased": rng.choice(n_cols, camo_src.size, p=popularity),
        "top": rng.integers(0, n_cols // 10, camo_src.size),
    }[camouflage]
    src.append(camo_src[: camo_dst.size])
    dst.append(camo_dst)
    src, dst = np.concatenate(src), np.concatenate(dst)
    edges = pd.DataFrame({"buyer_id": [f"b{i:03d}" for i in src], "seller_id": [f"s{j:03d}" for j in dst]})
    return edges, {f"b{i:03d}" for i in rows}, {f"s{j:03d}" for j in cols}


def reference_peel(src, dst, n_rows, n_cols, w, min_rows=1):
    """Plain-Python greedy peeling (heapq with lazy deletion), same tie-breaking: (key, node)."""
    key, adj = {}, {}
    for r, c, x in zip(src.tolist(), dst.tolist(), w.tolist()):
        for a, b in ((r, n_rows + c), (n_rows + c, r)):
            key[a] = key.get(a, 0.0) + x
            adj.setdefault(a, []).append((b, x))
    alive, total = set(key), sum(w.tolist())
    rows_left = sum(v < n_rows for v in alive)
    best, best_set = (total / len(alive) if rows_left >= min_rows else -1.0), set(alive)
    heap = [(k, v) for v, k in key.items()]
    heapq.heapify(heap)
    while heap:
        k, v = heapq.heappop(heap)
        if v not in alive or k != key[v]:
            continue
        alive.discard(v)
        total -= k
        rows_left -= v < n_rows
        if rows_left == 0 or rows_left == len(alive):
            break
        for u, x in adj[v]:
            if u in alive:
                key[u] -= x
                heapq.heappush(heap, (key[u], u))
        if rows_left >= min_rows and total / len(alive) > best:
            best, best_set = total / len(alive), set(alive)
    f = sum(x for r, c, x in zip(src, dst, w) if r in best_set and n_rows + c in best_set)
    row_mask = np.array([v in best_set for v in range(n_rows)])
    col_mask = np.array([n_rows + j in best_set for j in range(n_cols)])
    return row_mask, col_mask, f / len(best_set)


def random_edges(rng, n_rows, n_cols, n_edges, *, unit):
    src = rng.integers(0, n_rows, n_edges)
    dst = rng.integers(0, n_cols, n_edges)
    w = np.ones(n_edges) if unit else rng.exponential(1.0, n_edges)
    return src, dst, w


@pytest.mark.parametrize("camouflage", ["none", "random", "biased", "top"])
def test_planted_block_is_found_through_camouflage(camouflage):
    for seed in range(3):
        edges, rows, cols = orders(seed, camouflage=camouflage)
        det = DenseBlockDetector(n_blocks=3, seed=seed).fit(edges)
        found = det.blocks_[0]
        assert jaccard(found.rows, rows) >= 0.9
        assert found.strength > 0.5 and found.strength == max(b.strength for b in det.blocks_)
        assert det.candidates_[0].details["lift"] > 3  # its sellers' orders come from it, not by chance
        others = det.scores_.drop(list(rows))
        assert (others < found.strength).mean() > 0.99
        if camouflage in ("none", "random", "biased"):
            assert jaccard(found.cols, cols) >= 0.5  # camouflage on the top sellers joins the block's columns


def test_column_weights_keep_loyal_customers_of_popular_shops_out():
    # 200 honest buyers each order from ~4 of the 10 most popular shops: dense
    # by edge count, but only because those shops are popular.
    rng = np.random.default_rng(7)
    n_rows, n_cols = 600, 300
    popularity = 1.0 / np.arange(1, n_cols + 1)
    src = np.repeat(np.arange(n_rows), rng.poisson(2, n_rows) + 1)
    dst = rng.choice(n_cols, src.size, p=popularity / popularity.sum())
    loyal = rng.choice(n_rows, 200, replace=False)
    ls, ld = np.meshgrid(loyal, np.arange(10), indexing="ij")
    pick = rng.random(ls.shape) < 0.4
    ring = rng.choice(np.setdiff1d(np.arange(n_rows), loyal), 15, replace=False)
    rs, rd = np.meshgrid(ring, rng.choice(np.arange(150, 300), 6, replace=False), indexing="ij")
    edges = pd.DataFrame(
        {
            "buyer_id": np.concatenate([src, ls[pick], rs.ravel()]),
            "seller_id": np.concatenate([dst, ld[pick], rd.ravel()]),
        }
    )
    weighted = DenseBlockDetector(n_blocks=1).fit(edges).blocks_[0]
    plain = DenseBlockDetector(n_blocks=1, column_weight=None).fit(edges).blocks_[0]
    assert jaccard(weighted.rows, ring) >= 0.9
    assert len(set(plain.rows) & set(loyal)) > len(plain.rows) / 2


def test_compiled_peel_matches_plain_python_peel():
    rng = np.random.default_rng(0)
    for trial in range(40):
        n_rows, n_cols = rng.integers(2, 30), rng.integers(2, 20)
        src, dst, w = random_edges(rng, n_rows, n_cols, rng.integers(1, 120), unit=trial % 2 == 0)
        min_rows = 1 + trial % 3
        rows, cols, density = peel(src, dst, n_rows, n_cols, w, min_rows=min_rows)
        ref_rows, ref_cols, ref_density = reference_peel(src, dst, n_rows, n_cols, w, min_rows)
        assert density == pytest.approx(ref_density, rel=1e-12)
        np.testing.assert_array_equal(rows, ref_rows)
        np.testing.assert_array_equal(cols, ref_cols)


def test_peel_is_within_half_of_the_densest_block():
    # FRAUDAR Theorem 1: g(greedy) >= g(optimum) / 2. Brute force on tiny graphs.
    rng = np.random.default_rng(1)
    for trial in range(30):
        n_rows, n_cols = rng.integers(1, 6), rng.integers(1, 5)
        src, dst, w = random_edges(rng, n_rows, n_cols, rng.integers(1, 12), unit=trial % 2 == 0)
        _, _, density = peel(src, dst, n_rows, n_cols, w)
        best = 0.0
        for mask in itertools.product([False, True], repeat=n_rows + n_cols):
            if any(mask):
                keep = np.array(mask)
                inside = keep[src] & keep[n_rows + dst]
                best = max(best, w[inside].sum() / keep.sum())
        assert best / 2 - 1e-12 <= density <= best + 1e-12


def test_detector_invariants_and_candidates():
    edges, _, _ = orders(3, camouflage="biased")
    edges.loc[len(edges)] = ["lonely", None]  # a buyer without a usable edge
    det = DenseBlockDetector(n_blocks=5, min_rows=3).fit(edges)
    buyers = set(edges["buyer_id"]) - {"lonely"}
    assert set(det.scores_.index) == buyers and det.scores_.index.is_unique
    assert det.scores_.between(0, 1).all()
    assert len(det.candidates_) == len(det.blocks_) >= 2
    pairs = set(zip(edges["buyer_id"], edges["seller_id"]))
    seen = set()
    for block, cand in zip(det.blocks_, det.candidates_):
        assert isinstance(block, Block) and isinstance(cand, Candidate)
        assert set(block.rows) <= buyers and set(block.cols) <= set(edges["seller_id"].dropna())
        assert len(block.rows) >= 3
        # Earlier blocks' edges left the graph: a block counts only those still there.
        inside = ({(r, c) for r in block.rows for c in block.cols} & pairs) - seen
        assert len(inside) == block.n_edges
        seen |= inside
        assert cand.method == "dense_block" and 0 <= cand.strength <= 1
        assert cand.buyers == sorted(block.rows) and cand.sellers == sorted(block.cols)
        assert cand.strength == block.strength
        assert cand.details["lift"] > 0 and 0 < cand.details["fill"] <= 1
    for buyer, score in det.scores_.items():
        assert score == max([b.strength for b in det.blocks_ if buyer in set(b.rows)], default=0.0)
    # The first block's density, recomputed from the definition: edges into
    # seller j weigh 1 / log(distinct buyers of j + 5), divided by |rows| + |cols|.
    first = det.blocks_[0]
    distinct = edges.dropna().drop_duplicates()
    degree = distinct["seller_id"].value_counts()
    inside = distinct[distinct["buyer_id"].isin(first.rows) & distinct["seller_id"].isin(first.cols)]
    f = (1.0 / np.log(degree[inside["seller_id"]].to_numpy() + 5.0)).sum()
    assert first.density == pytest.approx(f / (len(first.rows) + len(first.cols)))


def test_rows_removed_between_blocks_gives_disjoint_blocks():
    edges, _, _ = orders(4, camouflage="random")
    det = DenseBlockDetector(n_blocks=6, remove="rows").fit(edges)
    rows = [set(b.rows) for b in det.blocks_]
    assert len(rows) >= 3
    assert sum(map(len, rows)) == len(set().union(*rows))


def test_item_columns_are_not_reported_as_sellers():
    edges, _, _ = orders(5)
    edges = edges.rename(columns={"seller_id": "item_id"})
    det = DenseBlockDetector(n_blocks=2).fit(edges, col="item_id")
    assert det.candidates_[0].sellers == []
    assert det.candidates_[0].details["cols"] == sorted(det.blocks_[0].cols)


def test_repeat_orders_weigh_more_but_damped():
    # Two rings of the same shape; one places 6 orders per pair, the other one.
    pairs = [(f"a{i}", f"x{j}", 6) for i in range(4) for j in range(3)]
    pairs += [(f"b{i}", f"y{j}", 1) for i in range(4) for j in range(3)]
    pairs += [(f"h{i}", "z", 1) for i in range(10)]
    edges = pd.DataFrame(pairs, columns=["buyer_id", "seller_id", "n_orders"])
    det = DenseBlockDetector(n_blocks=2).fit(edges, weight="n_orders")
    assert set(det.blocks_[0].rows) == {f"a{i}" for i in range(4)}
    assert det.blocks_[0].density == pytest.approx(math.log2(7) * det.blocks_[1].density)
    # One line per order is the same as one line per pair with its count.
    per_order = edges.loc[edges.index.repeat(edges["n_orders"])].assign(n_orders=1)
    again = DenseBlockDetector(n_blocks=2).fit(per_order, weight="n_orders")
    assert [b.density for b in again.blocks_] == [b.density for b in det.blocks_]
    # Without a weight column repeated lines collapse to one edge.
    plain = DenseBlockDetector(n_blocks=2).fit(per_order)
    assert plain.blocks_[0].density == pytest.approx(det.blocks_[1].density)


def test_same_input_and_seed_same_result_whatever_the_line_order_or_threads():
    edges, _, _ = orders(6, camouflage="biased")
    a = DenseBlockDetector(n_blocks=4, n_jobs=1).fit(edges)
    b = DenseBlockDetector(n_blocks=4, n_jobs=2).fit(edges.sample(frac=1.0, random_state=1))
    pd.testing.assert_series_equal(a.scores_.sort_index(), b.scores_.sort_index())
    np.testing.assert_array_equal(a.null_densities_, b.null_densities_)
    assert [(list(x.rows), list(x.cols), x.density) for x in a.blocks_] == [
        (list(x.rows), list(x.cols), x.density) for x in b.blocks_
    ]
    assert a.candidates_ == b.candidates_


def test_a_clean_graph_has_no_strong_block():
    # Without a planted block the densest block is what chance makes.
    strengths = []
    for seed in range(10):
        edges, _, _ = orders(seed, block=(0, 0))
        det = DenseBlockDetector(n_blocks=3, seed=seed).fit(edges)
        strengths += [b.strength for b in det.blocks_]
    assert np.median(strengths) < 0.1 and max(strengths) < 0.5


def test_golden_tiny_case():
    # u1..u3 buy from A and B; u1 also from the popular P, like u4..u6; u6 also from C.
    edges = pd.DataFrame(
        [("u1", "A"), ("u1", "B"), ("u2", "A"), ("u2", "B"), ("u3", "A"), ("u3", "B"), ("u1", "P"),
         ("u4", "P"), ("u5", "P"), ("u6", "P"), ("u6", "C")],
        columns=["buyer_id", "seller_id"],
    )  # fmt: skip
    det = DenseBlockDetector(n_blocks=3, n_null=4).fit(edges)
    ring, rest = det.blocks_
    assert (list(ring.rows), list(ring.cols), ring.n_edges) == (["u1", "u2", "u3"], ["A", "B"], 6)
    assert ring.density == pytest.approx(6 / math.log(3 + 5) / 5)
    # Then the ring's edges are gone and P's star plus u6's C remain.
    assert (list(rest.rows), list(rest.cols), rest.n_edges) == (["u1", "u4", "u5", "u6"], ["C", "P"], 5)
    assert rest.density == pytest.approx((4 / math.log(4 + 5) + 1 / math.log(1 + 5)) / 6)
    assert list(det.scores_.index) == ["u1", "u2", "u3", "u4", "u5", "u6"]


def test_invalid_input_raises_typed_errors():
    with pytest.raises(EmptyGraphError):
        DenseBlockDetector().fit(pd.DataFrame({"buyer_id": [], "seller_id": []}))
    with pytest.raises(EmptyGraphError):
        DenseBlockDetector().fit(pd.DataFrame({"buyer_id": ["a", None], "seller_id": [None, "x"]}))
    edges = pd.DataFrame({"buyer_id": ["a"], "seller_id": ["x"], "n": [-1]})
    with pytest.raises(ValueError, match="non-negative"):
        DenseBlockDetector().fit(edges, weight="n")
    with pytest.raises(ValueError, match="no column"):
        DenseBlockDetector().fit(edges, col="item_id")
    for bad in ({"n_blocks": 0}, {"column_weight": "sqrt"}, {"remove": "cols"}, {"n_null": 1}, {"c": 0}):
        with pytest.raises(ValueError):
            DenseBlockDetector(**bad).fit(edges)
    with pytest.raises(ValueError):
        peel(np.array([0, 3]), np.array([0, 0]), 2, 1)
